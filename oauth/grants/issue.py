"""Token issuance and refresh-token rotation (RFC 6749 §5.1, §6; OAuth 2.1 §4.3.1).

Tokens are opaque, random and kind-prefixed (`gat_`, `grt_`); only SHA-256 digests are stored.
An audience that wants JWT access tokens (RFC 9068, oauth/rules/jwt_access_token.py) gets a
signed JWT instead of `gat_...`, stored by the digest of its `jti`.
Every grant creates a TokenFamily; its access and refresh tokens hang off it and read their
client, user, audience and revocation from it, so one revocation reaches all of them. Callers
run these functions inside their own transaction. Rows are written with one fixed INSERT
each (oauth/store.py), nothing re-read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Config, current_app

from models import (
    AccessToken,
    Client,
    ClientSecret,
    RefreshToken,
    TokenFamily,
    User,
    by_id,
    utcnow,
)
from oauth import crypto, store
from oauth.constants import TOKEN_TYPE
from oauth.rules import id_token, jwt_access_token


class TokenResponse(dict):
    """A token response body (RFC 6749 §5.1); `.family` is the TokenFamily it belongs to."""

    family: TokenFamily


def app_config() -> Config:
    """The app's config through one proxy lookup: each attribute read through `current_app`
    is a lookup of its own (about 1.5 µs), and a grant reads several settings."""
    return current_app._get_current_object().config  # type: ignore[attr-defined]


def _seconds(config: Config, name: str) -> timedelta:
    return timedelta(seconds=int(config[name]))


def _user_row(user: User | int | None, needed: bool) -> User | int | None:
    """The user's row if `needed` (a JWT or an id_token carries its claims), else as given:
    a grant that has only the user's id reads the row only then."""
    return by_id(User, user) if needed and isinstance(user, int) else user


def _access_token(
    family: TokenFamily,
    client: Client,
    user: User | None,
    scopes: list[str],
    now: datetime,
    ttl: timedelta,
    token_format: str,
    issuer: str,
) -> tuple[str, int]:
    """A new access token in `family`: (plaintext, expires_in). Never outlives the family.

    Opaque (`gat_...`, its digest stored) or a JWT (RFC 9068) whose `jti` digest is stored
    instead: either way a row, so revocation reaches it.
    """
    expires_at = min(now + ttl, family.expires_at)
    if token_format == jwt_access_token.JWT:
        jti = jwt_access_token.new_jti()
        claims = jwt_access_token.claims(
            issuer=issuer,
            audience=family.audience,
            client_id=client.client_id,
            user=user,
            scopes=scopes,
            jti=jti,
            issued_at=now,
            expires_at=expires_at,
            auth_time=family.auth_time,
        )
        token, digest = jwt_access_token.sign(claims), jwt_access_token.jti_digest(jti)
    else:
        token, digest = crypto.new_token(crypto.ACCESS_TOKEN)
    store.new_token(AccessToken, digest, family.id, " ".join(scopes), now, expires_at)
    return token, max(0, int((expires_at - now).total_seconds()))


def _refresh_token(family: TokenFamily, scope: str, now: datetime, ttl: timedelta) -> str:
    """A new refresh token: idle lifetime `ttl`, capped by the family's absolute lifetime."""
    token, digest = crypto.new_token(crypto.REFRESH_TOKEN)
    expires_at = min(now + ttl, family.expires_at)
    store.new_token(RefreshToken, digest, family.id, scope, now, expires_at)
    return token


def _body(
    family: TokenFamily,
    client: Client,
    user: User | int | None,
    scopes: list[str],
    now: datetime,
    refresh_scope: str | None,
    nonce: str | None = None,
    access_ttl: timedelta | None = None,
    token_format: str | None = None,
) -> TokenResponse:
    config = app_config()
    ttl = access_ttl or _seconds(config, "ACCESS_TOKEN_TTL")
    issuer = config["ISSUER"]
    token_format = token_format or jwt_access_token.format_for(
        family.audience, issuer, config["ACCESS_TOKEN_FORMAT"]
    )
    wants_id_token = user is not None and "openid" in scopes
    user = _user_row(user, token_format == jwt_access_token.JWT or wants_id_token)
    access, expires_in = _access_token(family, client, user, scopes, now, ttl, token_format, issuer)
    body = TokenResponse(access_token=access, expires_in=expires_in, scope=" ".join(scopes))
    body["token_type"] = TOKEN_TYPE
    if refresh_scope is not None:
        refresh_ttl = _seconds(config, "REFRESH_TOKEN_TTL")
        body["refresh_token"] = _refresh_token(family, refresh_scope, now, refresh_ttl)
    if wants_id_token:
        body["id_token"] = id_token.id_token(
            user,
            client.client_id,
            scopes,
            issuer,
            int(config["ACCESS_TOKEN_TTL"]),
            nonce=nonce,
            auth_time=family.auth_time,
            access_token=access,
            alg=client.id_token_signed_response_alg,
        )
    body.family = family
    return body


def issue(
    client: Client,
    user: User | int | None,
    scopes: list[str],
    audience: str,
    grant_type: str,
    *,
    client_secret: ClientSecret | None = None,
    nonce: str | None = None,
    auth_time: datetime | None = None,
    refresh: bool = True,
    access_ttl: timedelta | None = None,
    token_format: str | None = None,
    family_id: int | None = None,
) -> TokenResponse:
    """Start a token family and return the token response body (call inside a transaction).

    `user` is the user's row, or only its id when the grant has not read the row: it is read
    only if a JWT access token or an id_token needs its claims. `family_id` is an id reserved
    for the family (a code's claim reserves one, oauth/store.py).

    `refresh=False` (client_credentials) issues no refresh token; the family then lives as long
    as its access token. An id_token is added when `openid` is granted and there is a user.
    `access_ttl` and `token_format` override the configured lifetime and the audience's
    format (the mock control API's minted tokens).
    """
    now = utcnow()
    config = app_config()
    if refresh:
        expires_at = now + _seconds(config, "REFRESH_TOKEN_ABSOLUTE_TTL")
    else:
        expires_at = now + (access_ttl or _seconds(config, "ACCESS_TOKEN_TTL"))
    scope = " ".join(scopes)
    family = store.new_family(
        family_id,
        client.id,
        user.id if isinstance(user, User) else user,
        client_secret.id if client_secret is not None else None,
        grant_type,
        scope,
        audience,
        nonce,
        auth_time,
        now,
        expires_at,
    )
    refresh_scope = scope if refresh else None
    return _body(
        family,
        client,
        user,
        scopes,
        now,
        refresh_scope,
        nonce=nonce,
        access_ttl=access_ttl,
        token_format=token_format,
    )


def rotate(
    old: RefreshToken,
    client: Client,
    scopes: list[str],
    *,
    client_secret: ClientSecret | None = None,
    now: datetime | None = None,
) -> TokenResponse:
    """Tokens for a refresh: a new refresh token replaces `old` (already marked rotated).

    `old.family` is loaded (oauth/store.py reads it with every refresh token).

    OAuth 2.1 §4.3.1: the new refresh token keeps the old one's scope; `scopes` (possibly
    narrower) applies to the new access token only. The id_token carries the original
    auth_time and no nonce (OIDC Core §12.2). The family follows the secret now in use, so
    deleting a retired secret does not take live tokens with it.
    """
    now = now or utcnow()
    family = old.family
    if client_secret is not None and family.client_secret_id != client_secret.id:
        family.client_secret = client_secret
        family.save(only=[TokenFamily.client_secret])
    return _body(family, client, family.user_id, scopes, now, old.scope)
