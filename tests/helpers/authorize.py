"""Helpers for the authorization-endpoint tests: sign in, build requests, read the answers."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from models import User, UserSession, db, utcnow
from oauth import crypto
from oauth.rules import pkce
from tests.helpers.common import login, query_of

REDIRECT = "http://127.0.0.1:9999/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CHALLENGE = pkce.s256(VERIFIER)


def sign_in(client, username: str = "alice", password: str = "correct horse battery") -> None:
    """Sign in through /login; if that page cannot sign us in, start a session row directly."""
    login(client, username, password)
    with client.session_transaction() as session:
        if "sid" in session:
            return
    with db.connection_context():
        user = User.by_username(username)
        sid, sid_hash = crypto.new_secret(crypto.SESSION_ID)
        now = utcnow()
        UserSession.create(
            sid_hash=sid_hash, user=user, auth_time=now, expires_at=now + timedelta(hours=1)
        )
    with client.session_transaction() as session:
        session["sid"] = sid


def params(client_id: str, /, **overrides: str | None) -> dict[str, str]:
    """A valid authorization request for `client_id`; an override of None drops the parameter."""
    base = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "xyz state",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def pending_of(response) -> str:
    """The signed pending request from a consent page."""
    match = re.search(r'name="pending"[^>]*value="([^"]*)"', response.get_data(as_text=True))
    if match is None:
        match = re.search(r'value="([^"]*)"[^>]*name="pending"', response.get_data(as_text=True))
    assert match is not None, "no consent form on the page"
    return unescape(match.group(1))


def approve(client, response, decision: str = "allow"):
    """Submit the consent form shown in `response`."""
    return client.post(
        "/oauth2/consent", data={"pending": pending_of(response), "decision": decision}
    )


def code_of(response) -> str:
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    query = query_of(response.headers["Location"])
    assert "error" not in query, query
    return query["code"]
