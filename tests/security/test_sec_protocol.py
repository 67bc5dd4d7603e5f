"""Protocol details (issue 9 §8): POST authorize, challenges on every 401, no-cache error pages,
and metadata that lists every prompt value we accept."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from oauth.rules.authorization_request import PROMPTS
from tests.helpers.authorize import params, sign_in
from tests.helpers.common import make_client


@pytest.fixture
def csrf_on(config):
    config["WTF_CSRF_ENABLED"] = True  # as in production
    return config


def test_post_authorize_works_as_get_does(csrf_on, client, user):
    app_client = make_client()[0]
    response = client.post("/oauth2/authorize", data=params(app_client.client_id))
    assert response.status_code == 303  # OAuth 2.1 §7.5.1: a POST is followed with a GET
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_post_authorize_signed_in_shows_consent(csrf_on, client, user):
    sign_in(client)
    app_client = make_client()[0]
    response = client.post("/oauth2/authorize", data=params(app_client.client_id))
    assert response.status_code == 200
    assert 'name="pending"' in response.get_data(as_text=True)


def test_consent_keeps_its_csrf_check(csrf_on, client, user):
    sign_in(client)
    response = client.post("/oauth2/consent", data={"pending": "x", "decision": "allow"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


CLIENT_401 = {
    "token, client_id only": (
        "/oauth2/token",
        {"grant_type": "client_credentials", "client_id": "x"},
    ),
    "token, no credentials": ("/oauth2/token", {"grant_type": "client_credentials"}),
    "revoke, wrong secret": (
        "/oauth2/revoke",
        {"token": "t", "client_id": "x", "client_secret": "y"},
    ),
    "introspect, no credentials": ("/oauth2/introspect", {"token": "t"}),
    "device authorization": ("/oauth2/device_authorization", {"client_id": "x"}),
}


@pytest.mark.parametrize(("path", "form"), CLIENT_401.values(), ids=CLIENT_401.keys())
def test_client_authentication_401_has_a_basic_challenge_without_a_basic_attempt(
    client, path, form
):
    response = client.post(path, data=form)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="')


BEARER_401 = {
    "userinfo": ("GET", "/oauth2/userinfo", {}),
    "userinfo, wrong token": ("GET", "/oauth2/userinfo", {"Authorization": "Bearer gat_x"}),
    "built-in API": ("GET", "/api/v2/users/me", {}),
    "registration access token": ("GET", "/oauth2/clients/gc_x", {}),
    "management API": ("GET", "/api/v2/oauth2-provider/apps", {}),
    "management API, wrong token": (
        "GET",
        "/api/v2/oauth2-provider/apps",
        {"Authorization": "Bearer gpt_wrong"},
    ),
}


@pytest.mark.parametrize(("method", "path", "headers"), BEARER_401.values(), ids=BEARER_401.keys())
def test_token_401s_have_a_bearer_challenge(client, method, path, headers):
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/oauth2/authorize", {"client_id": "nobody", "response_type": "code"}),
        ("/oauth2/authorize", {"response_type": "code"}),
    ],
)
def test_authorization_error_pages_are_never_cached(client, path, query):
    response = client.get(path, query_string=query)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_consent_error_page_is_never_cached(client, user):
    sign_in(client)
    response = client.post("/oauth2/consent", data={"pending": "forged", "decision": "allow"})
    assert response.status_code == 400
    assert response.headers["Pragma"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_prompt_values_supported_lists_every_accepted_prompt(client, path):
    advertised = client.get(path).get_json()["prompt_values_supported"]
    assert set(advertised) == PROMPTS
    assert "select_account" in advertised


@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_every_advertised_prompt_is_accepted(client, user, prompt):
    sign_in(client)
    app_client = make_client()[0]
    response = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, prompt=prompt)
    )
    location = response.headers.get("Location", "")
    assert "error=invalid_request" not in location
