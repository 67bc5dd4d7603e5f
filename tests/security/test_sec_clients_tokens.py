"""Issue 9 §1: what an unvetted client may not do with tokens.

Client credentials are for clients an administrator vouched for; machine tokens never carry
user scopes; introspection shows a client only what RFC 7662 §4 lets it see.
"""

from __future__ import annotations

import pytest

from models import Client, Resource, db
from tests.helpers import ISSUER
from tests.helpers.common import basic, make_client
from tests.helpers.tokens import tokens_for

MCP = "https://mcp.example.com/mcp"


@pytest.fixture
def mcp(app):
    """A registered MCP server resource with its own scope, owned by nobody."""
    with db.connection_context():
        return Resource.create(uri=MCP, name="Notes MCP", scopes="notes:read")


def register(http, **body):
    return http.post("/oauth2/register", json={"client_name": "Anon", **body})


def client_credentials(http, client_id, secret, **form):
    return http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(client_id, secret),
    )


def introspect(http, client_id, secret, token):
    return http.post("/oauth2/introspect", data={"token": token}, headers=basic(client_id, secret))


# -- client_credentials ----------------------------------------------------------------------


def test_anonymous_registration_cannot_get_a_machine_token_for_a_resource(client, mcp):
    # The reproduction: register with client_credentials, then ask for the MCP server's scope.
    response = register(client, grant_types=["client_credentials"])
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert "client_credentials" in response.get_json()["error_description"]
    with db.connection_context():
        assert Client.select().count() == 0


def test_registration_update_cannot_add_client_credentials(client):
    info = register(client, redirect_uris=["https://app.example/cb"]).get_json()
    body = {**info, "grant_types": ["authorization_code", "client_credentials"]}
    body = {k: v for k, v in body.items() if k != "registration_access_token"}
    response = client.put(
        f"/oauth2/clients/{info['client_id']}",
        json=body,
        headers={"Authorization": "Bearer " + info["registration_access_token"]},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_unvetted_client_holding_the_grant_is_unauthorized(client, mcp):
    # A self-registered client that got the grant before the rule existed.
    c, secret = make_client("Old", grant_types=["client_credentials"], registration="dynamic")
    response = client_credentials(client, c.client_id, secret, resource=MCP, scope="notes:read")
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_vetted_client_gets_a_machine_token(client, mcp):
    c, secret = make_client("Robot", grant_types=["client_credentials"])
    response = client_credentials(client, c.client_id, secret, resource=MCP, scope="notes:read")
    assert response.status_code == 200
    assert response.get_json()["scope"] == "notes:read"


@pytest.mark.parametrize(
    "scope", ["openid", "profile", "email", "offline_access", "notes:read email"]
)
def test_machine_tokens_never_carry_user_scopes(client, mcp, scope):
    c, secret = make_client("Robot", grant_types=["client_credentials"])
    response = client_credentials(client, c.client_id, secret, scope=scope)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "allowed, granted",
    [("", ""), ("openid profile notes:read", "notes:read"), ("email", "")],
)
def test_machine_token_default_scope_has_no_user_scope(client, mcp, allowed, granted):
    # Before: `openid profile email` by default. Now the client's non-user scopes, or none.
    c, secret = make_client("Robot", grant_types=["client_credentials"], scope=allowed)
    response = client_credentials(client, c.client_id, secret)
    assert response.status_code == 200
    assert response.get_json()["scope"] == granted


# -- introspection (RFC 7662 §4) -----------------------------------------------------------------


@pytest.fixture
def users_token(client, user):
    """An access token a vetted web app got for alice (audience: the built-in API)."""
    app_client, secret = make_client("Web App")
    return tokens_for(client, app_client, secret, user)["access_token"]


def test_self_registered_client_cannot_introspect_another_clients_token(client, users_token):
    # The reproduction: a self-registered confidential client saw alice's sub and scope.
    info = register(client, redirect_uris=["https://app.example/cb"]).get_json()
    response = introspect(client, info["client_id"], info["client_secret"], users_token)
    assert response.status_code == 200
    assert response.get_json() == {"active": False}


def test_vetted_client_sees_tokens_for_audiences_without_owner(client, users_token):
    rs, secret = make_client("Resource server", grant_types=["client_credentials"])
    body = introspect(client, rs.client_id, secret, users_token).get_json()
    assert body["active"] is True and body["username"] == "alice"


def test_unvetted_client_sees_its_own_tokens(client, user):
    web, secret = make_client("Self", registration="dynamic")
    token = tokens_for(client, web, secret, user)["access_token"]
    body = introspect(client, web.client_id, secret, token).get_json()
    assert body["active"] is True and body["client_id"] == web.client_id


def test_owner_sees_its_resources_tokens_even_when_unvetted(client, user):
    owner, owner_secret = make_client("MCP server", registration="dynamic")
    with db.connection_context():
        Resource.create(uri=MCP, scopes="notes:read", owner=owner)
    web, secret = make_client("Web App")
    token = tokens_for(client, web, secret, user, resource=MCP, scope="notes:read")
    body = introspect(client, owner.client_id, owner_secret, token["access_token"]).get_json()
    assert body["active"] is True and body["aud"] == MCP
    other, other_secret = make_client("Other vetted")
    assert introspect(client, other.client_id, other_secret, token["access_token"]).get_json() == {
        "active": False
    }


def test_vetted_owner_still_sees_its_own_client_tokens(client, user):
    # A resource server that owns a resource sees only its resources' tokens, and its own.
    owner, secret = make_client("MCP server", grant_types=["client_credentials"])
    with db.connection_context():
        Resource.create(uri=MCP, scopes="notes:read", owner=owner)
    own = client_credentials(client, owner.client_id, secret).get_json()["access_token"]
    body = introspect(client, owner.client_id, secret, own).get_json()
    assert body["active"] is True and body["aud"] == ISSUER
