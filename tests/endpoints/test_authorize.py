"""GET/POST /oauth2/authorize on the wire (RFC 6749 §4.1, RFC 7636, RFC 8707, RFC 9207)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from models import Resource, db
from oauth.params import PROTOCOL_PARAMS
from tests.helpers import ISSUER
from tests.helpers.authorize import CHALLENGE, REDIRECT, params, sign_in
from tests.helpers.common import make_client, query_of


@pytest.fixture
def app_client(app):
    return make_client(
        redirect_uris=[REDIRECT, "https://app.example.com/cb", "com.example.app:/oauth"]
    )[0]


def _get(client, query):
    return client.get("/oauth2/authorize", query_string=query)


def assert_page(response, text: str) -> None:
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert text in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


# -- before the redirect URI is verified: a page, never a redirect ---------------------------


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ({"client_id": None}, "no client_id"),
        ({"client_id": ""}, "no client_id"),
        ({"client_id": "nope"}, "No application is registered"),
        ({"redirect_uri": "https://evil.example/cb"}, "not registered"),
        ({"redirect_uri": "https://app.example.com/cb/"}, "not registered"),
        ({"redirect_uri": "https://app.example.com:8443/cb"}, "not registered"),
        ({"redirect_uri": "https://APP.example.com/cb"}, "not registered"),
        ({"redirect_uri": "https://app.example.com/cb?x=1"}, "not registered"),
        ({"redirect_uri": "http://localhost:9999/callback"}, "not registered"),
        ({"redirect_uri": "https://127.0.0.1:9999/callback"}, "not registered"),
        ({"redirect_uri": "http://127.0.0.1:9999/other"}, "not registered"),
        ({"redirect_uri": ""}, "not registered"),
        ({"redirect_uri": None}, "must name one of"),
        # Errors are not redirected even when later parameters are also wrong.
        ({"redirect_uri": "https://evil.example/cb", "response_type": "token"}, "not registered"),
    ],
)
def test_unverified_client_or_redirect_uri_is_a_page(client, app_client, query, text):
    response = _get(client, params(app_client.client_id, **query))
    assert_page(response, text)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_duplicated_client_id_or_redirect_uri_is_a_page(client, app_client, name):
    query = list(params(app_client.client_id).items()) + [
        (name, params(app_client.client_id)[name])
    ]
    response = client.get("/oauth2/authorize", query_string=query)
    assert_page(response, "more than once")


def test_unverified_post_is_a_page(client, app_client):
    data = params(app_client.client_id, redirect_uri="https://evil.example/cb")
    assert_page(client.post("/oauth2/authorize", data=data), "not registered")


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:5555/callback", "http://127.0.0.1/callback", REDIRECT],
)
def test_loopback_http_may_change_port(client, app_client, redirect_uri):
    response = _get(client, params(app_client.client_id, redirect_uri=redirect_uri))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_single_registered_redirect_uri_may_be_omitted(client, app):
    only = make_client(redirect_uris=["https://app.example.com/cb"])[0]
    response = _get(client, params(only.client_id, redirect_uri=None, response_type="token"))
    assert response.headers["Location"].startswith("https://app.example.com/cb?")


# -- after: errors go back to the client -----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected_error"),
    [
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": "s256"}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:42]}, "invalid_request"),
        ({"code_challenge": CHALLENGE + "A"}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:42] + "="}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:42] + "+"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"scope": 'openid "quoted"'}, "invalid_scope"),
        ({"resource": "https://unknown.example/api"}, "invalid_target"),
        ({"resource": "https://api.example.com/mcp#frag"}, "invalid_target"),
        ({"resource": "/relative"}, "invalid_target"),
        ({"resource": ""}, "invalid_target"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://app.example.com/req"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "1.5"}, "invalid_request"),
        ({"max_age": "ten"}, "invalid_request"),
        ({"max_age": "١٢"}, "invalid_request"),  # non-ASCII digits
        ({"nonce": "n" * 513}, "invalid_request"),
    ],
)
@pytest.mark.parametrize(("method", "expected_status"), [("GET", 302), ("POST", 303)])
def test_errors_redirect_back(client, app_client, query, expected_error, method, expected_status):
    data = params(app_client.client_id, **query)
    if method == "GET":
        response = _get(client, data)
    else:
        response = client.post("/oauth2/authorize", data=data)
    assert response.status_code == expected_status
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    query_params = query_of(location)
    assert query_params["error"] == expected_error
    assert query_params["error_description"]
    assert query_params["state"] == "xyz state"
    assert query_params["iss"] == ISSUER
    assert "code" not in query_params
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "name", [n for n in PROTOCOL_PARAMS if n not in ("client_id", "redirect_uri")]
)
def test_duplicated_protocol_parameter_is_invalid_request(client, app_client, name):
    extra = {"max_age": "5", "nonce": "n", "prompt": "consent", "login_hint": "alice"}
    query = list(params(app_client.client_id, response_mode="query", **extra).items())
    query += [(name, dict(query)[name])]  # the same value again is still a duplicate
    response = client.get("/oauth2/authorize", query_string=query)
    assert response.status_code == 302
    returned = parse_qs(urlsplit(response.headers["Location"]).query)
    assert returned["error"] == ["invalid_request"]
    assert name in returned["error_description"][0]
    assert returned["iss"] == [ISSUER]
    # A state sent twice is ambiguous, so none is echoed; otherwise it is.
    assert returned.get("state") == (None if name == "state" else ["xyz state"])


def test_two_resources_are_invalid_target(client, app_client):
    with db.connection_context():
        Resource.create(uri="https://api.example.com/a", name="A")
        Resource.create(uri="https://api.example.com/b", name="B")
    query = list(params(app_client.client_id).items())
    query += [("resource", "https://api.example.com/a"), ("resource", "https://api.example.com/b")]
    response = client.get("/oauth2/authorize", query_string=query)
    assert query_of(response.headers["Location"])["error"] == "invalid_target"


def test_client_without_code_grant_is_unauthorized(client, app):
    m2m = make_client(grant_types=["client_credentials"])[0]
    response = _get(client, params(m2m.client_id))
    assert query_of(response.headers["Location"])["error"] == "unauthorized_client"


def test_scope_outside_the_clients_allowed_scopes(client, app):
    narrow = make_client(scope="openid")[0]
    response = _get(client, params(narrow.client_id, scope="openid email"))
    assert query_of(response.headers["Location"])["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "state",
    ["xyz", "with spaces", "unicodé ☃ 雪", "a&b=c", "plus+and%25percent", "x" * 500, " lead"],
)
def test_state_is_echoed_byte_exact(client, app_client, state):
    response = _get(client, params(app_client.client_id, state=state, response_type="token"))
    returned = parse_qs(urlsplit(response.headers["Location"]).query, keep_blank_values=True)
    assert returned["state"] == [state]


def test_no_state_when_none_was_sent(client, app_client):
    response = _get(client, params(app_client.client_id, state=None, response_type="token"))
    returned = query_of(response.headers["Location"])
    assert "state" not in returned
    assert returned["iss"] == ISSUER


def test_error_keeps_the_redirect_uris_own_query(client, app):
    app_with_query = make_client(redirect_uris=["https://app.example.com/cb?tenant=7"])[0]
    response = _get(client, params(app_with_query.client_id, redirect_uri=None, scope="nope"))
    location = response.headers["Location"]
    assert location.startswith("https://app.example.com/cb?tenant=7&")
    assert query_of(location)["error"] == "invalid_scope"


def test_unknown_parameters_are_ignored(client, app_client, user):
    sign_in(client)
    query = params(
        app_client.client_id, foo="bar", display="popup", ui_locales="fr", acr_values="1"
    )
    query.update(claims_locales="de")
    response = _get(client, query)
    assert response.status_code == 200
    assert 'id="consent-form"' in response.get_data(as_text=True)


# -- sign-in round trip ---------------------------------------------------------------------


def test_signed_out_goes_to_login_and_back(client, app_client, user):
    response = _get(client, params(app_client.client_id, state="s t&ü"))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    next_url = parse_qs(location.query)["next"][0]
    assert next_url.startswith("/oauth2/authorize?")
    sign_in(client)
    back = client.get(next_url)
    assert back.status_code == 200
    assert 'id="consent-form"' in back.get_data(as_text=True)


def test_login_page_round_trip_uses_next(client, app_client, user):
    response = _get(client, params(app_client.client_id))
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    answer = client.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery", "next": next_url},
    )
    if answer.status_code != 302:
        pytest.skip("the /login page is not available yet")
    assert answer.headers["Location"].endswith(next_url)


def test_post_request_comes_back_as_get(client, app_client, user):
    response = client.post("/oauth2/authorize", data=params(app_client.client_id, nonce="n-1"))
    assert response.status_code == 303
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    returned = parse_qs(urlsplit(next_url).query)
    assert returned["nonce"] == ["n-1"]
    assert returned["code_challenge"] == [CHALLENGE]
    sign_in(client)
    assert client.get(next_url).status_code == 200


def test_post_authorize_shows_consent(client, app_client, user):
    sign_in(client)
    response = client.post("/oauth2/authorize", data=params(app_client.client_id))
    assert response.status_code == 200
    assert 'id="consent-form"' in response.get_data(as_text=True)
