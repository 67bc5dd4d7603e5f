"""OpenID Connect claims by scope (OIDC Core §5.4) and id_token assembly (§2, §3.1.3.6)."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

from models import User, utcnow
from oauth import keys

# Claims each scope releases (OIDC Core §5.4), limited to what Gatehouse stores.
SCOPE_CLAIMS = {
    "profile": ("name", "preferred_username", "updated_at"),
    "email": ("email", "email_verified"),
}
# Registered claim names a user's extra (mock) claims may never override.
PROTECTED_CLAIMS = {
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "at_hash",
    "jti",
    "acr",
    "amr",
}


def epoch(value: datetime) -> int:
    """Seconds since the epoch for a naive UTC datetime."""
    return calendar.timegm(value.utctimetuple())


def user_claims(user: User, scopes: list[str]) -> dict[str, Any]:
    """`sub` plus the claims the granted scopes release, plus the user's extra claims."""
    values = {
        "name": user.name or user.username,
        "preferred_username": user.username,
        "updated_at": epoch(user.updated_at),
        "email": user.email,
        "email_verified": bool(user.email_verified),
    }
    claims: dict[str, Any] = {"sub": user.sub}
    for scope in scopes:
        for name in SCOPE_CLAIMS.get(scope, ()):
            if values[name] is not None:
                claims[name] = values[name]
    for name, value in (user.claims or {}).items():
        if name not in PROTECTED_CLAIMS:
            claims[name] = value
    return claims


def id_token(
    user: User,
    client_id: str,
    scopes: list[str],
    issuer: str,
    ttl: int,
    nonce: str | None = None,
    auth_time: datetime | None = None,
    access_token: str | None = None,
    alg: str = keys.ALG,
) -> str:
    """A signed id_token for `user` and `client_id`: `alg` is the client's
    id_token_signed_response_alg (OIDC Registration §2), the header names the key's `kid`."""
    now = utcnow()
    claims = user_claims(user, scopes)
    claims.update(
        iss=issuer,
        aud=client_id,
        azp=client_id,
        iat=epoch(now),
        exp=epoch(now) + ttl,
        auth_time=epoch(auth_time or now),
    )
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = keys.at_hash(access_token)
    return keys.sign(claims, alg=alg)
