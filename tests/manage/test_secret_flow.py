"""A new secret is shown once after POST -> redirect -> GET (no script needed), kept only as
ciphertext in between; deleting a secret asks first and says which tokens stop working."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from models import ClientSecret, ShownOnce, TokenFamily, db, utcnow
from tests.helpers.common import login, make_client

SECRET = re.compile(r"gcs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def browser(client, admin):
    assert login(client, "root", "admin password 123").status_code == 302
    return client


@pytest.fixture
def other_browser(app, admin):
    """A second signed-in admin session (another browser)."""
    other = app.test_client()
    assert login(other, "root", "admin password 123").status_code == 302
    return other


def generate(browser, client_id: str) -> str:
    """POST "Generate secret"; the Location it redirects to."""
    response = browser.post(f"/admin/apps/{client_id}/secrets")
    assert response.status_code == 303
    return response.headers["Location"]


def secret_count() -> int:
    with db.connection_context():
        return ClientSecret.select().count()


def test_the_secret_is_shown_once_and_a_reload_neither_shows_nor_mints(browser):
    app, _ = make_client()
    location = generate(browser, app.client_id)
    assert location == f"/admin/apps/{app.client_id}"
    shown = browser.get(location).get_data(as_text=True)
    secret = SECRET.search(shown).group(0)
    reload = browser.get(location).get_data(as_text=True)
    assert secret not in reload and 'id="new-secret"' not in reload
    assert secret_count() == 2  # the first one and this one: the reload minted nothing
    with db.connection_context():
        assert ShownOnce.select().count() == 0  # deleted when shown


def test_only_ciphertext_waits_in_the_database(browser):
    app, _ = make_client()
    location = generate(browser, app.client_id)
    with db.connection_context():
        row = ShownOnce.get()
    secret = SECRET.search(browser.get(location).get_data(as_text=True)).group(0)
    assert secret not in row.ciphertext and secret[-6:] not in row.ciphertext
    with browser.session_transaction() as session:
        assert secret not in str(dict(session))


def test_another_session_never_sees_it(browser, other_browser):
    app, _ = make_client()
    location = generate(browser, app.client_id)
    assert not SECRET.search(other_browser.get(location).get_data(as_text=True))
    assert SECRET.search(browser.get(location).get_data(as_text=True))


def test_another_apps_page_does_not_use_it_up(browser):
    app, _ = make_client(name="One")
    elsewhere, _ = make_client(name="Two")
    location = generate(browser, app.client_id)
    assert 'id="new-secret"' not in browser.get(f"/admin/apps/{elsewhere.client_id}").text
    assert SECRET.search(browser.get(location).get_data(as_text=True))


def test_an_expired_value_is_not_shown(browser):
    app, _ = make_client()
    location = generate(browser, app.client_id)
    with db.connection_context():
        ShownOnce.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert not SECRET.search(browser.get(location).get_data(as_text=True))
    with db.connection_context():
        assert ShownOnce.select().count() == 0


def live_family(secret: ClientSecret) -> TokenFamily:
    with db.connection_context():
        return TokenFamily.create(
            client=secret.client,
            client_secret=secret,
            grant_type="client_credentials",
            audience="http://127.0.0.1:8000",
            expires_at=utcnow() + timedelta(hours=1),
        )


def test_delete_asks_first_and_says_which_tokens_stop_working(browser):
    app, _ = make_client(name="Billing")
    with db.connection_context():
        secret = ClientSecret.get()
    family = live_family(secret)
    url = f"/admin/apps/{app.client_id}/secrets/{secret.id}/delete"
    app_page = browser.get(f"/admin/apps/{app.client_id}").get_data(as_text=True)
    assert f'href="{url}"' in app_page  # the app page links to the question, no form posts
    page = browser.get(url).get_data(as_text=True)
    assert f"…{secret.last6}" in page
    assert "1 live grant</strong> of" in page and "every access token and refresh token" in page
    assert "it has no\n    other secret" in page
    assert secret_count() == 1  # asking deletes nothing
    assert browser.post(url).status_code == 303
    assert secret_count() == 0
    with db.connection_context():
        assert TokenFamily.get_or_none(TokenFamily.id == family.id) is None or (
            TokenFamily.get_by_id(family.id).revoked_at is not None
        )


def test_delete_without_live_tokens_says_none_stop(browser):
    app, _ = make_client()
    with db.connection_context():
        secret = ClientSecret.get()
    page = browser.get(f"/admin/apps/{app.client_id}/secrets/{secret.id}/delete").text
    assert "No live token was issued with this secret" in page


def test_a_secret_of_another_app_is_404(browser):
    one, _ = make_client(name="One")
    make_client(name="Two")
    with db.connection_context():
        theirs = ClientSecret.get(ClientSecret.client != one)
    url = f"/admin/apps/{one.client_id}/secrets/{theirs.id}/delete"
    assert browser.get(url).status_code == 404
    assert browser.post(url).status_code == 404
    assert secret_count() == 2
