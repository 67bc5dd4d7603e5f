"""/account/apps: the apps a user authorized, and revoking one (all its tokens and consent)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from models import (
    AccessToken,
    AuditEvent,
    AuthorizationCode,
    Consent,
    RefreshToken,
    Resource,
    TokenFamily,
    db,
    utcnow,
)
from oauth import crypto
from oauth.manage import users as accounts
from oauth.rules.bearer import find_access_token
from tests.helpers.authorize import approve, params, sign_in
from tests.helpers.common import make_client


def grant_tokens(client, user, audience="http://127.0.0.1:8000", scope="openid profile", ago=0):
    """A live token family with one access and one refresh token: returns the access token."""
    now = utcnow() - timedelta(seconds=ago)
    token, token_hash = crypto.new_token(crypto.ACCESS_TOKEN)
    with db.connection_context():
        family = TokenFamily.create(
            client=client,
            user=user,
            grant_type="authorization_code",
            scope=scope,
            audience=audience,
            created_at=now,
            expires_at=now + timedelta(days=90),
        )
        AccessToken.create(
            token_hash=token_hash,
            family_id=family.id,
            scope=scope,
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
        RefreshToken.create(
            token_hash=crypto.new_token(crypto.REFRESH_TOKEN)[1],
            family_id=family.id,
            scope=scope,
            created_at=now,
            expires_at=now + timedelta(days=30),
        )
    return token


def live(token: str) -> bool:
    with db.connection_context():
        return find_access_token(token) is not None


@pytest.fixture
def notes(app):
    return make_client(name="Notes App")[0]


@pytest.fixture
def calendar(app):
    return make_client(name="Calendar App", registration="dynamic")[0]


def test_signed_out_goes_to_login(client, app):
    response = client.get("/account/apps")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=%2Faccount%2Fapps")


def test_no_apps_yet(client, user):
    sign_in(client)
    page = client.get("/account/apps")
    assert page.status_code == 200
    assert 'id="no-apps"' in page.get_data(as_text=True)


def test_lists_consented_and_token_apps(client, user, notes, calendar):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", name="Notes MCP", scopes="notes:read")
    sign_in(client)
    consent = client.get(
        "/oauth2/authorize", query_string=params(notes.client_id, scope="openid email")
    )
    approve(client, consent)
    grant_tokens(calendar, user, audience="https://mcp.example.com/mcp", scope="notes:read", ago=60)
    html = client.get("/account/apps").get_data(as_text=True)
    assert "Notes App" in html and "Calendar App" in html
    assert "See your email address" in html  # the consent page's words, the name beside
    assert '<code class="muted">email</code>' in html
    assert "Access Notes MCP: notes:read" in html
    assert "Notes MCP" in html and "https://mcp.example.com/</span><wbr>mcp" in html
    assert "Gatehouse account API" in html
    assert "Not reviewed" in html  # the dynamically registered one
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", html)  # Calendar's last grant
    assert html.index("Calendar App") < html.index("Notes App")  # most recently authorized first
    assert 'name="csrf_token"' in html


def test_the_time_shown_is_the_last_authorization_and_says_so(client, user, notes):
    """Tokens carry no user, so a refresh is not recorded per user: the column is the newest
    grant, and its heading must not claim the app's last use."""
    grant_tokens(notes, user, ago=3 * 86400)
    sign_in(client)
    html = client.get("/account/apps").get_data(as_text=True)
    assert ">Last authorized</th>" in html and "Last used" not in html
    shown = (utcnow() - timedelta(days=3)).strftime("%Y-%m-%d")
    assert f"<td>{shown} " in html


def test_revoked_or_expired_families_are_not_listed(client, user, notes):
    grant_tokens(notes, user)
    with db.connection_context():
        TokenFamily.update(revoked_at=utcnow()).execute()
    sign_in(client)
    assert "Notes App" not in client.get("/account/apps").get_data(as_text=True)


def test_other_users_apps_are_not_listed(client, user, notes):
    with db.connection_context():
        bob = accounts.create_user("bob", password="another long password")
    grant_tokens(notes, bob)
    sign_in(client)
    assert "Notes App" not in client.get("/account/apps").get_data(as_text=True)


def test_revoke_kills_tokens_codes_and_consent(client, user, notes, calendar):
    sign_in(client)
    approve(client, client.get("/oauth2/authorize", query_string=params(notes.client_id)))
    first, second = grant_tokens(notes, user), grant_tokens(notes, user, scope="openid")
    other_app = grant_tokens(calendar, user)
    with db.connection_context():
        bob = accounts.create_user("bob", password="another long password")
    bobs = grant_tokens(notes, bob)
    assert live(first) and live(second)

    response = client.post("/account/apps/revoke", data={"client_id": notes.client_id})
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/apps"
    assert not live(first) and not live(second)
    assert live(other_app) and live(bobs)
    with db.connection_context():
        assert Consent.select().where(Consent.client == notes).count() == 0
        assert AuthorizationCode.select().where(AuthorizationCode.client == notes).count() == 0
        live_refresh = (
            RefreshToken.select()
            .join(TokenFamily, on=TokenFamily.id == RefreshToken.family_id)
            .where(TokenFamily.revoked_at.is_null())
        )
        assert live_refresh.count() == 2  # the other app's and bob's
        event = AuditEvent.get(AuditEvent.action == "account.app.revoke")
        assert (event.actor, event.target) == ("alice", notes.client_id)
        assert event.changes == {"live_token_families": [2, 0]}
    page = client.get("/account/apps").get_data(as_text=True)
    assert "Notes App can no longer use your account." in page
    # The next authorization asks again.
    again = client.get("/oauth2/authorize", query_string=params(notes.client_id))
    assert again.status_code == 200


@pytest.mark.parametrize("client_id", ["", "no-such-app"])
def test_revoke_unknown_app(client, user, client_id):
    sign_in(client)
    response = client.post("/account/apps/revoke", data={"client_id": client_id})
    assert response.status_code == 404
    assert "Location" not in response.headers


def test_revoke_requires_sign_in(client, user, notes):
    token = grant_tokens(notes, user)
    response = client.post("/account/apps/revoke", data={"client_id": notes.client_id})
    assert response.status_code == 302
    assert live(token)


@pytest.fixture
def csrf_on(config):
    config["WTF_CSRF_ENABLED"] = True  # before `app` is built


def test_revoke_without_csrf_token_is_400(csrf_on, client, user, notes):
    token = grant_tokens(notes, user)
    sign_in(client)
    response = client.post("/account/apps/revoke", data={"client_id": notes.client_id})
    assert response.status_code == 400
    assert live(token)
