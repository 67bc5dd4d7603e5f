"""GET /api/v2/users/me: the built-in protected resource (RFC 6750, RFC 9728 §5.1)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import AccessToken, Resource, db, utcnow
from tests.helpers import ISSUER
from tests.helpers.common import basic, make_client
from tests.helpers.tokens import tokens_for

METADATA = f'resource_metadata="{ISSUER}/.well-known/oauth-protected-resource"'


def me(http, header):
    return http.get("/api/v2/users/me", headers={"Authorization": header} if header else {})


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_returns_the_user(client, oauth_client, user, scheme):
    c, s = oauth_client
    token = tokens_for(client, c, s, user)["access_token"]
    response = me(client, f"{scheme} {token}")
    assert response.status_code == 200
    assert response.get_json() == {
        "id": user.sub,
        "username": "alice",
        "email": "alice@example.com",
        "name": "Alice",
    }
    assert response.headers["Cache-Control"] == "no-store"


def _expired(client, c, s, user):
    body = tokens_for(client, c, s, user)
    with db.connection_context():
        AccessToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    return "Bearer " + body["access_token"]


def _revoked(client, c, s, user):
    body = tokens_for(client, c, s, user)
    client.post(
        "/oauth2/revoke", data={"token": body["access_token"]}, headers=basic(c.client_id, s)
    )
    return "Bearer " + body["access_token"]


def _other_audience(client, c, s, user):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", scopes="profile")
    body = tokens_for(client, c, s, user, resource="https://mcp.example.com/mcp")
    return "Bearer " + body["access_token"]


def _refresh_token(client, c, s, user):
    return "Bearer " + tokens_for(client, c, s, user)["refresh_token"]


def _client_token(client, c, s, user):
    machine, secret = make_client("Machine", grant_types=["client_credentials"])
    token = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(machine.client_id, secret),
    ).get_json()["access_token"]
    return "Bearer " + token


UNAUTHORIZED = [
    ("empty bearer", lambda *a: "Bearer "),
    ("unknown", lambda *a: "Bearer gat_unknown"),
    ("garbage", lambda *a: "Bearer \x01\x02"),
    ("two tokens", lambda *a: "Bearer gat_a gat_b"),
    ("expired", _expired),
    ("revoked", _revoked),
    ("other audience", _other_audience),
    ("refresh token", _refresh_token),
    ("client_credentials token", _client_token),
]


@pytest.mark.parametrize("make", [u[1] for u in UNAUTHORIZED], ids=[u[0] for u in UNAUTHORIZED])
def test_401_with_challenge(client, oauth_client, user, make):
    c, s = oauth_client
    response = me(client, make(client, c, s, user))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge and "error_description=" in challenge
    assert METADATA in challenge
    assert response.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize("authorization", [None, "Basic abc", "Digest x"])
def test_401_without_bearer_credentials_names_no_error(client, authorization):
    """RFC 6750 §3.1: a request that sent no Bearer token gets the challenge, no error code."""
    response = me(client, authorization)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and METADATA in challenge
    assert "error=" not in challenge and 'scope="profile"' in challenge


def test_403_without_profile_scope(client, oauth_client, user):
    c, s = oauth_client
    token = tokens_for(client, c, s, user, scope="openid email")["access_token"]
    response = me(client, f"Bearer {token}")
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="profile"' in challenge
    assert METADATA in challenge
