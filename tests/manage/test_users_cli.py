"""`flask users create|list|delete|token`."""

from __future__ import annotations

import pytest

from models import AuditEvent, PersonalAccessToken, User, UserSession, db
from oauth import crypto
from tests.helpers.common import login


def run(runner, *args, input=None):
    return runner.invoke(args=["users", *args], input=input)


def audit_actions(action):
    with db.connection_context():
        return [(e.actor, e.target) for e in AuditEvent.select().where(AuditEvent.action == action)]


def test_create_with_password(runner, client):
    result = run(
        runner,
        "create",
        "Ada",
        "--password",
        "analytical engine",
        "--email",
        "ada@example.com",
        "--name",
        "Ada L",
    )
    assert result.exit_code == 0, result.output
    assert result.output == "created user ada\n"
    with db.connection_context():
        user = User.by_username("ada")
    assert (user.email, user.name, user.is_admin) == ("ada@example.com", "Ada L", False)
    assert login(client, "ada", "analytical engine").status_code == 302
    assert audit_actions("user.create") == [("cli", "ada")]


def test_create_with_password_stdin_reads_one_line(runner, client):
    result = run(
        runner,
        "create",
        "bob",
        "--admin",
        "--password-stdin",
        input="stdin password\nsecond line\n",
    )
    assert result.exit_code == 0, result.output
    assert "stdin password" not in result.output
    assert result.output == "created administrator bob\n"
    assert login(client, "bob", "stdin password").status_code == 302


def test_create_without_password_prints_a_random_one_once(runner, client):
    result = run(runner, "create", "carol")
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ", 1)[1].split()[0]
    assert len(password) >= 16
    assert login(client, "carol", password).status_code == 302
    with db.connection_context():
        assert password not in str([e.changes for e in AuditEvent.select()])


def test_password_and_password_stdin_are_exclusive(runner):
    result = run(runner, "create", "dave", "--password", "x" * 10, "--password-stdin", input="y\n")
    assert result.exit_code == 2
    assert "either --password or --password-stdin" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name", "--password", "long enough"], "1-64 characters"),
        (["x" * 65, "--password", "long enough"], "1-64 characters"),
        (["émile", "--password", "long enough"], "1-64 characters"),
        (["", "--password", "long enough"], "1-64 characters"),
        (["erin", "--password", "short"], "passwords are 8"),
        (["erin", "--password", "long enough", "--email", "nope"], "not an email address"),
        (["alice", "--password", "long enough"], "already exists"),
    ],
)
def test_create_errors_are_clear(runner, user, args, message):
    result = run(runner, "create", *args)
    assert result.exit_code == 1
    assert message in result.output
    with db.connection_context():
        assert User.select().count() == 1


def test_list_prints_a_table(runner, user, admin):
    result = run(runner, "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["USERNAME", "EMAIL", "NAME", "ADMIN", "CREATED"]
    assert lines[1].split()[:3] == ["alice", "alice@example.com", "Alice"]
    assert lines[2].split()[:2] == ["root", "yes"]


@pytest.mark.parametrize(
    ("query", "usernames"),
    [
        ("role:admin", ["root"]),
        ("role:user", ["alice"]),
        ("email:@example.com", ["alice"]),
        ("ali", ["alice"]),
        ("nobody", []),
    ],
)
def test_list_with_query(runner, user, admin, query, usernames):
    result = run(runner, "list", "--q", query)
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == usernames


def test_list_with_unknown_key_is_an_error(runner):
    result = run(runner, "list", "--q", "colour:red")
    assert result.exit_code == 1
    assert "unknown search key 'colour'" in result.output


def test_delete_cascades_and_asks_nothing(runner, client, user):
    login(client, "alice", "correct horse battery")
    assert run(runner, "token", "alice").exit_code == 0
    result = run(runner, "delete", "ALICE")
    assert result.exit_code == 0
    assert result.output == "deleted user alice\n"
    with db.connection_context():
        assert User.by_username("alice") is None
        assert UserSession.select().count() == 0
        assert PersonalAccessToken.select().count() == 0
    assert client.get("/").headers["Location"].startswith("/login")
    assert audit_actions("user.delete") == [("cli", "alice")]


def test_delete_unknown_user(runner):
    result = run(runner, "delete", "ghost")
    assert result.exit_code == 1
    assert "no user 'ghost'" in result.output


def test_delete_refuses_the_last_admin(runner, admin):
    result = run(runner, "delete", "root")
    assert result.exit_code == 1
    assert "last administrator" in result.output


def test_token_prints_only_the_token(runner, admin):
    result = run(runner, "token", "root")
    assert result.exit_code == 0
    token = result.output
    assert token.endswith("\n") and token.count("\n") == 1
    token = token.strip()
    assert token.startswith("gpt_")
    with db.connection_context():
        row = PersonalAccessToken.get()
    assert row.token_hash == crypto.sha256_hex(token)
    assert audit_actions("user.token.create") == [("cli", "root")]


def test_token_for_unknown_user(runner):
    result = runner.invoke(args=["users", "token", "ghost"])
    assert result.exit_code == 1
    assert "no user 'ghost'" in result.output
