"""OIDC UserInfo (OIDC Core §5.3): claims by scope, Bearer rules (RFC 6750)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import AccessToken, TokenFamily, db, utcnow
from oauth import crypto
from tests.helpers import ISSUER


def mint(client_row, user, scope: str, audience: str = ISSUER, expires_in: int = 600) -> str:
    """Store a live access token for `user` and return its plaintext."""
    token, digest = crypto.new_token(crypto.ACCESS_TOKEN)
    with db.connection_context():
        family = TokenFamily.create(
            client=client_row,
            user=user,
            grant_type="authorization_code",
            scope=scope,
            audience=audience,
            expires_at=utcnow() + timedelta(days=1),
        )
        AccessToken.create(
            token_hash=digest,
            family_id=family.id,
            scope=scope,
            expires_at=utcnow() + timedelta(seconds=expires_in),
        )
    return token


@pytest.mark.parametrize(
    "scope, present, absent",
    [
        ("openid", {"sub"}, {"name", "email", "preferred_username"}),
        ("openid profile", {"sub", "name", "preferred_username", "updated_at"}, {"email"}),
        ("openid email", {"sub", "email", "email_verified"}, {"name"}),
        ("openid profile email", {"sub", "name", "email", "updated_at"}, set()),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_claims_by_scope(client, oauth_client, user, scope, present, absent, method):
    token = mint(oauth_client[0], user, scope)
    response = client.open(
        "/oauth2/userinfo", method=method, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    claims = response.get_json()
    assert claims["sub"] == user.sub != user.username
    assert present <= set(claims)
    assert not absent & set(claims)


def test_token_in_form_body(client, oauth_client, user):
    token = mint(oauth_client[0], user, "openid email")
    response = client.post("/oauth2/userinfo", data={"access_token": token})
    assert response.status_code == 200
    assert response.get_json()["email"] == "alice@example.com"


def test_token_in_header_and_body_is_400(client, oauth_client, user):
    token = mint(oauth_client[0], user, "openid")
    response = client.post(
        "/oauth2/userinfo",
        data={"access_token": token},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_query_token_is_not_accepted(client, oauth_client, user):
    token = mint(oauth_client[0], user, "openid")
    assert client.get(f"/oauth2/userinfo?access_token={token}").status_code == 401


def test_missing_token_is_401_without_error_code(client):
    response = client.get("/oauth2/userinfo")
    assert response.status_code == 401
    header = response.headers["WWW-Authenticate"]
    assert header.startswith("Bearer ")
    assert "error=" not in header  # RFC 6750 §3.1: no error code without credentials
    assert "resource_metadata=" in header


@pytest.mark.parametrize(
    "case",
    ["garbage", "unknown", "expired", "revoked", "other_audience", "client_credentials"],
)
def test_invalid_tokens_are_401(client, oauth_client, user, case):
    audience = "https://mcp.example/mcp" if case == "other_audience" else ISSUER
    token = mint(
        oauth_client[0],
        None if case == "client_credentials" else user,
        "openid profile",
        audience=audience,
        expires_in=-1 if case == "expired" else 600,
    )
    if case == "revoked":
        with db.connection_context():
            AccessToken.update(revoked_at=utcnow()).execute()
    presented = {"garbage": "not a token", "unknown": "gat_" + "x" * 43}.get(case, token)
    response = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {presented}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"] or case == "garbage"


def test_without_openid_scope_is_403(client, oauth_client, user):
    token = mint(oauth_client[0], user, "profile email")
    response = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    header = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in header
    assert 'scope="openid"' in header
