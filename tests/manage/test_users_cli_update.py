"""`flask users update` and `flask users passwd`."""

from __future__ import annotations

import re

from models import AuditEvent, User, db
from oauth.manage import users as accounts
from tests.helpers.common import login


def run(runner, *args, input=None):
    return runner.invoke(args=["users", *args], input=input)


def get(username):
    with db.connection_context():
        return User.by_username(username)


def test_update_email_name_and_admin(runner, user, admin):
    result = run(runner, "update", "Alice", "--email", "a@example.org", "--name", "Ada", "--admin")
    assert result.exit_code == 0, result.output
    assert "alice: email: alice@example.com -> a@example.org" in result.output
    alice = get("alice")
    assert (alice.email, alice.name, alice.is_admin) == ("a@example.org", "Ada", True)
    result = run(runner, "update", "alice", "--no-admin", "--email", "")
    assert result.exit_code == 0, result.output
    assert (get("alice").is_admin, get("alice").email) == (False, None)
    with db.connection_context():
        actors = {e.actor for e in AuditEvent.select().where(AuditEvent.action == "user.update")}
    assert actors == {"cli"}


def test_update_needs_something_to_change(runner, user):
    result = run(runner, "update", "alice")
    assert result.exit_code == 2 and "nothing to change" in result.output


def test_update_refuses_bad_values_and_unknown_users(runner, user):
    assert "is not an email address" in run(runner, "update", "alice", "--email", "x").output
    assert "no user 'bob'" in run(runner, "update", "bob", "--name", "Bob").output
    assert get("alice").email == "alice@example.com"


def test_the_last_admin_keeps_the_flag(runner, admin):
    result = run(runner, "update", "root", "--no-admin")
    assert result.exit_code == 1 and "last administrator" in result.output
    assert get("root").is_admin


def test_passwd_prints_a_one_time_password_the_user_must_change(runner, client, user):
    login(client)
    result = run(runner, "passwd", "alice")
    assert result.exit_code == 0, result.output
    one_time = re.search(r"one-time password for alice: (\S+)   \(shown once\)", result.output)[1]
    assert client.get("/account").status_code == 302  # their session ended
    assert get("alice").must_change_password
    assert accounts.authenticate("alice", "correct horse battery") is None
    assert login(client, "alice", one_time).status_code == 302
    assert client.get("/account/apps").headers["Location"].startswith("/account/password")


def test_passwd_from_stdin_sets_that_password(runner, user):
    result = run(runner, "passwd", "alice", "--password-stdin", input="typed elsewhere\n")
    assert result.exit_code == 0, result.output
    assert "typed elsewhere" not in result.output
    assert accounts.authenticate("alice", "typed elsewhere") is not None
    assert not get("alice").must_change_password
    short = run(runner, "passwd", "alice", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "8 to 1024" in short.output
    assert accounts.authenticate("alice", "typed elsewhere") is not None
