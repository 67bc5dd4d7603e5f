"""A person's browser sessions: list them, end one or all, describe their device (no Flask).

A session is a `user_session` row (oauth/session.py starts them at sign-in); ending one sets
`revoked_at`, so every worker refuses its cookie on the next request.
"""

from __future__ import annotations

import re

from models import User, UserSession, audit, utcnow

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("Firefox", "Firefox"),
    ("Chrom", "Chrome"),  # Chrome, Chromium, HeadlessChrome
    ("Safari", "Safari"),
    ("curl", "curl"),
    ("python", "a Python program"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str) -> str:
    """A User-Agent in plain words: "Firefox on Windows", "Chrome on Android", "Unknown device"."""
    browser = next((name for key, name in _BROWSERS if key in user_agent), None)
    system = next((name for key, name in _SYSTEMS if key in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    first = re.match(r"[A-Za-z][\w.-]{0,40}", user_agent)  # e.g. "Wget/1.21" -> "Wget"
    return first.group(0) if first else "Unknown device"


def active_sessions(user: User) -> list[UserSession]:
    """The user's sessions that are neither ended nor expired, newest first."""
    return list(
        UserSession.select()
        .where(
            UserSession.user == user,
            UserSession.revoked_at.is_null(),
            UserSession.expires_at > utcnow(),
        )
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
    )


def end_sessions(user: User, keep: UserSession | None = None) -> int:
    """End every live session of `user` except `keep`; the number ended. Audit separately."""
    query = UserSession.update(revoked_at=utcnow()).where(
        UserSession.user == user, UserSession.revoked_at.is_null()
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return query.execute()


def end_session(actor: str, ip: str, user: User, session_id: int) -> bool:
    """End one of `user`'s sessions by its row id; False when it is not theirs or not live."""
    ended = (
        UserSession.update(revoked_at=utcnow())
        .where(
            UserSession.id == session_id,
            UserSession.user == user,
            UserSession.revoked_at.is_null(),
        )
        .execute()
    )
    if ended:
        audit(actor, "user.session.end", "user", user.username, {"sessions_ended": [None, 1]}, ip)
    return bool(ended)


def end_all(actor: str, ip: str, user: User, keep: UserSession | None = None) -> int:
    """End all of `user`'s sessions but `keep` ("sign out everywhere"), audited."""
    count = end_sessions(user, keep)
    audit(
        actor, "user.session.end_all", "user", user.username, {"sessions_ended": [None, count]}, ip
    )
    return count
