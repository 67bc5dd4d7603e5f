"""client_credentials grant (RFC 6749 §4.4): confidential clients that registered it, no user."""

from __future__ import annotations

import pytest

from models import Resource, TokenFamily, db
from oauth import crypto, store
from tests.helpers.common import make_client
from tests.helpers.tokens import client_credentials as cc

MCP = "https://mcp.example.com/mcp"


@pytest.fixture
def machine(app):
    """A confidential client registered for client_credentials only."""
    with db.connection_context():
        Resource.create(uri=MCP, scopes="mcp:read mcp:write")
    return make_client("Machine", grant_types=["client_credentials"])


def test_issues_an_access_token_without_user_or_refresh(client, machine):
    c, s = machine
    response = cc(client, c, s, scope="mcp:read", resource=MCP)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "mcp:read"
    assert "refresh_token" not in body and "id_token" not in body
    with db.connection_context():
        row = store.find_access_token(crypto.sha256(body["access_token"]))
        assert row.user_id is None and row.audience == MCP
        family = TokenFamily.get()
        assert family.grant_type == "client_credentials" and family.client_secret_id is not None


CASES = [
    # (form, status, error, audience)
    ({}, 200, None, "http://127.0.0.1:8000"),
    ({"resource": MCP}, 200, None, MCP),
    ({"resource": "HTTPS://MCP.example.com/mcp"}, 200, None, MCP),
    ({"resource": "https://unknown.example/api"}, 400, "invalid_target", None),
    ({"resource": "relative/path"}, 400, "invalid_target", None),
    ({"resource": MCP + "#x"}, 400, "invalid_target", None),
    ({"scope": "mcp:write mcp:read"}, 200, None, "http://127.0.0.1:8000"),
    ({"scope": "nope"}, 400, "invalid_scope", None),
    ({"scope": "bad\x7fscope"}, 400, "invalid_scope", None),
]


@pytest.mark.parametrize("form, status, error, audience", CASES)
def test_scope_and_audience(client, machine, form, status, error, audience):
    c, s = machine
    response = cc(client, c, s, **form)
    assert response.status_code == status, response.get_json()
    if error:
        assert response.get_json()["error"] == error
    else:
        with db.connection_context():
            assert TokenFamily.get().audience == audience


def test_client_without_the_grant_is_unauthorized(client, oauth_client):
    c, s = oauth_client
    response = cc(client, c, s)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_public_client_is_unauthorized_even_if_registered(client, app):
    public, _ = make_client("Public", public=True, grant_types=["client_credentials"])
    response = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": public.client_id}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_client_scope_allowlist_applies(client, machine):
    c, s = make_client("Narrow", grant_types=["client_credentials"], scope="mcp:read")
    assert cc(client, c, s, scope="mcp:write").get_json()["error"] == "invalid_scope"
    assert cc(client, c, s).get_json()["scope"] == "mcp:read"  # the client's default
