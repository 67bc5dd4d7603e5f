"""OpenID Connect request parameters at /oauth2/authorize (OIDC Core §3.1.2.1, §3.1.2.6)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from models import AuthorizationCode, UserSession, db, utcnow
from oauth import crypto
from tests.helpers import ISSUER
from tests.helpers.authorize import approve, code_of, params, sign_in
from tests.helpers.common import make_client, query_of


@pytest.fixture
def app_client(app):
    return make_client()[0]


def authorize(client, app_client, **overrides):
    return client.get("/oauth2/authorize", query_string=params(app_client.client_id, **overrides))


def login_redirect(response) -> dict[str, list[str]]:
    """The /login query of a redirect to the sign-in page."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    return parse_qs(location.query)


def age_session(seconds: int) -> None:
    """Pretend every session signed in `seconds` ago."""
    with db.connection_context():
        old = utcnow() - timedelta(seconds=seconds)
        UserSession.update(auth_time=old).execute()


def remember(client, app_client, scope="openid profile") -> None:
    approve(client, authorize(client, app_client, scope=scope))


@pytest.mark.parametrize(
    ("signed_in", "remembered", "scope", "expected_error"),
    [
        (False, False, "openid", "login_required"),
        (True, False, "openid", "consent_required"),
        (True, True, "openid profile offline_access", "consent_required"),
        (True, True, "openid profile", None),
    ],
)
def test_prompt_none(client, app_client, user, signed_in, remembered, scope, expected_error):
    if signed_in:
        sign_in(client)
    if remembered:
        remember(client, app_client)
    response = authorize(client, app_client, prompt="none", scope=scope)
    assert response.status_code == 302
    returned = query_of(response.headers["Location"])
    assert returned.get("error") == expected_error
    assert returned["state"] == "xyz state"
    assert returned["iss"] == ISSUER
    assert ("code" in returned) is (expected_error is None)


def test_prompt_none_with_max_age_exceeded_is_login_required(client, app_client, user):
    sign_in(client)
    remember(client, app_client)
    age_session(120)
    response = authorize(client, app_client, prompt="none", max_age="60")
    assert query_of(response.headers["Location"])["error"] == "login_required"


@pytest.mark.parametrize(
    ("overrides", "kept_prompt"),
    [
        ({"prompt": "login"}, None),
        ({"prompt": "select_account"}, None),
        ({"prompt": "login consent"}, ["consent"]),
        ({"max_age": "0"}, None),
    ],
)
def test_forced_login_asks_again_and_comes_back_without_looping(
    client, app_client, user, overrides, kept_prompt
):
    sign_in(client)
    remember(client, app_client)
    query = login_redirect(authorize(client, app_client, **overrides))
    next_url = query["next"][0]
    next_query = parse_qs(urlsplit(next_url).query)
    assert next_query.get("prompt") == kept_prompt
    assert "max_age" not in next_query
    assert next_query["state"] == ["xyz state"]
    # The old session lasts until the new sign-in succeeds (tests/security covers that).
    sign_in(client)
    back = client.get(next_url)
    if kept_prompt:
        assert back.status_code == 200  # consent forced
    else:
        assert query_of(back.headers["Location"])["code"].startswith("gac_")


def test_max_age_exceeded_forces_login(client, app_client, user):
    sign_in(client)
    remember(client, app_client)
    age_session(120)
    login_redirect(authorize(client, app_client, max_age="60"))


def test_max_age_not_exceeded_keeps_the_session(client, app_client, user):
    sign_in(client)
    remember(client, app_client)
    age_session(30)
    response = authorize(client, app_client, max_age="3600")
    code = code_of(response)
    with db.connection_context():
        row = AuthorizationCode.get(code_hash=crypto.sha256(code))
        session = UserSession.get()
        # the id_token's auth_time (codes keep milliseconds, sessions microseconds)
        assert abs(row.auth_time - session.auth_time) <= timedelta(milliseconds=1)


def test_login_hint_reaches_the_login_page(client, app_client, user):
    query = login_redirect(authorize(client, app_client, login_hint="alice"))
    assert query["login_hint"] == ["alice"]
    assert "login_hint=alice" in query["next"][0]
    page = client.get("/login", query_string={"login_hint": "alice", "next": query["next"][0]})
    if page.status_code == 200 and 'name="username"' in page.get_data(as_text=True):
        assert 'value="alice"' in page.get_data(as_text=True)


def test_overlong_login_hint_is_dropped(client, app_client, user):
    query = login_redirect(authorize(client, app_client, login_hint="a" * 300))
    assert "login_hint" not in query


@pytest.mark.parametrize(
    "extra",
    [
        {"display": "popup"},
        {"ui_locales": "fr-CA fr en"},
        {"claims_locales": "de"},
        {"acr_values": "urn:mace:incommon:iap:silver"},
        {"max_age": "99999999999999999999999999"},
        {"prompt": "consent"},
        {"response_mode": "query"},
    ],
)
def test_accepted_parameters(client, app_client, user, extra):
    sign_in(client)
    response = authorize(client, app_client, **extra)
    assert response.status_code == 200
    assert 'id="consent-form"' in response.get_data(as_text=True)


def test_nonce_is_stored_on_the_code(client, app_client, user):
    sign_in(client)
    code = code_of(approve(client, authorize(client, app_client, nonce="n-0S6_WzA2Mj")))
    with db.connection_context():
        assert AuthorizationCode.get(code_hash=crypto.sha256(code)).nonce == "n-0S6_WzA2Mj"
