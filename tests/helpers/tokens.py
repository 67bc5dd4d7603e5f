"""Helpers for token-endpoint tests: authorization codes made directly, redemption, refresh."""

from __future__ import annotations

from datetime import datetime, timedelta

from models import AccessToken, AuthorizationCode, Client, TokenFamily, User, db, utcnow
from oauth import crypto
from tests.helpers import ISSUER
from tests.helpers.common import basic, pkce_pair

REDIRECT_URI = "http://127.0.0.1:9999/callback"


def make_code(
    client: Client,
    user: User,
    challenge: str,
    *,
    redirect_uri: str | None = REDIRECT_URI,
    scope: str = "openid profile email",
    resource: str | None = None,
    audience: str | None = None,
    nonce: str | None = None,
    expires_in: int = 300,
    auth_time: datetime | None = None,
) -> str:
    """An AuthorizationCode row as the authorize endpoint would store it; returns the code."""
    code, digest = crypto.new_token(crypto.AUTHORIZATION_CODE)
    now = utcnow()
    with db.connection_context():
        AuthorizationCode.create(
            code_hash=digest,
            client=client,
            user=user,
            redirect_uri=redirect_uri,
            scope=scope,
            resource=resource,
            audience=audience or resource or ISSUER,
            code_challenge=challenge,
            code_challenge_method="S256",
            nonce=nonce,
            auth_time=auth_time or now,
            created_at=now,
            expires_at=now + timedelta(seconds=expires_in),
        )
    return code


def live_access_tokens() -> int:
    """Access tokens that are neither revoked themselves nor in a revoked family."""
    with db.connection_context():
        return (
            AccessToken.select()
            .join(TokenFamily, on=TokenFamily.id == AccessToken.family_id)
            .where(AccessToken.revoked_at.is_null(), TokenFamily.revoked_at.is_null())
            .count()
        )


def auth(client: Client, secret: str | None) -> tuple[dict, dict]:
    """(headers, form fields) that authenticate `client` with its registered method."""
    method = client.token_endpoint_auth_method
    if method == "client_secret_basic":
        return basic(client.client_id, secret), {}
    if method == "client_secret_post":
        return {}, {"client_id": client.client_id, "client_secret": secret}
    return {}, {"client_id": client.client_id}


def redeem(http, client: Client, secret: str | None, code: str, verifier: str, /, **extra):
    """POST an authorization_code grant; `extra` adds or (with None) removes form fields."""
    headers, form = auth(client, secret)
    form.update(
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
        redirect_uri=REDIRECT_URI,
    )
    form.update(extra)
    form = {k: v for k, v in form.items() if v is not None}
    return http.post("/oauth2/token", data=form, headers=headers)


def tokens_for(http, client: Client, secret: str | None, user: User, **code_kwargs) -> dict:
    """A fresh token response via a code made directly (asserts success)."""
    verifier, challenge = pkce_pair()
    code = make_code(client, user, challenge, **code_kwargs)
    extra = {"resource": code_kwargs["resource"]} if code_kwargs.get("resource") else {}
    if "redirect_uri" in code_kwargs:
        extra["redirect_uri"] = code_kwargs["redirect_uri"]
    response = redeem(http, client, secret, code, verifier, **extra)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(http, client: Client, secret: str | None, refresh_token: str, /, **extra):
    """POST a refresh_token grant."""
    headers, form = auth(client, secret)
    form.update(grant_type="refresh_token", refresh_token=refresh_token, **extra)
    return http.post("/oauth2/token", data=form, headers=headers)


def client_credentials(http, client: Client, secret: str | None, /, **form):
    """POST a client_credentials grant, authenticating with Basic."""
    return http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(client.client_id, secret),
    )
