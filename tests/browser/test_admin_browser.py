"""In real headless Chromium: an admin creates an app, sees a new secret once, deletes the app."""

from __future__ import annotations

import re

import pytest

from tests.helpers.live import running

PASSWORD = "admin password 123"
SECRET = re.compile(r"^gcs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")
NOTICE = "Copy it now: it is shown this once"


@pytest.fixture
def server(tmp_path):
    with running(tmp_path, workers=2) as server:
        yield server


@pytest.mark.browser
def test_admin_creates_app_sees_secret_once_and_deletes_it(server, page):
    problems: list[str] = []  # CSP violations and script errors show up on the console
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    server.flask("users", "create", "root", "--password", PASSWORD, "--admin")

    page.goto(server.url + "/login?next=/admin/apps")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/admin/apps")

    page.click("#new-app")
    page.fill("input[name=name]", "Browser App")
    page.fill("textarea[name=redirect_uris]", "https://app.example.com/cb\nhttp://127.0.0.1/cb")
    page.click("#save-app")
    page.wait_for_selector("#new-secret")  # the first secret comes with the new app
    client_id = page.inner_text("#client-id")
    app_url = f"{server.url}/admin/apps/{client_id}"
    page.wait_for_url(app_url)  # POST -> redirect -> GET: the history entry is the app page

    page.click("#generate-secret")
    page.wait_for_url(app_url)
    assert NOTICE in page.inner_text("#new-secret")
    secret = page.inner_text("#new-secret-value")
    assert SECRET.match(secret)
    page.click("#new-secret button.copy")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.reload()  # a GET of the app page: no new secret, and the old one is gone for good
    assert page.url == app_url
    assert page.locator("#new-secret").count() == 0
    assert secret not in page.content()
    assert ("…" + secret[-6:]) in page.inner_text("#secrets")
    assert page.locator("#secrets tbody tr").count() == 2

    page.click("#delete-app")
    assert "stops working" in page.inner_text("#delete-warning")
    page.click("#confirm-delete")
    page.wait_for_url("**/admin/apps")
    assert "Browser App" not in page.inner_text("#apps")
    assert client_id not in server.flask("clients", "list")
    assert problems == []


# Lines of text in a table cell: one per line box of its text.
LINES = """cell => { const range = document.createRange(); range.selectNodeContents(cell);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; }"""


@pytest.mark.browser
def test_audit_log_keeps_times_actions_and_ips_on_one_line(server, page):
    server.flask("users", "create", "root", "--password", PASSWORD, "--admin")
    uri = "https://app.example.com/" + "callback/" * 6
    server.flask("clients", "create", "--name", "An app with a long name", "--redirect-uri", uri)
    page.set_viewport_size({"width": 1280, "height": 800})  # issue 12: readable at 1280 px
    page.goto(server.url + "/login?next=/admin/audit")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/admin/audit")

    cells = page.locator("#audit tbody td:is(:nth-child(1), :nth-child(3), :nth-child(6))")
    assert cells.count() == 3 * 3  # time, action and IP of three events
    # Times, actions and IPs stay whole on one line, however long the changes beside them.
    assert max(cells.nth(i).evaluate(LINES) for i in range(cells.count())) == 1  # CLI: no IP
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
