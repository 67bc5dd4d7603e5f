"""The sign-in, consent and revoke pages in a real browser, against gunicorn with 4 workers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.helpers.authorize import CHALLENGE, REDIRECT
from tests.helpers.common import query_of

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_login_consent_and_revoke_in_a_browser(live_server, page):
    live_server.flask("users", "create", "alice", "--password", "correct horse battery")
    app = json.loads(
        live_server.flask(
            "clients", "create", "--name", "Browser App", "--redirect-uri", REDIRECT, "--json"
        )
    )
    callbacks: list[str] = []
    page.route(
        REDIRECT + "*",
        lambda route: (callbacks.append(route.request.url), route.fulfill(body="done")),
    )
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "s t&ü",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "login_hint": "alice",
    }
    page.goto(f"{live_server.url}/oauth2/authorize?{urlencode(query)}")
    assert page.input_value("input[name=username]") == "alice"
    page.fill("input[name=password]", "correct horse battery")
    page.click("#login-form [type=submit]")
    page.wait_for_selector("#consent-form")
    assert "Browser App" in page.inner_text("h1")
    page.click("#consent-form button[value=allow]")
    page.wait_for_url(REDIRECT + "*")
    returned = query_of(callbacks[-1])
    assert returned["code"].startswith("gac_")
    assert returned["state"] == "s t&ü"
    assert returned["iss"] == live_server.url

    page.goto(f"{live_server.url}/account/apps")
    assert "Browser App" in page.inner_text("#authorized-apps")
    page.click(".revoke-form button")
    page.wait_for_selector("#no-apps")
    assert violations == []
