"""Protocol and discovery endpoints neither open nor refresh the browser session cookie."""

from __future__ import annotations

import pytest

from oauth.session import uses_session
from tests.helpers.common import login

PROTOCOL = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-protected-resource",
    "/tenant/.well-known/openid-configuration",
    "/oauth2/jwks",
    "/oauth2/token",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/oauth2/userinfo",
    "/oauth2/register",
    "/oauth2/clients/abc",
    "/oauth2/device_authorization",
    "/api/v2/users/me",
]
PAGES = [
    "/",
    "/login",
    "/logout",
    "/account",
    "/admin/apps",
    "/oauth2/authorize",
    "/oauth2/consent",
    "/oauth2/device",
    "/oauth2/logout",
    "/oauth2/clients",
    "/api/v2/oauth2-provider/apps",
    "/api/v2/mock/users",
    "/playground",
    "/metrics",
]


@pytest.mark.parametrize("path", PROTOCOL)
def test_protocol_paths_do_not_use_the_session(path):
    assert not uses_session(path)


@pytest.mark.parametrize("path", PAGES)
def test_pages_keep_the_session(path):
    assert uses_session(path)


def test_signed_in_cookie_is_left_alone_by_discovery(client, user):
    login(client)
    # A permanent session is re-sent on every request that opens it (Flask refreshes it) ...
    page = client.get("/account")
    assert page.status_code == 200 and "Set-Cookie" in page.headers
    # ... but a discovery or JWKS request neither opens, re-signs nor varies on it.
    for path in ("/.well-known/oauth-authorization-server", "/oauth2/jwks"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/account").status_code == 200  # still signed in
