"""POST /oauth2/introspect (RFC 7662): what resource servers (and the MCP SDK) rely on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import AccessToken, Resource, TokenFamily, db, utcnow
from oauth.rules.id_token import epoch
from tests.helpers import ISSUER
from tests.helpers.common import basic, make_client
from tests.helpers.tokens import tokens_for

MCP = "https://mcp.example.com/mcp"


def introspect(http, c, s, token, **extra):
    return http.post(
        "/oauth2/introspect", data={"token": token, **extra}, headers=basic(c.client_id, s)
    )


@pytest.fixture
def rs(app):
    """A resource server: a confidential client that only introspects."""
    return make_client("Resource server", grant_types=["client_credentials"])


def test_active_token_fields(client, oauth_client, user, rs):
    c, s = oauth_client
    body = tokens_for(client, c, s, user)
    response = introspect(client, *rs, body["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    data = response.get_json()
    with db.connection_context():
        row = AccessToken.get()
    assert data == {
        "active": True,
        "scope": "openid profile email",
        "client_id": c.client_id,
        "sub": user.sub,
        "username": "alice",
        "aud": ISSUER,
        "iss": ISSUER,
        "exp": data["exp"],
        "iat": data["iat"],
        "token_type": "Bearer",
    }
    # MCP SDK AccessToken: exp must be an int, aud a string
    assert type(data["exp"]) is int and type(data["iat"]) is int
    assert data["exp"] - data["iat"] == 3600
    assert data["exp"] == epoch(row.expires_at)


def test_client_credentials_token_has_client_as_sub(client, rs):
    c, s = rs
    token = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic(c.client_id, s)
    ).get_json()["access_token"]
    data = introspect(client, c, s, token).get_json()
    assert data["active"] is True and data["sub"] == c.client_id
    assert "username" not in data


def _revoke(token):
    TokenFamily.get().revoke()


def _expire(token):
    AccessToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()


def _nothing(token):
    pass


INACTIVE = [
    # (id, spoil, which token)
    ("revoked", _revoke, "access_token"),
    ("expired", _expire, "access_token"),
    ("refresh token", _nothing, "refresh_token"),
    ("id_token", _nothing, "id_token"),
    ("unknown", _nothing, "gat_unknown"),
    ("garbage", _nothing, "not a token"),
    ("huge", _nothing, "gat_" + "x" * 10000),
]


@pytest.mark.parametrize("spoil, which", [i[1:] for i in INACTIVE], ids=[i[0] for i in INACTIVE])
def test_inactive_is_exactly_active_false(client, oauth_client, user, rs, spoil, which):
    c, s = oauth_client
    body = tokens_for(client, c, s, user)
    with db.connection_context():
        spoil(body)
    token = body.get(which, which)
    response = introspect(client, *rs, token)
    assert response.status_code == 200
    assert response.get_json() == {"active": False}


def test_owned_resource_is_visible_to_its_owner_only(client, oauth_client, user, rs):
    c, s = oauth_client
    other_rs = make_client("Another RS")
    with db.connection_context():
        Resource.create(uri=MCP, scopes="mcp", owner=rs[0])
    body = tokens_for(client, c, s, user, resource=MCP, scope="mcp")
    assert introspect(client, *rs, body["access_token"]).get_json()["aud"] == MCP
    assert introspect(client, *other_rs, body["access_token"]).get_json() == {"active": False}
    # tokens for unowned audiences (here the issuer) stay visible to any confidential client
    plain = tokens_for(client, c, s, user)
    assert introspect(client, *other_rs, plain["access_token"]).get_json()["active"] is True
    # ...but not to an owner: it sees only the tokens of the resources it owns
    assert introspect(client, *rs, plain["access_token"]).get_json() == {"active": False}


def test_public_clients_and_anonymous_callers_are_refused(client, public_client, rs):
    response = client.post(
        "/oauth2/introspect", data={"token": "gat_x", "client_id": public_client.client_id}
    )
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    response = client.post("/oauth2/introspect", data={"token": "gat_x"})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    response = introspect(client, rs[0], rs[1] + "x", "gat_x")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_missing_token_is_invalid_request(client, rs):
    response = client.post("/oauth2/introspect", headers=basic(rs[0].client_id, rs[1]))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_get_is_405(client):
    assert client.get("/oauth2/introspect").status_code == 405
