"""JWT access tokens (RFC 9068): which audiences get one, its header and claims, and how
Gatehouse checks one presented back to it.

A JWT access token is signed with the published signing keys (oauth/keys.py), so resource
servers verify it through the JWKS and key rotation keeps working. Its `jti` is stored (as a
digest, like every secret) in the access_token table, so revocation and introspection answer
for it exactly as for an opaque token; only resource servers that verify locally miss a
revocation until the token expires.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import jwt

from models import Resource, User
from oauth import crypto, keys
from oauth.rules.id_token import PROTECTED_CLAIMS, epoch

JWT = "jwt"  # RFC 9068 access tokens; the other format is opaque (`gat_...`)
FORMATS = ("opaque", JWT)
TYP = "at+jwt"  # RFC 9068 §2.1: the `typ` header that tells access tokens from id_tokens
ACCEPTED_TYPS = ("at+jwt", "application/at+jwt")  # RFC 9068 §4 (case-insensitive, RFC 7515)
# Ours are ~1 kB; mock mode's extra claims (at most 8 KiB of JSON) can make one ~12 kB.
MAX_JWT_LENGTH = 16 * 1024
# Claims this profile sets itself (RFC 9068 §2.2); a user's extra claims never override them.
RESERVED_CLAIMS = PROTECTED_CLAIMS | {"client_id", "scope", "typ"}


def choose_format(audience: str, issuer: str, resource_format: str | None, default: str) -> str:
    """The format of a token for `audience`: the resource's own choice, else the global default.

    The built-in API (audience = the issuer) has no resource row and follows the default.
    """
    if audience != issuer and resource_format in FORMATS:
        return resource_format
    return default


def format_for(audience: str, issuer: str, default: str) -> str:
    """choose_format() with the resource's choice read from the database (one indexed read)."""
    if audience == issuer:
        return default
    row = Resource.by_uri(audience)
    return choose_format(audience, issuer, row.token_format if row else None, default)


def new_jti() -> str:
    """A fresh `jti`: random, and without a kind prefix, so it is never a bearer credential."""
    return secrets.token_urlsafe(24)


def jti_digest(jti: str) -> bytes:
    """What the access_token table stores for a JWT: a digest of its `jti` (never the JWT).

    The `jwt:` label keeps these apart from digests of opaque tokens.
    """
    return crypto.sha256("jwt:" + jti)


def claims(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    user: User | None,
    scopes: list[str],
    jti: str,
    issued_at: datetime,
    expires_at: datetime,
    auth_time: datetime | None,
) -> dict[str, Any]:
    """The claims of a JWT access token (RFC 9068 §2.2).

    `sub` is the user's, or for client_credentials the client's own id (§2.2: no resource
    owner, so the client is the subject). `auth_time` only when a person signed in (§2.2.1).
    A user's extra claims (set in mock mode) ride along but never replace these.
    """
    body: dict[str, Any] = {}
    if user is not None:
        body.update((k, v) for k, v in (user.claims or {}).items() if k not in RESERVED_CLAIMS)
    body.update(
        iss=issuer,
        sub=user.sub if user is not None else client_id,
        aud=audience,
        client_id=client_id,
        scope=" ".join(scopes),  # RFC 9068 §2.2.3, the RFC 8693 §4.2 space-separated string
        jti=jti,
        iat=epoch(issued_at),
        exp=epoch(expires_at),
    )
    if user is not None and auth_time is not None:
        body["auth_time"] = epoch(auth_time)
    return body


def sign(token_claims: dict[str, Any]) -> str:
    """The signed JWT: RS256 with the active key, header `typ: at+jwt` and `kid` (§2.1)."""
    return keys.sign(token_claims, typ=TYP)


def looks_like_jwt(token: str) -> bool:
    """Whether a presented token has a JWS compact shape worth verifying (cheap, no decoding)."""
    return len(token) <= MAX_JWT_LENGTH and token.startswith("eyJ") and token.count(".") == 2


def verified_claims(token: str, issuer: str) -> dict[str, Any] | None:
    """The claims of a JWT access token we signed and that is still valid, or None.

    RFC 9068 §4: `typ` must be at+jwt (so an id_token is never taken for an access token), the
    signature must verify with one of our published keys, `iss` must be ours and `exp` in the
    future. The audience is the stored token row's, compared by the caller.
    """
    if not looks_like_jwt(token):
        return None
    try:
        typ = jwt.get_unverified_header(token).get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPS:
            return None
        body = keys.verify(token, None, issuer, algs=(keys.ALG,))  # we sign them RS256
    except jwt.PyJWTError:
        return None
    if not isinstance(body.get("jti"), str) or not isinstance(body.get("exp"), int):
        return None
    return body
