"""In real headless Chromium: a reset user signs in, is held on the change page, changes it."""

from __future__ import annotations

import re

import pytest

from tests.helpers.live import running

NEW = "my own long passphrase"


@pytest.fixture
def server(tmp_path):
    with running(tmp_path, workers=2) as server:
        yield server


@pytest.mark.browser
def test_a_reset_user_must_change_the_password_through_the_page(server, page):
    problems: list[str] = []  # CSP violations and script errors show up on the console
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    server.flask("users", "create", "alice", "--password", "first password 1")
    printed = server.flask("users", "passwd", "alice")
    one_time = re.search(r"one-time password for alice: (\S+)", printed)[1]

    page.goto(server.url + "/login?next=/account/apps")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", one_time)
    page.click("#login-form [type=submit]")
    page.wait_for_url(re.compile(r"/account/password\?next="))
    assert "one-time password" in page.inner_text("#must-change")
    assert "8 to 1024 characters" in page.inner_text("#password-rule")  # before typing

    page.goto(server.url + "/account")  # nothing else opens until the password is changed
    page.wait_for_url(re.compile(r"/account/password\?next="))

    page.fill("#current", one_time)
    page.fill("#new", NEW)
    page.fill("#confirm", NEW)
    page.click("#change-password")
    page.wait_for_url("**/account")
    assert "Your password is changed" in page.inner_text("main")
    assert "this session" in page.inner_text("#sessions tr.current")
    assert "Chrome" in page.inner_text("#sessions tr.current")

    page.click("header form button")  # sign out, then in again with the new password
    page.goto(server.url + "/login?next=/account")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", NEW)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/account")
    assert problems == []
