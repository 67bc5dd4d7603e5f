"""MCP 2026-07-28 authorization, the parts the authorization server and the built-in resource
own: step-up consent (SEP-2350) and offline_access kept out of resource answers (SEP-2207)."""

from __future__ import annotations

import re

from models import Consent, Resource, db
from oauth.endpoints.metadata import protected_resource_metadata
from tests.helpers import ISSUER
from tests.helpers.authorize import approve, code_of, params, sign_in
from tests.helpers.common import make_client

MCP = "https://mcp.example.com/mcp"


def scope_items(html: str) -> dict[str, str]:
    """Each scope on the consent page and how it is marked: new, allowed or unmarked."""
    items = re.findall(r'<li data-scope="([^"]+)"(?: class="(new)")?>(.*?)</li>', html, re.S)
    marks = {}
    for scope, new, text in items:
        marks[scope] = "new" if new else ("allowed" if "already allowed" in text else "")
    return marks


def test_step_up_asks_again_only_for_the_new_scope(client, app, user):
    sign_in(client)
    with db.connection_context():
        Resource.create(uri=MCP, name="Notes MCP", scopes="mcp mcp:write")
        app_client = make_client(name="MCP client")[0]
    first = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, scope="mcp", resource=MCP)
    )
    assert scope_items(first.get_data(as_text=True)) == {"mcp": ""}  # nothing remembered yet
    assert code_of(approve(client, first))
    with db.connection_context():
        assert Consent.get().scope == "mcp"

    # The same scope again: remembered, no page.
    again = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, scope="mcp", resource=MCP)
    )
    assert again.status_code == 302 and code_of(again)

    # The union after a 403 insufficient_scope: a page, marking only mcp:write as new.
    union = params(app_client.client_id, scope="mcp mcp:write", resource=MCP)
    step_up = client.get("/oauth2/authorize", query_string=union)
    assert step_up.status_code == 200
    assert scope_items(step_up.get_data(as_text=True)) == {"mcp": "allowed", "mcp:write": "new"}
    assert code_of(approve(client, step_up))
    with db.connection_context():
        assert Consent.get().scope == "mcp mcp:write"
    # Now the union is remembered too, and so is any part of it.
    for scope in ("mcp mcp:write", "mcp:write"):
        query = params(app_client.client_id, scope=scope, resource=MCP)
        assert client.get("/oauth2/authorize", query_string=query).status_code == 302


def test_builtin_api_challenges_name_their_scope_never_offline_access(client, app):
    prm = client.get("/.well-known/oauth-protected-resource").get_json()
    assert "offline_access" not in prm["scopes_supported"]
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = client.get("/api/v2/users/me", headers=headers)
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert 'scope="profile"' in challenge
        assert "offline_access" not in challenge
        assert f'resource_metadata="{ISSUER}/.well-known/oauth-protected-resource"' in challenge


def test_resource_metadata_leaves_out_offline_access(app):
    with db.connection_context():
        Resource.create(uri=MCP, name="Notes MCP", scopes="mcp offline_access")
    with app.test_request_context(), db.connection_context():
        assert protected_resource_metadata(MCP, ISSUER)["scopes_supported"] == ["mcp"]


def test_authorization_server_advertises_offline_access_for_oidc_clients(client, app):
    # SEP-2207: clients add offline_access when the AS lists it; refresh tokens follow the
    # client's refresh_token grant (OAuth 2.1), with or without offline_access.
    metadata = client.get("/.well-known/oauth-authorization-server").get_json()
    assert "offline_access" in metadata["scopes_supported"]
    # SEP-2351: the RFC 8414 default suffix, with the issuer exactly as clients compare it.
    assert metadata["issuer"] == ISSUER and not ISSUER.endswith("/")
    assert metadata["authorization_response_iss_parameter_supported"] is True  # RFC 9207


def test_a_self_registered_client_may_step_up_beyond_its_registered_scope(client, app, user):
    # The MCP SDK registers with the first challenge's scope and never registers again; the
    # step-up asks for more. An administrator's list still limits a vetted client.
    sign_in(client)
    with db.connection_context():
        Resource.create(uri=MCP, name="Notes MCP", scopes="mcp mcp:write")
    dynamic = make_client(scope="mcp offline_access", registration="dynamic")[0]
    vetted = make_client(scope="mcp offline_access")[0]
    for row, status in ((dynamic, 200), (vetted, 302)):
        query = params(row.client_id, scope="mcp mcp:write", resource=MCP)
        response = client.get("/oauth2/authorize", query_string=query)
        assert response.status_code == status
    assert "invalid_scope" in response.headers["Location"]
