"""refresh_token grant (RFC 6749 §6, OAuth 2.1 §4.3.1): rotation, reuse, narrowing, lifetimes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import ClientSecret, RefreshToken, Resource, TokenFamily, db, utcnow
from oauth import crypto, keys, store
from tests.helpers import ISSUER
from tests.helpers.common import make_client
from tests.helpers.tokens import live_access_tokens, refresh, tokens_for

MCP = "https://mcp.example.com/mcp"


def rt_row(token: str) -> RefreshToken:
    with db.connection_context():
        return RefreshToken.get(RefreshToken.token_hash == crypto.sha256(token))


def age_rotation(token: str, seconds: int = 60) -> None:
    """Pretend `token` was rotated `seconds` ago (past the concurrent-refresh grace)."""
    with db.connection_context():
        (
            RefreshToken.update(rotated_at=utcnow() - timedelta(seconds=seconds))
            .where(RefreshToken.token_hash == crypto.sha256(token))
            .execute()
        )


def test_rotation_issues_new_tokens(client, oauth_client, user):
    c, s = oauth_client
    first = tokens_for(client, c, s, user, nonce="abc")
    response = refresh(client, c, s, first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert rt_row(first["refresh_token"]).rotated_at is not None
    # OIDC Core §12.2: a new id_token, same sub, original auth_time, no nonce.
    with db.connection_context():
        old = keys.verify(first["id_token"], c.client_id, ISSUER)
        new = keys.verify(body["id_token"], c.client_id, ISSUER)
    assert new["sub"] == old["sub"] and new["auth_time"] == old["auth_time"]
    assert "nonce" not in new and old["nonce"] == "abc"
    assert live_access_tokens() == 2
    with db.connection_context():
        assert TokenFamily.select().count() == 1


def test_reuse_after_grace_revokes_the_family(client, oauth_client, user):
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    second = refresh(client, c, s, first["refresh_token"]).get_json()
    age_rotation(first["refresh_token"])
    reused = refresh(client, c, s, first["refresh_token"])
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    with db.connection_context():
        assert TokenFamily.get().revoked_at is not None
    assert live_access_tokens() == 0
    # the thief's (or the victim's) newer token is dead too
    assert refresh(client, c, s, second["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_immediate_reuse_revokes_the_family_by_default(client, oauth_client, user):
    """DESIGN: reuse of a rotated refresh token revokes the whole family, however soon."""
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    second = refresh(client, c, s, first["refresh_token"]).get_json()
    reused = refresh(client, c, s, first["refresh_token"])
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    with db.connection_context():
        assert TokenFamily.get().revoked_at is not None
    assert refresh(client, c, s, second["refresh_token"]).get_json()["error"] == "invalid_grant"


@pytest.fixture
def graceful(config):
    """A server that forgives a client racing its own refreshes for 10 s (opt-in)."""
    config["REFRESH_TOKEN_REUSE_GRACE"] = 10
    return config


def test_reuse_within_grace_is_refused_without_revoking(graceful, client, oauth_client, user):
    """Concurrent refreshes by one client: the loser is refused, the winner keeps its tokens."""
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    second = refresh(client, c, s, first["refresh_token"]).get_json()
    loser = refresh(client, c, s, first["refresh_token"])
    assert loser.status_code == 400 and loser.get_json()["error"] == "invalid_grant"
    with db.connection_context():
        assert TokenFamily.get().revoked_at is None
    assert refresh(client, c, s, second["refresh_token"]).status_code == 200


@pytest.fixture
def resource(app):
    with db.connection_context():
        return Resource.create(uri=MCP, scopes="mcp")


SCOPE_CASES = [
    # (requested scope, status, error, granted scope)
    (None, 200, None, "openid profile email"),
    ("profile", 200, None, "profile"),
    ("email profile", 200, None, "email profile"),
    ("openid profile email", 200, None, "openid profile email"),
    ("admin", 400, "invalid_scope", None),
    ("profile offline_access", 400, "invalid_scope", None),
    ("bad\x01scope", 400, "invalid_scope", None),
]


@pytest.mark.parametrize("scope, status, error, granted", SCOPE_CASES)
def test_scope_only_narrows(client, oauth_client, user, scope, status, error, granted):
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    extra = {"scope": scope} if scope is not None else {}
    response = refresh(client, c, s, first["refresh_token"], **extra)
    assert response.status_code == status
    if error:
        assert response.get_json()["error"] == error
        assert rt_row(first["refresh_token"]).rotated_at is None  # nothing consumed
        return
    body = response.get_json()
    assert body["scope"] == granted
    assert ("id_token" in body) == ("openid" in granted.split())
    # the new refresh token keeps the original scope (OAuth 2.1 §6)
    again = refresh(client, c, s, body["refresh_token"]).get_json()
    assert again["scope"] == "openid profile email"


RESOURCE_CASES = [
    # (resource at authorize, resource at refresh, status, error)
    (None, None, 200, None),
    (None, ISSUER, 200, None),
    (None, ISSUER + "/", 200, None),
    (None, ISSUER + "/api/v2", 200, None),  # what our RFC 9728 document advertises
    (None, MCP, 400, "invalid_target"),
    (MCP, None, 200, None),
    (MCP, MCP, 200, None),
    (MCP, "HTTPS://MCP.EXAMPLE.COM/mcp", 200, None),
    (MCP, "https://mcp.example.com:443/mcp", 200, None),
    (MCP, MCP + "/other", 400, "invalid_target"),
    (MCP, ISSUER, 400, "invalid_target"),
    (MCP, "not a uri", 400, "invalid_target"),
    (MCP, MCP + "#frag", 400, "invalid_target"),
]


@pytest.mark.parametrize("at_authorize, at_refresh, status, error", RESOURCE_CASES)
def test_resource_must_match_the_grant(
    client, oauth_client, user, resource, at_authorize, at_refresh, status, error
):
    c, s = oauth_client
    first = tokens_for(client, c, s, user, resource=at_authorize)
    extra = {"resource": at_refresh} if at_refresh is not None else {}
    response = refresh(client, c, s, first["refresh_token"], **extra)
    assert response.status_code == status, response.get_json()
    if error:
        assert response.get_json()["error"] == error
    else:
        with db.connection_context():
            newest = store.find_access_token(crypto.sha256(response.get_json()["access_token"]))
        assert newest.audience == (at_authorize or ISSUER)


def _expire_idle(token):
    RefreshToken.update(expires_at=utcnow() - timedelta(seconds=1)).where(
        RefreshToken.token_hash == crypto.sha256(token)
    ).execute()


def _expire_family(token):
    TokenFamily.update(expires_at=utcnow() - timedelta(seconds=1)).execute()


def _revoke(token):
    TokenFamily.get().revoke()


@pytest.mark.parametrize("spoil", [_expire_idle, _expire_family, _revoke])
def test_dead_refresh_tokens_are_invalid_grant(client, oauth_client, user, spoil):
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    with db.connection_context():
        spoil(first["refresh_token"])
    response = refresh(client, c, s, first["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("token", ["", "grt_unknown", "gat_notarefresh", "x" * 3000])
def test_unknown_refresh_tokens(client, oauth_client, token):
    c, s = oauth_client
    response = refresh(client, c, s, token)
    expected = "invalid_request" if token == "" else "invalid_grant"
    assert response.status_code == 400 and response.get_json()["error"] == expected


def test_rotation_never_extends_the_absolute_lifetime(client, oauth_client, user):
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    end = (utcnow() + timedelta(seconds=100)).replace(microsecond=0)  # stored to the ms
    with db.connection_context():
        TokenFamily.update(expires_at=end).execute()
    body = refresh(client, c, s, first["refresh_token"]).get_json()
    new = rt_row(body["refresh_token"])
    assert new.expires_at == end  # idle lifetime (30 days) capped by the family's end
    assert body["expires_in"] <= 100  # and the access token never outlives it


def test_idle_lifetime_restarts_on_rotation(client, oauth_client, user):
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    before = rt_row(first["refresh_token"]).expires_at
    body = refresh(client, c, s, first["refresh_token"]).get_json()
    assert rt_row(body["refresh_token"]).expires_at >= before
    assert rt_row(body["refresh_token"]).expires_at - utcnow() > timedelta(days=29)


def test_another_clients_refresh_token(client, oauth_client, user):
    c, s = oauth_client
    other, other_secret = make_client(name="Other")
    first = tokens_for(client, c, s, user)
    response = refresh(client, other, other_secret, first["refresh_token"])
    assert response.get_json()["error"] == "invalid_grant"
    assert rt_row(first["refresh_token"]).rotated_at is None
    assert refresh(client, c, s, first["refresh_token"]).status_code == 200


def test_public_client_refreshes_with_client_id(client, public_client, user):
    first = tokens_for(client, public_client, None, user)
    response = refresh(client, public_client, None, first["refresh_token"])
    assert response.status_code == 200


def test_confidential_client_must_authenticate_to_refresh(client, oauth_client, user):
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    response = client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": c.client_id,
        },
    )
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_family_follows_the_secret_in_use(client, oauth_client, user):
    """After a secret rotation, deleting the old secret must not take live tokens with it."""
    c, s = oauth_client
    first = tokens_for(client, c, s, user)
    value, prefix, digest = crypto.new_client_secret()
    with db.connection_context():
        ClientSecret.create(client=c, prefix=prefix, secret_hash=digest, last6=value[-6:])
    body = refresh(client, c, value, first["refresh_token"]).get_json()
    with db.connection_context():
        ClientSecret.delete().where(ClientSecret.prefix != prefix).execute()
    assert refresh(client, c, value, body["refresh_token"]).status_code == 200
