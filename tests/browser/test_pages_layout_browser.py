"""Admin and account pages in headless Chromium (issue 12 §2): identifiers stay whole, URLs
wrap only after a "/", links take the theme's colour, and a new secret is shown once and
deleting one asks first, all without scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.helpers.authorize import CHALLENGE, REDIRECT
from tests.helpers.live import running

pytestmark = [pytest.mark.browser, pytest.mark.live]

PASSWORD = "admin password 123"
SECRET = re.compile(r"gcs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# How many line boxes the text `needle` takes inside the element (1: never split).
LINES_OF = """(el, needle) => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const text = []; let node;
  while ((node = walker.nextNode())) text.push(node);
  const whole = text.map(n => n.data).join("");
  let at = whole.indexOf(needle);
  if (at < 0) return 0;
  const range = document.createRange(); let seen = 0;
  for (const n of text) {
    const end = seen + n.data.length;
    if (at >= seen && at < end) range.setStart(n, at - seen);
    if (at + needle.length > seen && at + needle.length <= end) {
      range.setEnd(n, at + needle.length - seen); break; }
    seen = end;
  }
  return new Set([...range.getClientRects()].filter(r => r.width > 0)
    .map(r => Math.round(r.top))).size;
}"""

# Every link's colour that is neither a button nor in the site header, and the theme's.
LINK_COLOURS = """() => {
  const probe = document.createElement("span"); probe.style.color = "var(--link)";
  document.body.append(probe); const theme = getComputedStyle(probe).color; probe.remove();
  const colours = [...document.querySelectorAll("main a:not(.button)")]
    .map(a => getComputedStyle(a).color);
  return {theme, colours};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running(tmp_path_factory.mktemp("pages"), workers=2) as server:
        server.flask("users", "create", "root", "--password", PASSWORD, "--admin")
        yield server


def sign_in(page, server, next_path: str) -> None:
    page.goto(f"{server.url}/login?next={next_path}")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**" + next_path.partition("?")[0] + "*")


def new_app(server, name: str, *uris: str) -> str:
    args = ["clients", "create", "--name", name, "--json"]
    for uri in uris or (REDIRECT,):
        args += ["--redirect-uri", uri]
    return json.loads(server.flask(*args))["client_id"]


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_client_ids_stay_on_one_line_and_tables_fit_1280(server, watched):
    for n in range(3):
        new_app(server, f"An application with a rather long name number {n}")
    watched.set_viewport_size({"width": 1280, "height": 900})
    sign_in(watched, server, "/admin/apps")
    cells = watched.locator("#apps td.client-id")
    assert cells.count() >= 3
    for i in range(cells.count()):
        client_id = cells.nth(i).inner_text().strip()
        assert len(client_id) == 32
        assert cells.nth(i).evaluate(LINES_OF, client_id) == 1
    assert watched.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(watched, "pages-apps-1280")
    assert watched.problems == []


def test_audit_log_reads_as_json_changes_with_words_whole(server, watched):
    new_app(server, "Audited", "https://app.example.com/" + "callback/" * 6)
    watched.set_viewport_size({"width": 1280, "height": 900})
    sign_in(watched, server, "/admin/audit?action=app.create")
    changes = watched.locator("#audit td.changes").first
    text = changes.inner_text()
    assert 'grant_types: null → ["authorization_code", "refresh_token"]' in text
    assert "— → —" not in text and "['" not in text and "True" not in text
    assert changes.evaluate(LINES_OF, "authorization_code") == 1
    assert changes.evaluate(LINES_OF, "https://") == 1
    assert watched.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(watched, "pages-audit-1280")


def test_consent_url_never_splits_inside_its_scheme(server, page):
    server.flask("users", "create", "carol", "--password", "correct horse battery")
    resource = "https://resource-server.example.com/" + "deeply/nested/" * 4 + "mcp"
    server.flask("resources", "add", resource, "--name", "Notes MCP", "--scope", "notes:read")
    client_id = new_app(server, "Consent layout")
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid notes:read",
        "state": "s",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "resource": resource,
    }
    page.set_viewport_size({"width": 400, "height": 800})  # a phone: the URL must wrap
    page.goto(f"{server.url}/oauth2/authorize?{urlencode(query)}")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", "correct horse battery")
    page.click("#login-form [type=submit]")
    page.wait_for_selector("#consent-form")
    shot(page, "pages-consent-400")
    card = page.locator(".card").first
    assert card.evaluate(LINES_OF, resource) > 1  # it does wrap here...
    assert card.evaluate(LINES_OF, "https://resource-server.example.com/") == 1  # ...not here
    for segment in ("deeply/", "nested/", "/mcp"):
        assert card.evaluate(LINES_OF, segment) == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(
    "path",
    ["/admin/apps", "/api/docs", "/playground"],  # the templates with plain links
)
def test_links_take_the_theme_colour(server, page, path):
    new_app(server, "Linked")
    sign_in(page, server, "/account/apps")
    page.goto(server.url + path)
    page.goto(server.url + path)  # visited now: still the theme's colour, not purple
    found = page.evaluate(LINK_COLOURS)
    assert found["colours"], "no link to check"
    assert found["theme"] not in ("rgb(0, 0, 238)", "rgb(85, 26, 139)")  # Chromium's own
    assert set(found["colours"]) == {found["theme"]}


def test_secret_shown_once_and_deleting_asks_first_without_scripts(server, browser):
    client_id = new_app(server, "No script")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, server, f"/admin/apps/{client_id}")
        page.click("#generate-secret")
        page.wait_for_selector("#new-secret")
        assert page.url == f"{server.url}/admin/apps/{client_id}"  # redirected: a GET
        secret = page.inner_text("#new-secret-value").strip()
        assert SECRET.fullmatch(secret)
        for label in ("Issuer", "Discovery URL", "JWKS", "Userinfo"):
            assert label in page.inner_text("#endpoints")
        assert page.inner_text("#endpoint-discovery") == (
            server.url + "/.well-known/openid-configuration"
        )
        shot(page, "pages-app-secret")
        page.reload()
        assert page.locator("#new-secret").count() == 0 and secret not in page.content()
        assert page.locator("#secrets tbody tr").count() == 2  # the reload minted nothing

        page.locator("a.delete-secret").first.click()
        page.wait_for_selector("#secret-delete-warning")
        assert "stop" in page.inner_text("#secret-delete-warning")
        shot(page, "pages-secret-delete")
        page.goto(f"{server.url}/admin/apps/{client_id}")
        assert page.locator("#secrets tbody tr").count() == 2  # asking deleted nothing
        page.locator("a.delete-secret").first.click()
        page.click("#confirm-secret-delete")
        page.wait_for_url(f"**/admin/apps/{client_id}")
        assert page.locator("#secrets tbody tr").count() == 1
    finally:
        context.close()
