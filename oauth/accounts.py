"""User accounts: creation, passwords, lookups (no Flask)."""

from __future__ import annotations

import uuid

from werkzeug.security import check_password_hash, generate_password_hash

from models import User, db, utcnow
from oauth.validation import normalize_username

# Compared against when the user does not exist, so both paths cost one scrypt check.
_DUMMY_HASH = generate_password_hash("gatehouse-timing-equaliser", method="scrypt")


class AccountError(ValueError):
    """A user-facing problem with account input."""


def hash_password(password: str) -> str:
    """A slow, salted password hash (scrypt)."""
    return generate_password_hash(password, method="scrypt")


def create_user(
    username: str,
    password: str | None = None,
    email: str | None = None,
    name: str | None = None,
    is_admin: bool = False,
    claims: dict | None = None,
) -> User:
    """Create a user with a normalised username; raises AccountError when it is invalid/taken."""
    normal = normalize_username(username)
    if normal is None:
        raise AccountError(
            "usernames are 1-64 characters of lowercase letters, digits, '.', '_' and '-'"
        )
    with db.atomic():
        if User.by_username(normal) is not None:
            raise AccountError(f"user {normal!r} already exists")
        now = utcnow()
        return User.create(
            username=normal,
            sub=str(uuid.uuid4()),
            email=email,
            name=name,
            password_hash=hash_password(password) if password else None,
            is_admin=is_admin,
            claims=claims or {},
            created_at=now,
            updated_at=now,
        )


def authenticate(username: str, password: str) -> User | None:
    """The user whose password this is, or None; same work whether or not the user exists."""
    normal = normalize_username(username or "")
    user = User.by_username(normal) if normal else None
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok = check_password_hash(stored, password or "")
    return user if ok and user is not None and user.password_hash else None
