"""POST /oauth2/token: the endpoint's rules and the authorization_code grant (RFC 6749 §4.1.3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from models import AccessToken, AuthorizationCode, RefreshToken, Resource, TokenFamily, db
from oauth import crypto, keys
from tests.helpers import ISSUER
from tests.helpers.common import make_client, pkce_pair
from tests.helpers.live import start_live_server
from tests.helpers.tokens import REDIRECT_URI, live_access_tokens, make_code, redeem

MCP = "https://mcp.example.com/mcp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def resource(app):
    with db.connection_context():
        return Resource.create(uri=MCP, name="MCP", scopes="mcp")


def assert_no_store(response):
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_code_exchange_returns_tokens(client, oauth_client, user):
    app_client, secret = oauth_client
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge, nonce="n-0S6")
    response = redeem(client, app_client, secret, code, verifier)
    assert response.status_code == 200
    assert_no_store(response)
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and isinstance(body["expires_in"], int)
    assert body["access_token"].startswith("gat_")
    assert body["refresh_token"].startswith("grt_")
    assert body["scope"] == "openid profile email"
    with db.connection_context():
        claims = keys.verify(body["id_token"], app_client.client_id, ISSUER)
        assert claims["sub"] == user.sub and claims["nonce"] == "n-0S6"
        assert claims["at_hash"] == keys.at_hash(body["access_token"])
        family = TokenFamily.get()
        assert family.client_secret.client_id == app_client.id
        assert family.audience == ISSUER and family.user_id == user.id
        assert AuthorizationCode.get().family_id == family.id


def test_only_digests_are_stored(client, oauth_client, user, app):
    app_client, secret = oauth_client
    verifier, challenge = pkce_pair()
    body = redeem(client, app_client, secret, make_code(app_client, user, challenge), verifier)
    body = body.get_json()
    with db.connection_context():
        assert AccessToken.get().token_hash == crypto.sha256(body["access_token"])
        assert RefreshToken.get().token_hash == crypto.sha256(body["refresh_token"])
    db.close()
    files = Path(app.config["DATABASE"]).parent.glob("test.sqlite3*")  # with -wal, -shm
    raw = b"".join(f.read_bytes() for f in files if f.is_file())
    for name in ("access_token", "refresh_token"):
        assert body[name].encode() not in raw


def test_no_refresh_token_without_the_grant(client, user, app):
    app_client, secret = make_client(grant_types=["authorization_code"])
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge, scope="profile")
    body = redeem(client, app_client, secret, code, verifier).get_json()
    assert "refresh_token" not in body
    assert "id_token" not in body  # no openid scope
    assert body["scope"] == "profile"


def test_lifetimes_come_from_config(config, user):
    config["ACCESS_TOKEN_TTL"] = 120
    from app import create_app
    from oauth.ops.migrations import upgrade

    upgrade(config["DATABASE"])
    http = create_app(config).test_client()
    app_client, secret = make_client()
    verifier, challenge = pkce_pair()
    body = redeem(http, app_client, secret, make_code(app_client, user, challenge), verifier)
    assert body.get_json()["expires_in"] == 120


@pytest.mark.parametrize(
    "ttl, allowed", [(1, True), (300, True), (600, True), (0, False), (601, False)]
)
def test_code_lifetime_is_at_most_ten_minutes(ttl, allowed):
    """RFC 6749 §4.1.2: codes are short-lived, 10 minutes at most; the server refuses more."""
    from oauth.settings import DEFAULTS, check_config

    config = {**DEFAULTS, "CODE_TTL": ttl}
    if allowed:
        check_config(config)
    else:
        with pytest.raises(RuntimeError, match="CODE_TTL"):
            check_config(config)


def _no_redirect_code(app_client, user, challenge):
    return make_code(app_client, user, challenge, redirect_uri=None)


CODE_CASES = [
    # (id, make-code kwargs, token request overrides, status, error)
    ("no code", {}, {"code": None}, 400, "invalid_request"),
    ("unknown code", {}, {"code": "gac_unknown"}, 400, "invalid_grant"),
    ("not a code", {}, {"code": "x" * 5000}, 400, "invalid_grant"),
    ("expired", {"expires_in": -1}, {}, 400, "invalid_grant"),
    ("redirect_uri missing", {}, {"redirect_uri": None}, 400, "invalid_grant"),
    ("redirect_uri differs", {}, {"redirect_uri": REDIRECT_URI + "x"}, 400, "invalid_grant"),
    (
        "redirect_uri other port",
        {},
        {"redirect_uri": "http://127.0.0.1:1/callback"},
        400,
        "invalid_grant",
    ),
    ("none at authorize, none", {"redirect_uri": None}, {"redirect_uri": None}, 200, None),
    ("none at authorize, registered", {"redirect_uri": None}, {}, 200, None),
    (
        "none at authorize, other",
        {"redirect_uri": None},
        {"redirect_uri": "https://evil.example/cb"},
        400,
        "invalid_grant",
    ),
    ("no verifier", {}, {"code_verifier": None}, 400, "invalid_request"),
    ("wrong verifier", {}, {"code_verifier": "a" * 43}, 400, "invalid_grant"),
    ("short verifier", {}, {"code_verifier": "a" * 42}, 400, "invalid_grant"),
    ("long verifier", {}, {"code_verifier": "a" * 129}, 400, "invalid_grant"),
    ("bad verifier chars", {}, {"code_verifier": "a" * 42 + "+"}, 400, "invalid_grant"),
    ("resource only at authorize", {"resource": MCP}, {}, 400, "invalid_target"),
    ("resource only at token", {}, {"resource": MCP}, 400, "invalid_target"),
    ("resource differs", {"resource": MCP}, {"resource": MCP + "/"}, 400, "invalid_target"),
    ("resource same", {"resource": MCP}, {"resource": MCP}, 200, None),
    ("duplicate code", {}, {"code": ["gac_a", "gac_b"]}, 400, "invalid_request"),
    ("duplicate resource", {"resource": MCP}, {"resource": [MCP, MCP]}, 400, "invalid_target"),
]


@pytest.mark.parametrize(
    "code_kwargs, overrides, status, error",
    [c[1:] for c in CODE_CASES],
    ids=[c[0] for c in CODE_CASES],
)
def test_authorization_code_rules(
    client, oauth_client, user, resource, code_kwargs, overrides, status, error
):
    app_client, secret = oauth_client
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge, **code_kwargs)
    response = redeem(client, app_client, secret, code, verifier, **overrides)
    assert response.status_code == status, response.get_json()
    assert_no_store(response)
    if error:
        assert response.get_json()["error"] == error
        assert response.get_json()["error_description"]
        with db.connection_context():
            assert AuthorizationCode.get().used_at is None  # a failed attempt doesn't consume
    else:
        with db.connection_context():
            assert TokenFamily.get().audience == (code_kwargs.get("resource") or ISSUER)


def test_code_of_another_client(client, oauth_client, user):
    app_client, secret = oauth_client
    other, other_secret = make_client(name="Other")
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge)
    response = redeem(client, other, other_secret, code, verifier)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert redeem(client, app_client, secret, code, verifier).status_code == 200


def test_replayed_code_revokes_what_it_issued(client, oauth_client, user):
    app_client, secret = oauth_client
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge)
    first = redeem(client, app_client, secret, code, verifier)
    assert first.status_code == 200
    second = redeem(client, app_client, secret, code, verifier)
    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_grant"
    assert_no_store(second)
    with db.connection_context():
        assert TokenFamily.get().revoked_at is not None  # and so its tokens
    assert live_access_tokens() == 0
    me = client.get(
        "/api/v2/users/me",
        headers={"Authorization": "Bearer " + first.get_json()["access_token"]},
    )
    assert me.status_code == 401


ENDPOINT_CASES = [
    # (id, form, status, error)
    ("no grant_type", {}, 400, "invalid_request"),
    ("unknown grant_type", {"grant_type": "password"}, 400, "unsupported_grant_type"),
    ("implicit", {"grant_type": "implicit"}, 400, "unsupported_grant_type"),
    (
        "duplicate grant_type",
        {"grant_type": ["refresh_token", "refresh_token"]},
        400,
        "invalid_request",
    ),
    ("unregistered grant", {"grant_type": "client_credentials"}, 400, "unauthorized_client"),
    ("no refresh_token", {"grant_type": "refresh_token"}, 400, "invalid_request"),
]


@pytest.mark.parametrize(
    "form, status, error", [c[1:] for c in ENDPOINT_CASES], ids=[c[0] for c in ENDPOINT_CASES]
)
def test_endpoint_errors(client, oauth_client, form, status, error):
    app_client, secret = oauth_client
    from tests.helpers.common import basic

    response = client.post("/oauth2/token", data=form, headers=basic(app_client.client_id, secret))
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert_no_store(response)


def test_get_is_405_json(client):
    response = client.get("/oauth2/token")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    assert_no_store(response)


def test_body_over_64k_is_413_json(client, oauth_client):
    app_client, _ = oauth_client
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": "x" * (65 * 1024)},
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_too_large"
    assert_no_store(response)


@pytest.mark.live
def test_chunked_body_over_64k_is_413_json(tmp_path):
    """Without Content-Length, Werkzeug would cut the body at the limit and parse the rest."""
    server = start_live_server(tmp_path, workers=1)
    try:
        url = server.url + "/oauth2/token"
        big = b"grant_type=password&pad=" + b"x" * (65 * 1024)
        response = httpx.post(url, content=iter([big]), headers=FORM)
        assert "content-length" not in response.request.headers  # sent chunked
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"
        assert_no_store(response)
        small = httpx.post(url, content=iter([b"grant_type=password"]), headers=FORM)
        assert small.json()["error"] == "unsupported_grant_type"  # chunked bodies still parse
    finally:
        server.stop()


def test_json_body_is_not_a_token_request(client):
    response = client.post("/oauth2/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_query_parameters_are_ignored(client, oauth_client):
    response = client.post("/oauth2/token?grant_type=client_credentials")
    assert response.get_json()["error"] == "invalid_request"
