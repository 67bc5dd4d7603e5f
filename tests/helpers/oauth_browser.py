"""A headless user agent for tests: follow an authorization URL, sign in, approve, read the code.

It plays the browser's part of the code flow with plain httpx and a cookie jar: GET the
authorization URL, follow Gatehouse's own redirects, fill the sign-in form and the consent
form (each with its hidden `csrf_token`), and stop at the redirect back to the client's
`redirect_uri`; nothing needs to listen there. Only loopback URLs are ever requested.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class FormParser(HTMLParser):
    """Collects each <form>: its attributes and its named <input> values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        typed = attributes.get("type") not in ("submit", "button", "checkbox", "radio")
        if tag == "form":
            self.forms.append({"attrs": attributes, "fields": {}})
        elif tag == "input" and self.forms and attributes.get("name") and typed:
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value", "")


def forms_of(html: str) -> list[dict]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def _check_loopback(url: str) -> str:
    if urlsplit(url).hostname not in LOOPBACK:
        raise AssertionError(f"refusing to follow a non-loopback URL: {url}")
    return url


def authorize(
    authorize_url: str,
    username: str,
    password: str,
    *,
    http: httpx.Client | None = None,
    decision: str = "allow",
) -> dict[str, str]:
    """Drive the flow to the redirect back to `redirect_uri`; return that redirect's query.

    Pass `http` to keep one cookie jar (one signed-in browser) across several authorizations.
    """
    redirect_uri = parse_qs(urlsplit(authorize_url).query)["redirect_uri"][0]
    browser = http or httpx.Client(timeout=15)
    try:
        response = browser.get(_check_loopback(authorize_url))
        signed_in = False
        for _ in range(12):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(redirect_uri):
                    query = parse_qs(urlsplit(location).query)
                    return {k: v[0] for k, v in query.items()}
                response = browser.get(_check_loopback(location))
                continue
            if response.status_code != 200:
                raise AssertionError(
                    f"HTTP {response.status_code} at {response.url}:\n{response.text[:800]}"
                )
            form, data = _next_form(response.text, username, password, decision)
            if "password" in data:
                if signed_in:
                    raise AssertionError(f"sign-in as {username!r} failed at {response.url}")
                signed_in = True
            action = urljoin(str(response.url), form["attrs"].get("action") or "")
            response = browser.post(_check_loopback(action), data=data)
        raise AssertionError("too many steps before the redirect back to the client")
    finally:
        if http is None:
            browser.close()


def _next_form(html: str, username: str, password: str, decision: str) -> tuple[dict, dict]:
    """The form a person would submit on this page, and what they would type into it."""
    for form in forms_of(html):
        fields = dict(form["fields"])
        if "password" in fields:
            fields.update(username=username, password=password)
            return form, fields
        if form["attrs"].get("id") == "consent-form":
            fields["decision"] = decision
            return form, fields
    raise AssertionError(f"no sign-in or consent form on the page:\n{html[:800]}")


def drive_consent(
    authorize_url: str, username: str, password: str, *, http: httpx.Client | None = None
) -> tuple[str, str | None, str | None]:
    """Sign in and allow; return (code, state, iss) from the redirect to the client."""
    query = authorize(authorize_url, username, password, http=http)
    if "code" not in query:
        raise AssertionError(f"authorization failed: {query}")
    return query["code"], query.get("state"), query.get("iss")
