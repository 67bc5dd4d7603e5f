"""PKCE (RFC 7636): only S256, challenge and verifier shapes checked by full match."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# §4.2: S256 challenge = BASE64URL(SHA256(verifier)), 32 bytes -> exactly 43 chars, no padding.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# §4.1: code_verifier = 43*128unreserved
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def valid_challenge(challenge: str | None) -> bool:
    return challenge is not None and _CHALLENGE.fullmatch(challenge) is not None


def valid_verifier(verifier: str | None) -> bool:
    return verifier is not None and _VERIFIER.fullmatch(verifier) is not None


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(verifier: str | None, challenge: str) -> bool:
    """Whether `verifier` is well formed and hashes to `challenge` (RFC 7636 §4.6)."""
    if not valid_verifier(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
