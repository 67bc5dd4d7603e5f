"""User accounts: creation, passwords, search, audited changes (no Flask).

A little over 250 lines: the GitHub-style user search (`role:admin name:al`) is kept here
beside the rules it searches by, for the pages, the CLI and the tests alike.
"""

from __future__ import annotations

import re
import secrets
import shlex
import uuid
from dataclasses import dataclass, field

from peewee import IntegrityError, Select
from werkzeug.security import check_password_hash, generate_password_hash

from models import PersonalAccessToken, User, audit, db, utcnow
from oauth import crypto
from oauth.manage import sessions
from oauth.rules.text import normalize_username, text_problem

USERNAME_RULE = (
    "usernames are 1-64 characters of lowercase letters, digits, '.', '_' and '-' "
    "(but not '.' or '..')"
)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
PASSWORD_RULE = f"{MIN_PASSWORD} to {MAX_PASSWORD} characters; any characters, spaces too"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")

# A test suite may lower the cost ("scrypt:1024:8:1"); verification reads it from each hash.
PASSWORD_METHOD = "scrypt"  # noqa: S105 - a hash method name, not a password
# Compared against when the user does not exist, so both paths cost one scrypt check.
_DUMMY_HASH = generate_password_hash("gatehouse-timing-equaliser", method="scrypt")


class AccountError(ValueError):
    """A user-facing problem with account input."""


def hash_password(password: str) -> str:
    """A slow, salted password hash (scrypt at Werkzeug's default cost unless lowered)."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


def create_user(
    username: str,
    password: str | None = None,
    email: str | None = None,
    name: str | None = None,
    is_admin: bool = False,
    claims: dict | None = None,
) -> User:
    """Create a user with a normalised username; raises AccountError when it is invalid/taken."""
    normal = check_username(username)
    password_hash = hash_password(password) if password else None  # slow: before the lock
    with db.atomic("IMMEDIATE"):  # read (is the name taken?) then write
        return _insert_user(normal, password_hash, email, name, is_admin, claims)


def _insert_user(
    normal: str,
    password_hash: str | None,
    email: str | None,
    name: str | None,
    is_admin: bool,
    claims: dict | None,
) -> User:
    """Insert a user whose username is already normalised; call inside a write transaction."""
    taken = AccountError(f"user {normal!r} already exists")
    if User.by_username(normal) is not None:
        raise taken
    now = utcnow()
    try:
        with db.atomic():
            return User.create(
                username=normal,
                sub=str(uuid.uuid4()),
                email=email,
                name=name,
                password_hash=password_hash,
                is_admin=is_admin,
                claims=claims or {},
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # another connection created the same name first
        raise taken from None


def authenticate(username: str, password: str) -> User | None:
    """The user whose password this is, or None; same work whether or not the user exists."""
    normal = normalize_username(username or "")
    user = User.by_username(normal) if normal else None
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok = check_password_hash(stored, password or "")
    return user if ok and user is not None and user.password_hash else None


# -- validation ----------------------------------------------------------------------------


def check_username(username: str) -> str:
    """The normalised username; raises AccountError with the rule when it is invalid."""
    normal = normalize_username(username)
    if normal is None:
        raise AccountError(USERNAME_RULE)
    return normal


def check_password(password: str) -> str:
    """Raise AccountError unless the password has a sensible length."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def check_email(email: str | None) -> str | None:
    """A plausible address (one @, no spaces), or None when empty."""
    email = (email or "").strip()
    if not email:
        return None
    if not _EMAIL.match(email) or text_problem(email):
        raise AccountError(f"{email!r} is not an email address")
    return email


def check_name(name: str | None) -> str | None:
    name = (name or "").strip()
    if len(name) > 200:
        raise AccountError("names are at most 200 characters")
    problem = text_problem(name)
    if problem:
        raise AccountError(f"names {problem}")
    return name or None


# -- audited changes -----------------------------------------------------------------------


def add_user(
    actor: str,
    ip: str,
    username: str,
    password: str,
    email: str | None = None,
    name: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create a user after checking every field, and audit it (never the password)."""
    normal = check_username(username)
    fields = {"email": check_email(email), "name": check_name(name), "is_admin": is_admin}
    password_hash = hash_password(check_password(password))  # slow: before the lock
    with db.atomic("IMMEDIATE"):
        user = _insert_user(normal, password_hash, claims=None, **fields)
        changes = {"username": [None, normal]}
        changes.update({k: [None, v] for k, v in fields.items() if v})
        audit(actor, "user.create", "user", normal, changes, ip)
    return user


def set_admin(actor: str, ip: str, user: User, is_admin: bool) -> None:
    """Grant or remove admin rights; refuses to remove the last administrator."""
    update_user(actor, ip, user, is_admin=is_admin)


UNCHANGED = object()  # update_user's default: leave this field as it is


def update_user(
    actor: str, ip: str, user: User, email=UNCHANGED, name=UNCHANGED, is_admin=UNCHANGED
):
    """Change a user's email, name and/or admin flag; audits the fields that changed.

    Refuses to remove the last administrator's rights. Returns the changes as field: [old, new].
    """
    wanted = {}
    if email is not UNCHANGED:
        wanted["email"] = check_email(email)
    if name is not UNCHANGED:
        wanted["name"] = check_name(name)
    if is_admin is not UNCHANGED:
        wanted["is_admin"] = bool(is_admin)
    with db.atomic("IMMEDIATE"):  # read (count admins) then write
        current = User.get_by_id(user.id)
        changes = {
            k: [getattr(current, k), v] for k, v in wanted.items() if getattr(current, k) != v
        }
        if not changes:
            return changes
        if "is_admin" in changes and not wanted["is_admin"] and _admins_other_than(user) == 0:
            raise AccountError("the last administrator cannot lose admin rights")
        values = {k: new for k, (_, new) in changes.items()}
        User.update(updated_at=utcnow(), **values).where(User.id == user.id).execute()
        audit(actor, "user.update", "user", user.username, changes, ip)
    for key, value in values.items():
        setattr(user, key, value)
    return changes


def change_password(user: User, current: str, new: str, keep, ip: str) -> int:
    """The user changes their own password: the current one is required, their other sessions
    end (`keep` is the session they are using). Returns the number of sessions ended."""
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        raise AccountError("the current password is not right")
    check_password(new)
    if check_password_hash(user.password_hash, new):
        raise AccountError("the new password must differ from the current one")
    password_hash = hash_password(new)  # slow: before the lock
    with db.atomic("IMMEDIATE"):
        User.update(
            password_hash=password_hash, must_change_password=False, updated_at=utcnow()
        ).where(User.id == user.id).execute()
        ended = sessions.end_sessions(user, keep=keep)
        changes = {"password": ["(old)", "(new)"], "sessions_ended": [None, ended]}
        audit(user.username, "user.password.change", "user", user.username, changes, ip)
    user.must_change_password = False
    return ended


def reset_password(actor: str, ip: str, user: User, password: str | None = None) -> str | None:
    """An administrator sets a user's password and ends all their sessions.

    Without `password`, a one-time password is generated and returned (show it once); the user
    must change it at the next sign-in. With `password`, that password is set as is.
    """
    one_time = password is None
    if one_time:
        password = secrets.token_urlsafe(12)
    password_hash = hash_password(check_password(password))  # slow: before the lock
    with db.atomic("IMMEDIATE"):
        User.update(
            password_hash=password_hash, must_change_password=one_time, updated_at=utcnow()
        ).where(User.id == user.id).execute()
        ended = sessions.end_sessions(user)
        changes = {
            "password": ["(old)", "(one-time)" if one_time else "(new)"],
            "must_change_password": [user.must_change_password, one_time],
            "sessions_ended": [None, ended],
        }
        audit(actor, "user.password.reset", "user", user.username, changes, ip)
    user.must_change_password = one_time
    return password if one_time else None


def delete_user(actor: str, ip: str, user: User) -> None:
    """Delete a user; sessions, tokens, codes and consents go with it (ON DELETE CASCADE)."""
    with db.atomic("IMMEDIATE"):  # read (count admins) then write
        if user.is_admin and _admins_other_than(user) == 0:
            raise AccountError("the last administrator cannot be deleted")
        User.delete().where(User.id == user.id).execute()
        audit(actor, "user.delete", "user", user.username, {"username": [user.username, None]}, ip)


def new_personal_token(actor: str, ip: str, user: User, name: str = "") -> str:
    """A new personal access token (`gpt_...`) for the management API; shown once."""
    value, digest = crypto.new_secret(crypto.PERSONAL_TOKEN)
    with db.atomic():
        PersonalAccessToken.create(user=user, token_hash=digest, name=name)
        audit(actor, "user.token.create", "user", user.username, {"token_name": [None, name]}, ip)
    return value


def _admins_other_than(user: User) -> int:
    return User.select().where(User.is_admin, User.id != user.id).count()


# -- search --------------------------------------------------------------------------------

SEARCH_KEYS = ("role", "username", "name", "email")
ROLES = ("admin", "user")


@dataclass(frozen=True)
class UserSearch:
    """A parsed user search: every term must match (AND), as in GitHub's label search."""

    role: str | None = None
    username: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    text: tuple[str, ...] = field(default=())


def parse_user_search(query: str | None) -> UserSearch:
    """Parse `role:admin name:al email:@example.com free text`; AccountError on a bad key."""
    try:
        words = shlex.split(query or "")
    except ValueError:
        raise AccountError("the search has an unbalanced quote") from None
    terms: dict[str, list[str]] = {key: [] for key in SEARCH_KEYS}
    text: list[str] = []
    role = None
    for word in words:
        key, sep, value = word.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z_]+", key):
            text.append(word)
            continue
        key = key.lower()
        if key not in SEARCH_KEYS:
            known = ", ".join(f"{k}:" for k in SEARCH_KEYS)
            raise AccountError(f"unknown search key {key!r}; use {known} or free text")
        if not value:
            raise AccountError(f"{key}: needs a value, e.g. {key}:admin")
        if key == "role":
            if value.lower() not in ROLES or role not in (None, value.lower()):
                raise AccountError("role: is admin or user (once)")
            role = value.lower()
        else:
            terms[key].append(value)
    return UserSearch(
        role=role,
        username=tuple(terms["username"]),
        name=tuple(terms["name"]),
        email=tuple(terms["email"]),
        text=tuple(text),
    )


def user_query(search: UserSearch) -> Select:
    """Users matching `search` (substring, case-insensitive), ordered by username."""
    query = User.select().order_by(User.username)
    if search.role is not None:
        query = query.where(User.is_admin == (search.role == "admin"))
    for column, values in (
        (User.username, search.username),
        (User.name, search.name),
        (User.email, search.email),
    ):
        for value in values:
            query = query.where(column.contains(value))
    for value in search.text:
        query = query.where(
            User.username.contains(value) | User.name.contains(value) | User.email.contains(value)
        )
    return query


def search_users(query: str | None) -> Select:
    """Parse and run a user search; AccountError when the query is malformed."""
    return user_query(parse_user_search(query))
