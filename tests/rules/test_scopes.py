"""Scope selection (the resource (audience) rule: test_resource.py)."""

import pytest

from oauth.errors import OAuthError
from oauth.rules.scope import select_scopes

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
