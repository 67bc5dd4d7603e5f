"""Mock-provider mode: username-only sign-in, extra claims, one-click users, auto-consent,
unknown clients adopted on the fly, the banner, and the refusal of remote issuers."""

from __future__ import annotations

import json
import re

import pytest

from app import create_app
from models import AuditEvent, Client, User, db
from oauth import keys
from oauth.manage import users as accounts
from oauth.settings import DEFAULTS, check_config
from tests.helpers.authorize import REDIRECT, VERIFIER, code_of, params
from tests.helpers.common import basic, make_client, query_of

MOCK_OFF = {"MOCK": False}
MOCK_ON = {"MOCK": True}
AUTO = {"MOCK": True, "MOCK_AUTO_CONSENT": True}
ANY = {"MOCK": True, "MOCK_ANY_CLIENT": True, "MOCK_AUTO_CONSENT": True}


@pytest.fixture
def mock_config(config, request):
    """Set the mock switches named by `@pytest.mark.parametrize("mock_config", [...])`."""
    config.update(getattr(request, "param", MOCK_ON))
    return config


@pytest.fixture
def web(mock_config, app):
    return app.test_client()


def sign_in(web, username: str, claims: str = "", next_path: str = ""):
    return web.post("/login", data={"username": username, "claims": claims, "next": next_path})


def user_named(username: str) -> User | None:
    with db.connection_context():
        return User.by_username(username)


def redeem(web, client: Client, secret: str, code: str) -> dict:
    response = web.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
        headers=basic(client.client_id, secret),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- sign-in -------------------------------------------------------------------------------


def test_any_username_signs_in_without_a_password_and_is_created(web):
    page = web.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' not in page
    response = sign_in(web, "  New.Person ", next_path="/account/apps")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/apps"
    user = user_named("new.person")
    assert user is not None and user.password_hash is None
    with web.session_transaction() as session:
        assert "sid" in session
    with db.connection_context():
        actions = [e.action for e in AuditEvent.select().where(AuditEvent.target == "new.person")]
    assert "user.create" in actions and "login.mock" in actions


def test_signing_in_again_reuses_the_user(web):
    sign_in(web, "bob")
    first = user_named("bob")
    sign_in(web, "BOB")
    assert user_named("bob").sub == first.sub
    with db.connection_context():
        assert User.select().where(User.username == "bob").count() == 1


@pytest.mark.parametrize("username", ["", "has space", "../etc", "x" * 65, "."])
def test_invalid_usernames_are_refused(web, username):
    response = sign_in(web, username)
    assert response.status_code == 400
    with web.session_transaction() as session:
        assert "sid" not in session


@pytest.mark.parametrize("mock_config", [MOCK_OFF], indirect=True)
def test_without_mock_mode_a_password_is_required(web, user):
    assert 'name="password"' in web.get("/login").get_data(as_text=True)
    response = web.post("/login", data={"username": "alice"})
    assert response.status_code == 400
    assert user_named("nobody") is None


@pytest.mark.parametrize("mock_config", [{"MOCK": True, "WTF_CSRF_ENABLED": True}], indirect=True)
def test_mock_sign_in_keeps_csrf(web):
    response = sign_in(web, "mallory")
    assert response.status_code == 400
    assert user_named("mallory") is None
    page = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = web.post("/login", data={"username": "mallory", "csrf_token": token})
    assert response.status_code == 302


# -- extra claims --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"groups"', "JSON object"),
        ("42", "JSON object"),
        ('{"sub": "someone-else"}', "registered claims: sub"),
        ('{"iss": "https://evil.example", "aud": "x"}', "registered claims: aud, iss"),
        ('{"": 1}', "must not be empty"),
        ("[" * 5000, "valid JSON"),
    ],
)
def test_claims_box_must_hold_an_allowed_json_object(web, text, message):
    response = sign_in(web, "claimer", claims=text)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert user_named("claimer") is None


def test_claims_are_stored_and_replaced_only_when_given(web):
    sign_in(web, "carol", claims='{"groups": ["staff"], "locale": "de"}')
    assert user_named("carol").claims == {"groups": ["staff"], "locale": "de"}
    sign_in(web, "carol")  # empty box: keep
    assert user_named("carol").claims == {"groups": ["staff"], "locale": "de"}
    sign_in(web, "carol", claims='{"groups": []}')
    assert user_named("carol").claims == {"groups": []}


@pytest.mark.parametrize("mock_config", [AUTO], indirect=True)
def test_claims_appear_in_id_token_and_userinfo(web):
    client, secret = make_client()
    claims = {"groups": ["staff", "ops"], "tenant": {"id": 7}}
    sign_in(web, "dana", claims=json.dumps(claims))
    response = web.get("/oauth2/authorize", query_string=params(client.client_id))
    body = redeem(web, client, secret, code_of(response))
    with db.connection_context():
        id_token = keys.verify(body["id_token"], client.client_id, "http://127.0.0.1:8000")
    assert id_token["groups"] == ["staff", "ops"] and id_token["tenant"] == {"id": 7}
    assert id_token["sub"] == user_named("dana").sub
    info = web.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.get_json()["groups"] == ["staff", "ops"]
    assert info.get_json()["sub"] == id_token["sub"]


# -- seeded users --------------------------------------------------------------------------


def test_existing_users_are_one_click_buttons_with_csrf(web):
    with db.connection_context():
        accounts.create_user("seeded", claims={"role": "tester"})
        accounts.create_user("boss", is_admin=True)
    page = web.get("/login?next=/account/apps").get_data(as_text=True)
    forms = re.findall(r'<form[^>]*class="inline seeded-user".*?</form>', page, re.S)
    assert len(forms) == 2
    for form in forms:
        assert 'method="post"' in form and 'name="csrf_token"' in form
        assert 'name="next" value="/account/apps"' in form
    assert any('name="username" value="seeded"' in f for f in forms)
    assert "boss (admin)" in page
    response = web.post("/login", data={"username": "seeded", "next": "/account/apps"})
    assert response.headers["Location"] == "/account/apps"
    assert user_named("seeded").claims == {"role": "tester"}  # one click keeps the claims


def test_banner_shows_on_every_page_in_mock_mode(web):
    for path in ("/login", "/oauth2/authorize?client_id=nope", "/no-such-page"):
        assert "Mock mode" in web.get(path).get_data(as_text=True), path


@pytest.mark.parametrize("mock_config", [MOCK_OFF], indirect=True)
def test_no_banner_without_mock_mode(web):
    assert "Mock mode" not in web.get("/login").get_data(as_text=True)


# -- consent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mock_config", "skips_consent"),
    [(AUTO, True), (MOCK_ON, False), ({"MOCK_AUTO_CONSENT": True}, False)],
    indirect=["mock_config"],
)
def test_auto_consent_only_in_mock_mode(web, user, skips_consent):
    client, _ = make_client()
    if web.application.config["MOCK"]:
        sign_in(web, "alice")
    else:
        web.post("/login", data={"username": "alice", "password": "correct horse battery"})
    response = web.get("/oauth2/authorize", query_string=params(client.client_id, prompt="consent"))
    if skips_consent:
        query = query_of(response.headers["Location"])
        assert query["state"] == "xyz state" and query["code"].startswith("gac_")
    else:
        assert response.status_code == 200
        assert 'id="consent-form"' in response.get_data(as_text=True)


# -- unknown clients -----------------------------------------------------------------------


@pytest.mark.parametrize("mock_config", [ANY], indirect=True)
def test_any_client_adopts_an_unknown_client_id_as_public(web):
    sign_in(web, "eve")
    response = web.get("/oauth2/authorize", query_string=params("my-spa"))
    code = code_of(response)
    with db.connection_context():
        client = Client.by_client_id("my-spa")
        event = AuditEvent.get(AuditEvent.action == "app.create", AuditEvent.target == "my-spa")
    assert client.registration == "mock" and client.is_public
    assert client.redirect_uris == [REDIRECT]
    assert event.actor == "mock"
    token = web.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "my-spa",
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
    )
    assert token.status_code == 200


@pytest.mark.parametrize("mock_config", [{**ANY, "MOCK_AUTO_CONSENT": False}], indirect=True)
def test_adopted_client_is_shown_unverified(web, admin):
    sign_in(web, "root")
    page = web.get("/oauth2/authorize", query_string=params("quick-test")).get_data(as_text=True)
    assert 'id="unverified-warning"' in page
    listed = web.get("/admin/apps?vetted=no").get_data(as_text=True)
    assert "Mock client quick-test" in listed and "not vetted" in listed


@pytest.mark.parametrize(
    ("mock_config", "overrides"),
    [
        (MOCK_ON, {}),  # the switch is off by default
        ({"MOCK_ANY_CLIENT": True}, {}),  # and means nothing without mock mode
        (ANY, {"redirect_uri": "http://example.com/callback"}),  # plain http, not loopback
        (ANY, {"redirect_uri": "javascript:alert(1)"}),
        (ANY, {"redirect_uri": None}),
        (ANY, {"client_id": "https://app.example.com/client.json"}),  # a metadata document
    ],
    indirect=["mock_config"],
)
def test_unknown_client_is_refused_otherwise(web, user, overrides):
    overrides = dict(overrides)  # a copy: the same dict serves the run on each engine
    request = params(overrides.pop("client_id", "unknown-app"), **overrides)
    response = web.get("/oauth2/authorize", query_string=request)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    with db.connection_context():
        assert Client.select().count() == 0


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "allow_remote", "ok"),
    [
        ("http://127.0.0.1:8000", False, True),
        ("http://localhost:5000", False, True),
        ("http://[::1]:8000", False, True),
        ("https://auth.example.com", False, False),
        ("https://auth.example.com", True, True),
        ("https://10.0.0.5", False, False),
    ],
)
def test_mock_mode_refuses_a_remote_issuer(config, issuer, allow_remote, ok):
    config.update(ISSUER=issuer, MOCK=True, MOCK_ALLOW_REMOTE=allow_remote)
    if ok:
        assert create_app(config).config["MOCK"]
    else:
        with pytest.raises(RuntimeError, match="GATEHOUSE_MOCK_ALLOW_REMOTE"):
            create_app(config)


def test_a_remote_issuer_is_fine_without_mock_mode():
    check_config({**DEFAULTS, "ISSUER": "https://auth.example.com"})
