"""Accounts: username/password/email rules, the user search parser and its query."""

from __future__ import annotations

import pytest

from models import AuditEvent, PersonalAccessToken, User, db
from oauth import crypto
from oauth.manage import users as accounts
from oauth.manage.users import AccountError, UserSearch, parse_user_search


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("  bob  ", "bob"),
        ("a", "a"),
        ("a" * 64, "a" * 64),
        ("first.last", "first.last"),
        ("under_score", "under_score"),
        ("dash-ed", "dash-ed"),
        ("007", "007"),
        ("", None),
        ("a" * 65, None),
        ("has space", None),
        ("ümlaut", None),
        ("at@sign", None),
        ("slash/", None),
        ("plus+", None),
        ("tab\tname", None),
        ("new\nline", None),
        ("semi;colon", None),
        (".", None),
        ("..", None),
        ("...", "..."),
    ],
)
def test_username_rules(raw, expected):
    if expected is None:
        with pytest.raises(AccountError, match="1-64 characters"):
            accounts.check_username(raw)
    else:
        assert accounts.check_username(raw) == expected


@pytest.mark.parametrize("name", ["bell\x07", "nul\x00x", "rtl\u202eevil", "zero\u200bwidth"])
def test_names_refuse_control_and_invisible_characters(name):
    with pytest.raises(AccountError, match="control"):
        accounts.check_name(name)


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short", False),
        ("1234567", False),
        ("12345678", True),
        ("x" * 1024, True),
        ("x" * 1025, False),
    ],
)
def test_password_length(password, ok):
    if ok:
        assert accounts.check_password(password) == password
    else:
        with pytest.raises(AccountError):
            accounts.check_password(password)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("", None),
        (None, None),
        (" ada@example.com ", "ada@example.com"),
        ("no-at-sign", AccountError),
        ("two@@example.com", AccountError),
        ("sp ace@example.com", AccountError),
        ("@example.com", AccountError),
    ],
)
def test_email_rules(email, expected):
    if expected is AccountError:
        with pytest.raises(AccountError):
            accounts.check_email(email)
    else:
        assert accounts.check_email(email) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", UserSearch()),
        ("   ", UserSearch()),
        ("role:admin", UserSearch(role="admin")),
        ("ROLE:Admin", UserSearch(role="admin")),
        ("role:user", UserSearch(role="user")),
        ("role:admin name:al", UserSearch(role="admin", name=("al",))),
        ("email:@example.com", UserSearch(email=("@example.com",))),
        ("username:ali", UserSearch(username=("ali",))),
        ('name:"Ada L"', UserSearch(name=("Ada L",))),
        ("ada lovelace", UserSearch(text=("ada", "lovelace"))),
        ("name:a name:b", UserSearch(name=("a", "b"))),
        ("role:admin role:admin", UserSearch(role="admin")),
        ("email:a:b", UserSearch(email=("a:b",))),
        ("ada role:user", UserSearch(role="user", text=("ada",))),
    ],
)
def test_parse_user_search(query, expected):
    assert parse_user_search(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("colour:red", "unknown search key 'colour'"),
        ("is:admin", "unknown search key 'is'"),
        ("http://example.com", "unknown search key 'http'"),
        ("role:owner", "role: is admin or user"),
        ("role:admin role:user", "role: is admin or user"),
        ("name:", "name: needs a value"),
        ('name:"unbalanced', "unbalanced quote"),
    ],
)
def test_parse_user_search_errors(query, message):
    with pytest.raises(AccountError, match=message):
        parse_user_search(query)


def test_unknown_key_error_lists_the_known_keys():
    with pytest.raises(AccountError) as info:
        parse_user_search("foo:bar")
    for key in accounts.SEARCH_KEYS:
        assert f"{key}:" in str(info.value)


@pytest.fixture
def people(app):
    with db.connection_context():
        accounts.create_user("ada", email="ada@example.com", name="Ada Lovelace", is_admin=True)
        accounts.create_user("alan", email="alan@example.org", name="Alan Turing")
        accounts.create_user("grace", email="grace@example.com", name="Grace Hopper")
        accounts.create_user("root", is_admin=True)


@pytest.mark.parametrize(
    ("query", "usernames"),
    [
        ("", ["ada", "alan", "grace", "root"]),
        ("role:admin", ["ada", "root"]),
        ("role:user", ["alan", "grace"]),
        ("role:admin name:al", []),
        ("role:admin name:love", ["ada"]),
        ("name:al", ["alan"]),
        ("email:@example.com", ["ada", "grace"]),
        ("EMAIL:@EXAMPLE.COM", ["ada", "grace"]),
        ("username:a", ["ada", "alan", "grace"]),
        ("hopper", ["grace"]),
        ("a example.org", ["alan"]),
        ("%", []),
        ("_", []),
        ("nobody", []),
    ],
)
def test_search_users(people, query, usernames):
    with db.connection_context():
        assert [u.username for u in accounts.search_users(query)] == usernames


def test_add_user_audits_fields_but_never_the_password(app):
    with db.connection_context():
        accounts.add_user("cli", "", "Zed", "a long password", "zed@example.com", "Zed", True)
        event = AuditEvent.get(AuditEvent.action == "user.create")
        user = User.by_username("zed")
    assert event.target == "zed"
    assert event.changes == {
        "username": [None, "zed"],
        "email": [None, "zed@example.com"],
        "name": [None, "Zed"],
        "is_admin": [None, True],
    }
    assert "a long password" not in str(event.changes)
    assert user.password_hash not in str(event.changes)


def test_duplicate_username_is_a_clear_error(user):
    with db.connection_context(), pytest.raises(AccountError, match="already exists"):
        accounts.add_user("cli", "", "ALICE", "another password")


def test_last_admin_cannot_be_demoted_or_deleted(admin, user):
    with db.connection_context():
        with pytest.raises(AccountError, match="last administrator"):
            accounts.set_admin("cli", "", admin, False)
        with pytest.raises(AccountError, match="last administrator"):
            accounts.delete_user("cli", "", admin)
        accounts.set_admin("cli", "", user, True)
        accounts.set_admin("cli", "", admin, False)
        assert not User.get_by_id(admin.id).is_admin
        assert User.get_by_id(user.id).is_admin


def test_personal_token_is_stored_as_digest(user):
    with db.connection_context():
        token = accounts.new_personal_token("cli", "", user)
        row = PersonalAccessToken.get(PersonalAccessToken.user == user.id)
        audited = AuditEvent.get(AuditEvent.action == "user.token.create")
    assert token.startswith("gpt_")
    assert row.token_hash == crypto.sha256_hex(token)
    assert token not in str(audited.changes)
