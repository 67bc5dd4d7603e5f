"""The consent page and POST /oauth2/consent: signed, session-bound, CSRF-protected decisions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from models import AuthorizationCode, Consent, Resource, db
from oauth import crypto
from oauth.rules.bearer import find_access_token
from tests.helpers import ISSUER
from tests.helpers.authorize import (
    CHALLENGE,
    REDIRECT,
    VERIFIER,
    approve,
    code_of,
    params,
    pending_of,
    sign_in,
)
from tests.helpers.common import make_client, query_of


@pytest.fixture
def app_client(app):
    return make_client(name="Photo Printer")[0]


def consent_page(client, app_client, **overrides):
    response = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, **overrides)
    )
    assert response.status_code == 200, response.headers.get("Location")
    return response


def test_consent_page_says_who_asks_for_what(client, app_client, user):
    sign_in(client)
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", name="Notes MCP", scopes="notes:read")
    page = consent_page(
        client,
        app_client,
        scope="openid email offline_access notes:read",
        resource="https://mcp.example.com/mcp",
        prompt="consent",
    )
    html = page.get_data(as_text=True)
    assert 'id="consent-form"' in html
    assert 'name="csrf_token"' in html
    assert 'name="decision" value="allow"' in html and 'name="decision" value="deny"' in html
    assert "Photo Printer" in html
    assert "127.0.0.1:9999" in html  # the host the answer goes to
    assert "alice" in html
    for words in (
        "Confirm your identity",
        "See your email address",
        "Stay signed in (refresh tokens)",
        "Access Notes MCP: notes:read",
    ):
        assert words in html
    assert (
        "Notes MCP" in html and "https://mcp.example.com/</span><wbr>mcp" in html
    )  # wraps after /
    assert 'id="unverified-warning"' not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"  # no clickjacking of the Allow button


@pytest.mark.parametrize(
    ("registration", "warned"),
    [("admin", False), ("dynamic", True), ("metadata_document", True), ("mock", True)],
)
def test_self_registered_apps_are_marked_unverified(client, app, user, registration, warned):
    app_client = make_client(name="<b>Evil & Co</b>", registration=registration)[0]
    sign_in(client)
    html = consent_page(client, app_client).get_data(as_text=True)
    assert ('id="unverified-warning"' in html) is warned
    assert "<b>Evil" not in html and "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in html  # autoescaped


def test_allow_issues_a_code_with_every_field(client, app_client, user):
    sign_in(client)
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", name="Notes", scopes="notes:read")
    page = consent_page(
        client,
        app_client,
        scope="openid notes:read",
        nonce="n-0S6_WzA2Mj",
        resource="https://MCP.example.com/mcp",
        state="st ate&ü",
    )
    response = approve(client, page)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(REDIRECT + "?")
    returned = query_of(response.headers["Location"])
    assert set(returned) == {"code", "state", "iss"}
    assert returned["state"] == "st ate&ü"
    assert returned["iss"] == ISSUER
    assert returned["code"].startswith("gac_")
    assert response.headers["Cache-Control"] == "no-store"
    with db.connection_context():
        row = AuthorizationCode.get(code_hash=crypto.sha256(returned["code"]))
        assert row.client_id == app_client.id
        assert row.user_id == user.id
        assert row.redirect_uri == REDIRECT
        assert row.scope == "openid notes:read"
        assert row.resource == "https://MCP.example.com/mcp"  # as sent
        assert row.audience == "https://mcp.example.com/mcp"  # canonical, registered
        assert row.code_challenge == CHALLENGE
        assert row.code_challenge_method == "S256"
        assert row.nonce == "n-0S6_WzA2Mj"
        assert row.used_at is None and row.family_id is None
        assert row.expires_at - row.created_at == timedelta(seconds=300)
        assert row.auth_time <= row.created_at


def test_code_without_redirect_uri_or_resource_stores_null(client, app, user):
    only = make_client(redirect_uris=["https://app.example.com/cb"])[0]
    sign_in(client)
    page = consent_page(client, only, redirect_uri=None, scope=None, state=None)
    response = approve(client, page)
    returned = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith("https://app.example.com/cb?")
    assert "state" not in returned
    with db.connection_context():
        row = AuthorizationCode.get(code_hash=crypto.sha256(returned["code"]))
        assert row.redirect_uri is None
        assert row.resource is None
        assert row.audience == ISSUER
        assert row.scope == "openid profile email"  # the default (RFC 6749 §3.3)
        assert row.nonce is None


def test_deny_is_access_denied(client, app_client, user):
    sign_in(client)
    response = approve(client, consent_page(client, app_client), decision="deny")
    assert response.status_code == 303
    returned = query_of(response.headers["Location"])
    assert returned["error"] == "access_denied"
    assert returned["state"] == "xyz state"
    assert returned["iss"] == ISSUER
    with db.connection_context():
        assert AuthorizationCode.select().count() == 0
        assert Consent.select().count() == 0


@pytest.mark.parametrize("decision", ["", "maybe", "ALLOW"])
def test_unknown_decision_is_a_page(client, app_client, user, decision):
    sign_in(client)
    response = approve(client, consent_page(client, app_client), decision=decision)
    assert response.status_code == 400
    assert "Location" not in response.headers


def _tampered(pending: str, secret: str, change: dict) -> str:
    """Re-sign a changed payload with a key we do not have: the signature must not verify."""
    data = URLSafeTimedSerializer("test-secret-key-not-for-production", salt="consent").loads(
        pending
    )
    data["req"].update(change)
    return URLSafeTimedSerializer(secret, salt="consent").dumps(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p, s: p[:-2] + ("AA" if not p.endswith("AA") else "BB"),
        lambda p, s: p.replace(".", "x", 1),
        lambda p, s: "",
        lambda p, s: _tampered(p, "guessed", {"redirect_uri": "https://evil.example/cb"}),
        lambda p, s: _tampered(p, "guessed", {"scope": ["openid", "profile", "email"]}),
        lambda p, s: _tampered(p, "guessed", {"code_challenge": "A" * 43}),
        lambda p, s: URLSafeTimedSerializer(s, salt="other").dumps({"req": {}}),
    ],
)
def test_tampered_payload_is_a_page_not_a_code(client, app, app_client, user, mutate):
    sign_in(client)
    pending = pending_of(consent_page(client, app_client))
    response = client.post(
        "/oauth2/consent",
        data={"pending": mutate(pending, app.config["SECRET_KEY"]), "decision": "allow"},
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    with db.connection_context():
        assert AuthorizationCode.select().count() == 0


def test_payload_from_another_session_is_rejected(app, app_client, user):
    first, second = app.test_client(), app.test_client()
    sign_in(first)
    pending = pending_of(consent_page(first, app_client))
    sign_in(second)  # the same user, another browser
    response = second.post("/oauth2/consent", data={"pending": pending, "decision": "allow"})
    assert response.status_code == 400
    assert "another sign-in" in response.get_data(as_text=True)
    signed_out = app.test_client()
    response = signed_out.post("/oauth2/consent", data={"pending": pending, "decision": "allow"})
    assert response.status_code == 400
    with db.connection_context():
        assert AuthorizationCode.select().count() == 0


def test_payload_after_re_login_is_rejected(client, app_client, user):
    sign_in(client)
    pending = pending_of(consent_page(client, app_client))
    sign_in(client)  # a new session id for the same browser
    response = client.post("/oauth2/consent", data={"pending": pending, "decision": "allow"})
    assert response.status_code == 400


def test_expired_payload_is_rejected(client, app, app_client, user, monkeypatch):
    sign_in(client)
    pending = pending_of(consent_page(client, app_client))
    monkeypatch.setattr("oauth.rules.consent.CONSENT_MAX_AGE", -1)
    response = client.post("/oauth2/consent", data={"pending": pending, "decision": "allow"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_deleted_client_between_page_and_post(client, app_client, user):
    sign_in(client)
    page = consent_page(client, app_client)
    with db.connection_context():
        app_client.delete_instance()
    response = approve(client, page)
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.fixture
def csrf_on(config):
    config["WTF_CSRF_ENABLED"] = True


def test_consent_without_csrf_token_is_400(csrf_on, client, app_client, user):
    sign_in(client)  # /login refuses without a token; sign_in falls back
    page = consent_page(client, app_client)
    response = client.post(
        "/oauth2/consent", data={"pending": pending_of(page), "decision": "allow"}
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    with db.connection_context():
        assert AuthorizationCode.select().count() == 0


def test_consent_with_csrf_token_works(csrf_on, client, app_client, user):
    sign_in(client)  # /login refuses without a token; sign_in falls back
    page = consent_page(client, app_client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(
        "/oauth2/consent",
        data={"pending": pending_of(page), "decision": "allow", "csrf_token": token},
    )
    assert code_of(response).startswith("gac_")


def test_new_code_does_not_touch_older_codes(client, app_client, user):
    sign_in(client)
    first = code_of(approve(client, consent_page(client, app_client, prompt="consent")))
    second = code_of(approve(client, consent_page(client, app_client, prompt="consent")))
    assert first != second
    with db.connection_context():
        rows = list(AuthorizationCode.select())
        assert len(rows) == 2
        assert all(r.used_at is None for r in rows)


def test_new_grant_leaves_older_tokens_alive(client, app, user):
    """Signing in to the same app again adds a grant; the first one's tokens keep working."""
    public = make_client(public=True)[0]
    sign_in(client)
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    form.update(client_id=public.client_id, code_verifier=VERIFIER)
    tokens = []
    for _ in range(2):
        code = code_of(approve(client, consent_page(client, public, prompt="consent")))
        tokens.append(client.post("/oauth2/token", data={**form, "code": code}).get_json())
    with db.connection_context():
        assert all(find_access_token(t["access_token"]) for t in tokens)
    refreshed = client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens[0]["refresh_token"],
            "client_id": public.client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.get_json()


# -- remembered consent --------------------------------------------------------------------


def test_remembered_consent_skips_the_page(client, app_client, user):
    sign_in(client)
    approve(client, consent_page(client, app_client, scope="openid profile email"))
    response = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, scope="openid email")
    )
    assert response.status_code == 302
    returned = query_of(response.headers["Location"])
    assert returned["state"] == "xyz state" and returned["iss"] == ISSUER
    with db.connection_context():
        row = AuthorizationCode.get(code_hash=crypto.sha256(returned["code"]))
        assert row.scope == "openid email"


@pytest.mark.parametrize(
    "overrides",
    [
        {"prompt": "consent"},
        {"scope": "openid profile email"},  # more than was allowed
        {"scope": "openid offline_access"},  # a refresh token is always asked for
    ],
)
def test_remembered_consent_does_not_skip(client, app_client, user, overrides):
    sign_in(client)
    approve(client, consent_page(client, app_client, scope="openid profile"))
    consent_page(client, app_client, **overrides)  # asserts 200: the page again


def test_remembered_consent_is_per_audience(client, app_client, user):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", name="Notes")
    sign_in(client)
    approve(client, consent_page(client, app_client))
    consent_page(client, app_client, resource="https://mcp.example.com/mcp")


def test_consent_scopes_accumulate(client, app_client, user):
    sign_in(client)
    approve(client, consent_page(client, app_client, scope="openid"))
    approve(client, consent_page(client, app_client, scope="email"))
    with db.connection_context():
        assert Consent.get().scope == "openid email"
    response = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, scope="email openid")
    )
    assert code_of(response)


@pytest.mark.parametrize("resource", [None, "https://mcp.example.com/mcp"])
def test_issued_code_redeems_at_the_token_endpoint(client, app, user, resource):
    """The code's fields are what /oauth2/token checks: redirect_uri, verifier, resource."""
    public = make_client(public=True)[0]
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", name="Notes", scopes="notes:read")
    sign_in(client)
    page = consent_page(client, public, resource=resource, scope="openid notes:read")
    code = code_of(approve(client, page))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": public.client_id,
        "code_verifier": VERIFIER,
    }
    if resource:
        form["resource"] = resource
    response = client.post("/oauth2/token", data=form)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid notes:read"
    with db.connection_context():
        token = find_access_token(body["access_token"])
        assert token.audience == (resource or ISSUER)
        assert token.user_id == user.id
