"""Browser sessions and who is asking: the signed-in user, admins, personal access tokens.

The Flask session cookie carries only a random session id; the `user_session` row it names
holds the user and auth_time, so logout and user deletion end the session on every worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Request, current_app, g, redirect, request, session, url_for
from flask.sessions import NullSession, SecureCookieSessionInterface

from models import PersonalAccessToken, User, UserSession, utcnow
from oauth import crypto
from oauth.constants import (
    BUILTIN_API_PATH,
    CLIENT_CONFIGURATION_PATH,
    DEVICE_AUTHORIZATION_PATH,
    INTROSPECTION_PATH,
    JWKS_PATH,
    REGISTRATION_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from oauth.csrf import csrf
from oauth.errors import api_error, error_page
from oauth.params import bearer_token


def client_ip() -> str:
    """The caller's address (ProxyFix has already applied trusted forwarded headers)."""
    return request._get_current_object().remote_addr or ""  # type: ignore[attr-defined]


# Endpoints that clients call with their own credentials (or none) and that never read the
# browser session: opening the signed cookie cost ~15% of a metadata request. Pages, the
# authorization endpoint, logout, the device page, the admin API and mock mode keep it.
SESSIONLESS_PATHS = frozenset(
    {
        TOKEN_PATH,
        INTROSPECTION_PATH,
        REVOCATION_PATH,
        JWKS_PATH,
        USERINFO_PATH,
        REGISTRATION_PATH,
        DEVICE_AUTHORIZATION_PATH,
        f"{BUILTIN_API_PATH}/users/me",
    }
)


def uses_session(path: str) -> bool:
    """Whether a request to `path` may read or write the browser session."""
    if path in SESSIONLESS_PATHS or path.startswith(CLIENT_CONFIGURATION_PATH + "/"):
        return False
    return "/.well-known/" not in path  # discovery documents, also with an issuer path


class _NoSession(NullSession):
    """The session of a sessionless path: reads as empty, refuses writes (a bug, loudly)."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("This endpoint does not use the browser session (see uses_session).")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, not opened (nor saved, nor `Vary: Cookie`) for protocol
    and discovery endpoints."""

    null_session_class = _NoSession
    no_session = _NoSession()  # one for every sessionless request: it refuses any change

    def open_session(self, app: Flask, request: Request) -> Any:
        if not uses_session(request.path):
            return self.no_session
        return super().open_session(app, request)


MAX_USER_AGENT = 512  # characters of User-Agent kept per session
LAST_SEEN_EVERY = timedelta(minutes=1)  # at most one write per session a minute


def _load_session() -> UserSession | None:
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(UserSession.sid_hash == crypto.sha256_hex(sid))
        .first()
    )
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at is None or now - row.last_seen_at > LAST_SEEN_EVERY:
        UserSession.update(last_seen_at=now).where(UserSession.id == row.id).execute()
        row.last_seen_at = now
    return row


def current_session() -> UserSession | None:
    """The live session row of this request, cached on `g`."""
    if "user_session" not in g:
        g.user_session = _load_session()
    return g.user_session


def current_user() -> User | None:
    """The signed-in user, or None."""
    row = current_session()
    return row.user if row is not None else None


def login_user(user: User) -> UserSession:
    """Start a new session for `user`, rotating the session id (no fixation)."""
    old = current_session()
    if old is not None:
        old.revoked_at = utcnow()
        old.save()
    session.clear()
    sid, sid_hash = crypto.new_secret(crypto.SESSION_ID)
    now = utcnow()
    lifetime = timedelta(seconds=int(current_app.config["SESSION_LIFETIME"]))
    row = UserSession.create(
        sid_hash=sid_hash,
        user=user,
        auth_time=now,
        created_at=now,
        expires_at=now + lifetime,
        last_seen_at=now,
        user_agent=(request.user_agent.string or "")[:MAX_USER_AGENT],
        ip=client_ip(),
    )
    session["sid"] = sid
    session.permanent = True
    g.user_session = row
    return row


def logout_user() -> None:
    """End the current session, server side and in the cookie."""
    row = current_session()
    if row is not None:
        UserSession.update(revoked_at=utcnow()).where(UserSession.id == row.id).execute()
    session.clear()
    g.user_session = None


def login_url(next_path: str) -> str:
    return url_for("login.login") + "?" + urlencode({"next": next_path})


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send people who are not signed in to /login, then back here."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(login_url(request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def personal_token_user(token: str) -> User | None:
    """The user a personal access token belongs to, if it is live."""
    if not crypto.has_kind(token, crypto.PERSONAL_TOKEN):
        return None
    row = (
        PersonalAccessToken.select(PersonalAccessToken, User)
        .join(User)
        .where(PersonalAccessToken.token_hash == crypto.sha256_hex(token))
        .first()
    )
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        return None
    if row.last_used_at is None or utcnow() - row.last_used_at > timedelta(minutes=1):
        PersonalAccessToken.update(last_used_at=utcnow()).where(
            PersonalAccessToken.id == row.id
        ).execute()
    return row.user


def admin_required_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """JSON API guard: an admin's session (CSRF applies) or an admin personal access token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        user = personal_token_user(token) if token else current_user()
        if user is None:
            return api_error(
                401, "Authentication required.", {"WWW-Authenticate": 'Bearer realm="gatehouse"'}
            )
        if not user.is_admin:
            return api_error(403, "Only administrators may do this.")
        if token is None and request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()  # a browser session must prove the request came from our pages
        g.actor = user
        g.via_token = token is not None
        return view(*args, **kwargs)

    return wrapped


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """HTML guard for /admin pages: signed in, and an administrator."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return redirect(login_url(request.full_path.rstrip("?")))
        if not user.is_admin:
            return error_page("Forbidden", "Only administrators can open this page.", 403)
        g.actor = user
        return view(*args, **kwargs)

    return wrapped
