"""Admin pages for applications and resources: /admin/apps, /admin/resources."""

from __future__ import annotations

import re

import pytest

from app import create_app
from models import AuditEvent, Client, ClientSecret, Resource, db
from oauth import crypto
from tests.helpers.common import login, make_client

FORM = {
    "name": "Web App",
    "client_type": "confidential",
    "token_endpoint_auth_method": "",
    "redirect_uris": "https://web.example.com/cb\r\n\r\nhttp://127.0.0.1/cb\n",
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile",
    "logo_uri": "",
    "client_uri": "https://web.example.com",
}
SECRET = re.compile(r"gcs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def browser(client, admin):
    """A test client signed in as the admin."""
    assert login(client, "root", "admin password 123").status_code == 302
    return client


def stored_secret_hashes() -> list[str]:
    with db.connection_context():
        return [s.secret_hash for s in ClientSecret.select()]


@pytest.mark.parametrize(
    "path",
    ["/admin/apps", "/admin/apps/new", "/admin/apps/x", "/admin/apps/x/edit", "/admin/resources"],
)
def test_pages_need_an_admin(client, user, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    login(client)
    assert client.get(path).status_code == 403


def test_list_shows_apps_and_marks_dynamic_ones(browser):
    make_client(name="Admin Made")
    make_client(name="Self Registered", registration="dynamic")
    page = browser.get("/admin/apps").get_data(as_text=True)
    assert "Admin Made" in page and "Self Registered" in page
    assert "not vetted" in page
    filtered = browser.get("/admin/apps?q=self").get_data(as_text=True)
    assert "Admin Made" not in filtered and "Self Registered" in filtered


def test_create_shows_the_secret_once(browser, app):
    response = browser.post("/admin/apps/new", data=FORM)
    with db.connection_context():
        client = Client.get()
    assert response.status_code == 303  # POST -> redirect -> GET: a reload mints nothing
    assert response.headers["Location"] == f"/admin/apps/{client.client_id}"
    response = browser.get(response.headers["Location"])
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Copy it now: it is shown this once" in page
    secret = SECRET.search(page).group(0)
    assert [crypto.sha256_hex(secret)] == stored_secret_hashes()
    assert client.redirect_uris == ["https://web.example.com/cb", "http://127.0.0.1/cb"]
    assert client.scope == "openid profile"
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert client.client_id in page
    assert f"{app.config['ISSUER']}/</span><wbr>oauth2/<wbr>token" in page
    again = browser.get(f"/admin/apps/{client.client_id}").get_data(as_text=True)
    assert secret not in again
    assert secret[-6:] in again  # listed by its last six characters
    with browser.session_transaction() as session:
        assert secret not in str(dict(session))


def test_create_lists_every_problem(browser):
    bad = {**FORM, "name": "", "redirect_uris": "javascript:alert(1)\nhttp://evil.example/cb"}
    bad |= {"logo_uri": "http://x.example/l.png", "client_type": "public"}
    bad["grant_types"] = ["client_credentials"]
    response = browser.post("/admin/apps/new", data=bad)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for field in ("name", "redirect_uris", "logo_uri", "grant_types"):
        assert f'data-field="{field}"' in page
    assert page.count('data-field="redirect_uris"') == 2
    assert "javascript:alert(1)" in page  # echoed back, escaped, in the textarea
    with db.connection_context():
        assert Client.select().count() == 0


def test_form_needs_csrf(config, admin):
    config["WTF_CSRF_ENABLED"] = True
    client = create_app(config).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": "root", "password": "admin password 123", "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302
    assert client.post("/admin/apps/new", data=FORM).status_code == 400
    with db.connection_context():
        assert Client.select().count() == 0


def test_edit_prefills_and_saves_with_audit(browser):
    client, _ = make_client(name="Before", redirect_uris=["https://a.example/cb"])
    page = browser.get(f"/admin/apps/{client.client_id}/edit").get_data(as_text=True)
    assert 'value="Before"' in page and "https://a.example/cb" in page
    form = {**FORM, "name": "After", "redirect_uris": "https://a.example/cb"}
    response = browser.post(f"/admin/apps/{client.client_id}/edit", data=form)
    assert response.status_code == 302
    with db.connection_context():
        assert Client.get().name == "After"
        event = AuditEvent.get(AuditEvent.action == "app.update")
    assert event.actor == "root" and event.changes["name"] == ["Before", "After"]


def test_generate_and_delete_secret(browser):
    client, first = make_client()
    response = browser.post(f"/admin/apps/{client.client_id}/secrets")
    assert response.status_code == 303
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Copy it now: it is shown this once" in page
    assert "data-replace-url" not in page  # no script needed to keep reloads off the POST
    secret = SECRET.search(page).group(0)
    assert secret != first and len(stored_secret_hashes()) == 2
    with db.connection_context():
        old = ClientSecret.get(ClientSecret.last6 == first[-6:])
    response = browser.post(f"/admin/apps/{client.client_id}/secrets/{old.id}/delete")
    assert response.status_code == 303
    assert stored_secret_hashes() == [crypto.sha256_hex(secret)]


def test_public_app_has_no_secret_section(browser):
    client, _ = make_client(public=True)
    assert "generate-secret" not in browser.get(f"/admin/apps/{client.client_id}").text
    assert browser.post(f"/admin/apps/{client.client_id}/secrets").status_code == 400


def test_delete_asks_first_then_deletes(browser):
    client, _ = make_client(name="Doomed")
    page = browser.get(f"/admin/apps/{client.client_id}/delete").get_data(as_text=True)
    assert "Every access and refresh token of this app stops working" in page
    with db.connection_context():
        assert Client.select().count() == 1
    response = browser.post(f"/admin/apps/{client.client_id}/delete")
    assert response.status_code == 302
    with db.connection_context():
        assert Client.select().count() == 0


def test_unknown_app_is_404_page(browser):
    response = browser.get("/admin/apps/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_pages_load_only_our_script(browser):
    client, _ = make_client()
    response = browser.get(f"/admin/apps/{client.client_id}")
    page = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/admin.js">']
    assert " style=" not in page and "onclick" not in page


def test_resources_add_list_delete(browser):
    owner, _ = make_client(name="Owner App")
    data = {"uri": "HTTPS://Api.Example.com/mcp", "name": "MCP", "scopes": "mcp:tools"}
    response = browser.post("/admin/resources", data={**data, "owner": owner.client_id})
    assert response.status_code == 302
    page = browser.get("/admin/resources").get_data(as_text=True)
    assert "https://api.example.com/mcp" in page and "Owner App" in page
    with db.connection_context():
        row = Resource.get()
    assert row.owner_id == owner.id and row.scopes == "mcp:tools"
    assert browser.post(f"/admin/resources/{row.id}/delete").status_code == 302
    with db.connection_context():
        assert Resource.select().count() == 0
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions[-2:] == ["resource.add", "resource.delete"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"uri": "https://api.example.com/#x"}, "fragment"),
        ({"uri": ""}, "absolute URI"),
        ({"uri": "https://api.example.com", "scopes": 'a"b'}, "scope tokens"),
    ],
)
def test_resources_add_problems(browser, data, message):
    response = browser.post("/admin/resources", data=data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
