"""Secrets: generation with a readable kind prefix, SHA-256 digests at rest, constant-time checks.

Every secret Gatehouse hands out looks like `<kind>_<43 url-safe chars>` (256 random bits), so
secret scanners can spot a leaked one and a person can tell what it is. Only the SHA-256
digest is stored: as 32 bytes for grant secrets (codes, device codes, access and refresh
tokens: `sha256`, `new_token`), as 64 hex characters for the other kinds (`sha256_hex`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Kind prefixes (part of the contract: scanners and people rely on them).
ACCESS_TOKEN = "gat"  # noqa: S105 - a prefix, not a secret
REFRESH_TOKEN = "grt"  # noqa: S105
AUTHORIZATION_CODE = "gac"
CLIENT_SECRET = "gcs"  # noqa: S105
DEVICE_CODE = "gdc"
REGISTRATION_TOKEN = "grg"  # noqa: S105
PERSONAL_TOKEN = "gpt"  # noqa: S105
INITIAL_ACCESS_TOKEN = "gia"  # noqa: S105
SESSION_ID = "gsi"


def new_client_id() -> str:
    """A public client identifier: 128 random bits as hex.

    Hex, not url-safe base64: an id starting with '-' would read as an option on the command
    line (`flask clients secret -x...`), and one starting with '_' looks like a typo.
    """
    return secrets.token_hex(16)


def sha256_hex(value: str) -> str:
    """The at-rest digest of a secret."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def sha256(value: str) -> bytes:
    """The at-rest digest of a grant secret: 32 bytes (the key of its table)."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def new_token(kind: str) -> tuple[str, bytes]:
    """A fresh grant secret of `kind` and its digest: (plaintext, 32-byte sha256)."""
    value = f"{kind}_{secrets.token_urlsafe(32)}"
    return value, sha256(value)


def new_secret(kind: str) -> tuple[str, str]:
    """A fresh secret of `kind` and its digest: (plaintext, sha256 hex)."""
    value = f"{kind}_{secrets.token_urlsafe(32)}"
    return value, sha256_hex(value)


def new_client_secret() -> tuple[str, str, str]:
    """A client secret as (plaintext, lookup prefix, digest).

    The format is `gcs_<prefix>_<secret>`: the prefix is public and indexed so the secret is
    found without comparing digests of every row; the digest is then compared in constant time.
    """
    prefix = secrets.token_hex(6)
    value = f"{CLIENT_SECRET}_{prefix}_{secrets.token_urlsafe(32)}"
    return value, prefix, sha256_hex(value)


def client_secret_prefix(value: str) -> str | None:
    """The lookup prefix of a presented client secret, or None if it is not one of ours."""
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != CLIENT_SECRET or len(parts[1]) != 12:
        return None
    return parts[1]


def has_kind(value: str, kind: str) -> bool:
    """Whether a presented secret carries the given kind prefix."""
    return value.startswith(kind + "_")


def matches(value: str, digest: str) -> bool:
    """Constant-time check of a presented secret against a stored digest."""
    return hmac.compare_digest(sha256_hex(value), digest)
