"""Changing one's own password, and an administrator's reset with its must-change gate."""

from __future__ import annotations

import re

import pytest

from models import AuditEvent, User, UserSession, db
from oauth.manage import users as accounts
from tests.helpers.common import login

OLD = "correct horse battery"
NEW = "a brand new passphrase"


def change(client, current=OLD, new=NEW, confirm=None, **extra):
    data = {"current": current, "new": new, "confirm": new if confirm is None else confirm}
    return client.post("/account/password", data={**data, **extra})


def events(action):
    with db.connection_context():
        return list(AuditEvent.select().where(AuditEvent.action == action))


def live_sessions(username):
    with db.connection_context():
        return (
            UserSession.select()
            .join(User)
            .where(User.username == username, UserSession.revoked_at.is_null())
            .count()
        )


def test_the_rules_are_on_the_form_before_typing(client, user):
    login(client)
    page = client.get("/account/password").text
    assert "Passwords are 8 to 1024 characters" in page
    assert 'aria-describedby="password-rule"' in page


def test_change_needs_the_current_password(client, user):
    login(client)
    response = change(client, current="not my password")
    assert response.status_code == 400
    assert "current password is not right" in response.text
    assert login(client.application.test_client(), "alice", OLD).status_code == 302
    assert events("user.password.change") == []


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short", None, "8 to 1024 characters"),
        (NEW, "something else", "two new passwords differ"),
        (OLD, None, "must differ from the current one"),
    ],
)
def test_a_bad_new_password_is_refused(client, user, new, confirm, message):
    login(client)
    response = change(client, new=new, confirm=confirm)
    assert response.status_code == 400
    assert message in response.text
    assert accounts.authenticate("alice", OLD) is not None


def test_change_ends_other_sessions_keeps_this_one_and_is_audited(app, client, user):
    other = app.test_client()
    login(client), login(other)
    assert live_sessions("alice") == 2
    response = change(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert live_sessions("alice") == 1
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302  # signed out
    assert accounts.authenticate("alice", OLD) is None
    assert accounts.authenticate("alice", NEW) is not None
    (event,) = events("user.password.change")
    assert (event.actor, event.target, event.changes["sessions_ended"]) == (
        "alice",
        "alice",
        [None, 1],
    )
    assert OLD not in str(event.changes) and NEW not in str(event.changes)


def test_change_needs_a_csrf_token(config, user):
    config["WTF_CSRF_ENABLED"] = True
    from app import create_app

    client = create_app(config).test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)[1]
    client.post("/login", data={"username": "alice", "password": OLD, "csrf_token": token})
    assert change(client).status_code == 400
    assert accounts.authenticate("alice", OLD) is not None
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/account/password").text
    )[1]
    assert change(client, csrf_token=token).status_code == 303


# -- an administrator's reset ----------------------------------------------------------------


def reset_in_ui(client, user) -> str:
    login(client, "root", "admin password 123")
    response = client.post(f"/admin/users/{user.id}/password")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return re.search(r'id="one-time-password-value">([^<]+)<', response.text)[1]


def test_admin_reset_shows_a_one_time_password_once_and_ends_sessions(app, client, user, admin):
    alices = app.test_client()
    login(alices)
    one_time = reset_in_ui(client, user)
    assert one_time not in client.get(f"/admin/users/{user.id}").text  # shown once
    assert alices.get("/account").status_code == 302
    assert accounts.authenticate("alice", OLD) is None
    (event,) = events("user.password.reset")
    assert event.actor == "root" and one_time not in str(event.changes)
    assert event.changes["must_change_password"] == [False, True]


def test_after_a_reset_the_user_can_only_change_the_password(app, client, user, admin):
    one_time = reset_in_ui(client, user)
    alices = app.test_client()
    response = login(alices, "alice", one_time)
    assert response.status_code == 302
    landed = alices.get(response.headers["Location"])
    assert landed.status_code == 302 and landed.headers["Location"].startswith("/account/password")
    for path in ("/account", "/account/apps", "/authorize?client_id=x"):
        assert alices.get(path).headers["Location"].startswith("/account/password?next=")
    blocked = alices.post("/account/sessions/end-others")
    assert (blocked.status_code, blocked.headers["Location"]) == (303, "/account/password")
    assert "one-time password" in alices.get("/account/password").text
    assert (
        change(alices, current=one_time, next="/account/apps").headers["Location"]
        == "/account/apps"
    )
    assert alices.get("/account/apps").status_code == 200
    with db.connection_context():
        assert User.by_username("alice").must_change_password is False


def test_admin_edits_name_email_and_admin_flag(client, user, admin):
    login(client, "root", "admin password 123")
    data = {"email": "ada@example.org", "name": "Ada", "is_admin": "y"}
    response = client.post(f"/admin/users/{user.id}", data=data)
    assert response.status_code == 303
    with db.connection_context():
        alice = User.by_username("alice")
    assert (alice.email, alice.name, alice.is_admin) == ("ada@example.org", "Ada", True)
    (event,) = events("user.update")
    assert event.changes == {
        "email": ["alice@example.com", "ada@example.org"],
        "name": ["Alice", "Ada"],
        "is_admin": [False, True],
    }
    bad = client.post(f"/admin/users/{user.id}", data={"email": "not an address"})
    assert bad.status_code == 400 and "is not an email address" in bad.text


def test_an_admin_cannot_drop_their_own_or_the_last_admin_flag(client, user, admin):
    login(client, "root", "admin password 123")
    response = client.post(f"/admin/users/{admin.id}", data={"name": "Root"})
    assert response.status_code == 400 and "your own admin rights" in response.text
    with db.connection_context(), pytest.raises(accounts.AccountError, match="last administrator"):
        accounts.update_user("cli", "", admin, is_admin=False)
    with db.connection_context():
        assert User.by_username("root").is_admin


def test_admin_ends_a_users_sessions(app, client, user, admin):
    alices = app.test_client()
    login(alices)
    login(client, "root", "admin password 123")
    assert "Not signed in anywhere" not in client.get(f"/admin/users/{user.id}").text
    response = client.post(f"/admin/users/{user.id}/sessions/end")
    assert response.status_code == 303
    assert alices.get("/account").status_code == 302
    assert live_sessions("root") == 1
    (event,) = events("user.session.end_all")
    assert (event.actor, event.target) == ("root", "alice")
