"""Scope selection and resource (audience) rules."""

import pytest

from models import Resource, db
from oauth.errors import OAuthError
from oauth.scopes import check_resource, select_scopes
from tests.helpers import ISSUER

KNOWN = {"openid", "profile", "email", "offline_access", "mcp"}


@pytest.mark.parametrize(
    ("requested", "allowed", "granted"),
    [
        ([], [], ["openid", "profile", "email"]),
        ([], ["mcp"], ["mcp"]),
        (["openid", "mcp"], [], ["openid", "mcp"]),
        (["mcp"], ["mcp", "openid"], ["mcp"]),
    ],
)
def test_select_scopes_grants(requested, allowed, granted):
    assert select_scopes(requested, KNOWN, allowed) == granted


@pytest.mark.parametrize(
    ("requested", "allowed"),
    [(["admin"], []), (["openid", "nope"], []), (["email"], ["openid"])],
)
def test_select_scopes_refuses(requested, allowed):
    with pytest.raises(OAuthError) as exc:
        select_scopes(requested, KNOWN, allowed)
    assert exc.value.error == "invalid_scope"


@pytest.mark.parametrize(
    ("resource", "audience"),
    [
        (None, ISSUER),
        (ISSUER, ISSUER),
        (ISSUER + "/", ISSUER),
        (ISSUER + "/api/v2", ISSUER),
        (ISSUER + "/api/v2/users/me", ISSUER),
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        ("HTTPS://MCP.EXAMPLE.COM/mcp", "https://mcp.example.com/mcp"),
    ],
)
def test_check_resource_accepts(app, resource, audience):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", scopes="mcp")
        assert check_resource(resource, ISSUER) == audience


@pytest.mark.parametrize(
    "resource",
    [
        "https://other.example.com/",
        ISSUER + "/api/v20",
        ISSUER + "/admin",
        "relative/path",
        "https://mcp.example.com/mcp#frag",
        "",
    ],
)
def test_check_resource_refuses(app, resource):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", scopes="mcp")
        with pytest.raises(OAuthError) as exc:
            check_resource(resource, ISSUER)
        assert exc.value.error == "invalid_target"
