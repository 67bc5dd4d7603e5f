"""A value shown once after a redirect: POST -> redirect -> GET, without scripts.

The POST that makes a secret keeps it here and redirects; the GET that follows shows it and
deletes the row, so a reload (or the back button) shows nothing and mints nothing. The row
holds only ciphertext; the key lives in the signed session cookie of the browser that made
it, and the row is found by the key's SHA-256, so neither the database nor the cookie alone
reveals the value. Rows left unshown expire after SHOWN_ONCE_TTL seconds.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from flask import session

from models import Client, ShownOnce, UserSession, db, utcnow
from oauth.crypto import sha256_hex

SHOWN_ONCE_TTL = 300  # seconds between the POST and the GET that shows the value
_SESSION_KEY = "shown_once"


def keep(value: str, user_session: UserSession, client: Client) -> None:
    """Keep `value` for the next page of `client` this session opens (replaces an older one)."""
    key = Fernet.generate_key().decode()
    ShownOnce.create(
        key_hash=sha256_hex(key),
        user_session=user_session,
        client=client,
        ciphertext=Fernet(key).encrypt(value.encode()).decode(),
        expires_at=utcnow() + timedelta(seconds=SHOWN_ONCE_TTL),
    )
    session[_SESSION_KEY] = key


def take(user_session: UserSession | None, client: Client) -> str | None:
    """The value kept for this session and `client`, deleted as it is read; else None."""
    key = session.get(_SESSION_KEY)
    if not isinstance(key, str) or user_session is None:
        return None
    with db.atomic("IMMEDIATE"):
        ShownOnce.delete().where(ShownOnce.expires_at <= utcnow()).execute()
        row = ShownOnce.get_or_none(
            ShownOnce.key_hash == sha256_hex(key),
            ShownOnce.user_session == user_session,
            ShownOnce.client == client,
        )
        if row is None:
            return None
        ShownOnce.delete().where(ShownOnce.id == row.id).execute()
    session.pop(_SESSION_KEY, None)
    try:
        return Fernet(key).decrypt(row.ciphertext.encode()).decode()
    except InvalidToken:
        return None
