"""What most in-process tests use: a client row, signing in, a PKCE pair, Basic auth, a query."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from models import Client, ClientSecret, PersonalAccessToken, UserSession, db, utcnow
from oauth import crypto


def make_client(
    name: str = "Test App",
    redirect_uris: list[str] | None = None,
    public: bool = False,
    auth_method: str = "client_secret_basic",
    grant_types: list[str] | None = None,
    scope: str = "",
    registration: str = "admin",
    vetted: bool | None = None,
) -> tuple[Client, str | None]:
    """Create a client row (and a secret for confidential clients): (client, secret).

    `vetted` defaults to whether an admin registered it, as the real write paths decide.
    """
    with db.connection_context():
        client = Client.create(
            client_id=crypto.new_client_id(),
            name=name,
            client_type="public" if public else "confidential",
            token_endpoint_auth_method="none" if public else auth_method,
            redirect_uris=redirect_uris or ["http://127.0.0.1:9999/callback"],
            grant_types=grant_types or ["authorization_code", "refresh_token"],
            scope=scope,
            registration=registration,
            vetted=registration == "admin" if vetted is None else vetted,
        )
        if public:
            return client, None
        value, prefix, digest = crypto.new_client_secret()
        ClientSecret.create(client=client, prefix=prefix, secret_hash=digest, last6=value[-6:])
        return client, value


def login(client, username: str = "alice", password: str = "correct horse battery"):
    """Sign in through the real /login form (CSRF disabled in the default test config)."""
    return client.post("/login", data={"username": username, "password": password})


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    """The single-valued query parameters of a redirect Location."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def personal_token(user) -> str:
    """A personal access token for `user`, as `users token` would print."""
    value, digest = crypto.new_secret(crypto.PERSONAL_TOKEN)
    with db.connection_context():
        PersonalAccessToken.create(user=user, token_hash=digest)
    return value


def session_login(client, user) -> None:
    """Give the test client a live session for `user` without the /login page."""
    sid, sid_hash = crypto.new_secret(crypto.SESSION_ID)
    now = utcnow()
    with db.connection_context():
        UserSession.create(
            sid_hash=sid_hash, user=user, auth_time=now, expires_at=now + timedelta(hours=1)
        )
    with client.session_transaction() as session:
        session["sid"] = sid
