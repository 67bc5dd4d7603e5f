"""Every HTML page: CSP, framing, sniffing and referrer headers; nothing loaded from elsewhere."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from models import User, db
from tests.helpers.common import login

REQUIRED_CSP = ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'")
# Attributes that make a browser fetch something (a plain <a href> is a link, not a load).
LOADING = {"src", "srcset", "poster", "data", "action", "formaction"}


class Loads(HTMLParser):
    """Collects every URL a page would load, and any inline script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if value and (name in LOADING or (tag == "link" and name == "href")):
                self.urls.extend(v.strip().split(" ")[0] for v in value.split(","))
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script" and "src" not in attrs:
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")


def same_origin(url: str, issuer: str) -> bool:
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return not url.startswith(("//", "/\\"))
    if parts.scheme == "data":
        return True
    return f"{parts.scheme}://{parts.netloc}" == issuer


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("/static/style.css", True),
        ("style.css", True),
        ("http://127.0.0.1:8000/x", True),
        ("data:image/png;base64,AA", True),
        ("//cdn.example.com/x.js", False),
        ("https://cdn.example.com/x.js", False),
        ("/\\cdn.example.com", False),
    ],
)
def test_same_origin_helper(url, ok):
    assert same_origin(url, "http://127.0.0.1:8000") is ok


def check_page(response, issuer: str, label: str) -> None:
    assert response.status_code < 500, label
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    for directive in REQUIRED_CSP:
        assert directive in csp, (label, directive)
    assert headers.get("X-Frame-Options") == "DENY", label
    assert headers.get("X-Content-Type-Options") == "nosniff", label
    assert headers.get("Referrer-Policy") == "no-referrer", label
    parser = Loads()
    parser.feed(response.get_data(as_text=True))
    foreign = [u for u in parser.urls if not same_origin(u, issuer)]
    assert foreign == [], label
    assert parser.inline == [], label


def html_get_paths(app) -> list[str]:
    """Every GET route without URL arguments (the whole app, not only this module's pages)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )


def pages(client, app, label: str) -> list[tuple[str, object]]:
    found = []
    for path in [*html_get_paths(app), "/no/such/page", "/login?next=//evil&login_hint=x"]:
        response = client.get(path)
        if response.mimetype == "text/html":
            found.append((f"{label} {path}", response))
    return found


def test_every_html_page_signed_out(app, client):
    found = pages(client, app, "signed out")
    assert any("/login" in label for label, _ in found)
    for label, response in found:
        check_page(response, app.config["ISSUER"], label)


def test_every_html_page_as_admin(app, client, admin, user):
    login(client, "root", "admin password 123")
    found = pages(client, app, "admin")
    with db.connection_context():
        alice = User.by_username("alice").id
    for path in (f"/admin/users/{alice}/delete", "/admin/audit?actor=x&page=2"):
        found.append((f"admin {path}", client.get(path)))
    assert {"admin /admin/users", "admin /admin/audit"} <= {label for label, _ in found}
    for label, response in found:
        check_page(response, app.config["ISSUER"], label)


def test_every_html_page_as_user(app, client, admin, user):
    login(client, "alice", "correct horse battery")
    found = pages(client, app, "user")
    assert "user /admin/users" in {label for label, _ in found}  # the 403 page
    for label, response in found:
        check_page(response, app.config["ISSUER"], label)


def test_failed_and_throttled_login_pages(app, client, user):
    check_page(login(client, "alice", "wrong"), app.config["ISSUER"], "failed login")
    check_page(client.post("/login", data={}), app.config["ISSUER"], "invalid login form")
