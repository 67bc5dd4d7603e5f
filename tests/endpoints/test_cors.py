"""CORS for clients that run in a web page: the endpoints they call, without credentials."""

import pytest

from tests.helpers.common import basic

CLIENT_ENDPOINTS = [
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/register",
    "/oauth2/userinfo",
    "/oauth2/device_authorization",
    "/oauth2/clients/some-client",
]


@pytest.mark.parametrize("path", CLIENT_ENDPOINTS)
def test_preflight_is_allowed_without_credentials(client, path):
    response = client.options(
        path,
        headers={
            "Origin": "http://localhost:6274",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_token_errors_are_readable_cross_origin(client, oauth_client):
    c, secret = oauth_client
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": "gac_nope", "code_verifier": "x" * 43},
        headers={"Origin": "http://localhost:6274", **basic(c.client_id, secret)},
    )
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/login", "/oauth2/authorize", "/oauth2/consent", "/oauth2/introspect", "/admin/apps"]
)
def test_pages_and_resource_server_endpoints_are_not_cross_origin(client, path):
    response = client.get(path, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
