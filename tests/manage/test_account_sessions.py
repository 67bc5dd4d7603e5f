"""/account lists one's sessions in plain words; sign out one, or everywhere else."""

from __future__ import annotations

import re

import pytest

from models import AuditEvent, UserSession, db
from oauth.manage.sessions import describe_device
from tests.helpers.common import login

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("agent", "words"),
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (CHROME_ANDROID, "Chrome on Android"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge on Windows",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0 Safari/537.36", "Chrome on Linux"),
        ("curl/8.5.0", "curl"),
        ("Wget/1.21", "Wget"),
        ("", "Unknown device"),
    ],
)
def test_devices_in_plain_words(agent, words):
    assert describe_device(agent) == words


def signed_in(app, agent, address):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": address})
    assert login(client).status_code == 302
    return client


def session_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-session-id="(\d+)"', page)]


def test_account_lists_sessions_with_device_address_and_the_current_one(app, user):
    laptop = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    signed_in(app, CHROME_ANDROID, "198.51.100.7")
    page = laptop.get("/account").text
    assert "Firefox on Windows" in page and "192.0.2.10" in page
    assert "Chrome on Android" in page and "198.51.100.7" in page
    current = re.findall(r'<tr data-session-id="\d+" class="current">.*?</tr>', page, re.S)
    assert len(current) == 1 and "Firefox on Windows" in current[0] and "this session" in current[0]
    assert len(session_ids(page)) == 2


def test_ended_sessions_are_not_listed(app, user):
    laptop = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    phone = signed_in(app, CHROME_ANDROID, "198.51.100.7")
    phone.post("/logout")
    assert "Chrome on Android" not in laptop.get("/account").text


def test_sign_out_one_session(app, user):
    laptop = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    phone = signed_in(app, CHROME_ANDROID, "198.51.100.7")
    mine = re.search(r'<tr data-session-id="(\d+)" class="current">', laptop.get("/account").text)
    phones = [i for i in session_ids(laptop.get("/account").text) if i != int(mine[1])]
    response = laptop.post("/account/sessions/end", data={"session_id": phones[0]})
    assert response.status_code == 303
    assert phone.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200
    with db.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "user.session.end").count() == 1


def test_signing_out_this_session_signs_you_out(app, user):
    laptop = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    (mine,) = session_ids(laptop.get("/account").text)
    response = laptop.post("/account/sessions/end", data={"session_id": mine})
    assert response.headers["Location"] == "/login"
    assert laptop.get("/account").status_code == 302


def test_nobody_ends_someone_elses_session(app, user, admin):
    alices = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    (theirs,) = session_ids(alices.get("/account").text)
    root = app.test_client()
    login(root, "root", "admin password 123")
    response = root.post("/account/sessions/end", data={"session_id": theirs})
    assert response.status_code == 404
    assert alices.get("/account").status_code == 200


def test_sign_out_everywhere_ends_all_other_sessions(app, user):
    laptop = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    others = [signed_in(app, CHROME_ANDROID, f"198.51.100.{n}") for n in (1, 2)]
    assert "Sign out everywhere" in laptop.get("/account").text
    response = laptop.post("/account/sessions/end-others")
    assert response.status_code == 303
    assert all(o.get("/account").status_code == 302 for o in others)
    assert laptop.get("/account").status_code == 200
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.action == "user.session.end_all")
        assert event.changes == {"sessions_ended": [None, 2]}
        assert UserSession.select().where(UserSession.revoked_at.is_null()).count() == 1


def test_last_seen_is_recorded_when_a_session_is_used(app, user):
    laptop = signed_in(app, FIREFOX_WINDOWS, "192.0.2.10")
    with db.connection_context():
        UserSession.update(last_seen_at=None).execute()
    laptop.get("/account")
    with db.connection_context():
        assert UserSession.get().last_seen_at is not None
