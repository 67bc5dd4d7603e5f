"""JWT access tokens (RFC 9068) end to end in-process: chosen per resource or globally, issued
by every grant, stored by jti so revocation, introspection and our own bearer endpoints work."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from models import AccessToken, Resource, SigningKey, db, utcnow
from oauth import keys, store
from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from oauth.rules import jwt_access_token as rule
from tests.helpers import ISSUER
from tests.helpers.common import basic, login, make_client
from tests.helpers.tokens import client_credentials as cc
from tests.helpers.tokens import refresh, tokens_for

MCP = "https://mcp.example.com/mcp"
OPAQUE_API = "https://opaque.example.com/api"


def decode(token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def resources(app, runner):
    for args in (
        [MCP, "--scope", "mcp", "--token-format", "jwt"],
        [OPAQUE_API, "--scope", "mcp", "--token-format", "opaque"],
    ):
        result = runner.invoke(args=["resources", "add", *args])
        assert result.exit_code == 0, result.output


@pytest.fixture
def machine(app):
    return make_client("Machine", grant_types=["client_credentials"])


def test_cli_stores_and_lists_the_format(runner, resources):
    with db.connection_context():
        formats = {r.uri: r.token_format for r in Resource.select()}
    assert formats == {MCP: "jwt", OPAQUE_API: "opaque"}
    listing = runner.invoke(args=["resources", "list"]).output
    assert "tokens=jwt" in listing and "tokens=opaque" in listing
    runner.invoke(args=["resources", "add", "https://plain.example.com/"])
    assert "tokens=opaque (default)" in runner.invoke(args=["resources", "list"]).output
    bad = runner.invoke(args=["resources", "add", "https://x.example.com/", "--token-format", "x"])
    assert bad.exit_code != 0 and "jwt" in bad.output


def test_admin_page_sets_the_format(client, admin):
    client.post("/login", data={"username": "root", "password": "admin password 123"})
    form = {"uri": MCP, "name": "MCP", "scopes": "mcp", "owner": "", "token_format": "jwt"}
    response = client.post("/admin/resources", data=form)
    assert response.status_code == 302
    with db.connection_context():
        assert Resource.get(Resource.uri == MCP).token_format == "jwt"
    page = client.get("/admin/resources").get_data(as_text=True)
    assert "JWT, RFC 9068" in page and "<td>jwt</td>" in page


def test_code_and_refresh_give_jwts_for_a_jwt_resource(client, oauth_client, user, resources):
    c, s = oauth_client
    body = tokens_for(client, c, s, user, scope="openid mcp", resource=MCP)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    header, claims = decode(body["access_token"])
    assert header["typ"] == "at+jwt" and header["kid"]
    assert claims["aud"] == MCP and claims["iss"] == ISSUER and claims["sub"] == user.sub
    assert claims["client_id"] == c.client_id and claims["scope"] == "openid mcp"
    assert claims["exp"] - claims["iat"] == 3600 and "auth_time" in claims
    with db.connection_context():
        row = store.find_access_token(rule.jti_digest(claims["jti"]))
        assert row.audience == MCP
    again = refresh(client, c, s, body["refresh_token"]).get_json()
    header, renewed = decode(again["access_token"])
    assert header["typ"] == "at+jwt" and renewed["jti"] != claims["jti"]
    assert renewed["auth_time"] == claims["auth_time"]


def test_opaque_resource_and_builtin_api_stay_opaque(client, oauth_client, user, resources):
    c, s = oauth_client
    assert tokens_for(client, c, s, user, scope="mcp", resource=OPAQUE_API)[
        "access_token"
    ].startswith("gat_")
    assert tokens_for(client, c, s, user)["access_token"].startswith("gat_")


def test_client_credentials_jwt_has_the_client_as_subject(client, machine, resources):
    c, s = machine
    body = cc(client, c, s, scope="mcp", resource=MCP).get_json()
    _, claims = decode(body["access_token"])
    assert claims["sub"] == c.client_id == claims["client_id"]
    assert "auth_time" not in claims and "refresh_token" not in body


@pytest.fixture
def jwt_everywhere(config):
    config["ACCESS_TOKEN_FORMAT"] = "jwt"


def test_global_default_makes_the_builtin_api_jwt(jwt_everywhere, client, oauth_client, user):
    c, s = oauth_client
    token = tokens_for(client, c, s, user)["access_token"]
    assert decode(token)[1]["aud"] == ISSUER
    me = client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["username"] == "alice"
    info = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert info.status_code == 200 and info.get_json()["sub"] == user.sub


def test_users_me_refuses_a_jwt_for_another_resource(client, oauth_client, user, resources):
    c, s = oauth_client
    token = tokens_for(client, c, s, user, scope="mcp profile", resource=MCP)["access_token"]
    me = client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_users_me_refuses_an_id_token(jwt_everywhere, client, oauth_client, user):
    c, s = oauth_client
    body = tokens_for(client, c, s, user)
    bearer = {"Authorization": f"Bearer {body['id_token']}"}
    assert client.get("/api/v2/users/me", headers=bearer).status_code == 401


def test_revoked_jwt_is_inactive_everywhere(jwt_everywhere, client, oauth_client, user):
    c, s = oauth_client
    token = tokens_for(client, c, s, user)["access_token"]
    seen = client.post("/oauth2/introspect", data={"token": token}, headers=basic(c.client_id, s))
    data = seen.get_json()
    assert data["active"] is True and data["sub"] == user.sub and data["aud"] == ISSUER
    assert data["client_id"] == c.client_id and data["exp"] == decode(token)[1]["exp"]
    revoked = client.post("/oauth2/revoke", data={"token": token}, headers=basic(c.client_id, s))
    assert revoked.status_code == 200
    with db.connection_context():
        assert AccessToken.get().revoked_at is not None
    seen = client.post("/oauth2/introspect", data={"token": token}, headers=basic(c.client_id, s))
    assert seen.get_json() == {"active": False}
    me = client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_introspection_visibility_is_the_same_for_jwts(client, oauth_client, user, resources):
    c, s = oauth_client
    token = tokens_for(client, c, s, user, scope="mcp", resource=MCP)["access_token"]
    stranger, secret = make_client("Stranger", registration="dynamic")  # unvetted: own tokens only
    seen = client.post(
        "/oauth2/introspect", data={"token": token}, headers=basic(stranger.client_id, secret)
    )
    assert seen.get_json() == {"active": False}


def test_a_jwt_signed_by_a_retired_key_verifies_while_published(
    jwt_everywhere, app, client, oauth_client, user
):
    c, s = oauth_client
    token = tokens_for(client, c, s, user)["access_token"]
    old_kid = jwt.get_unverified_header(token)["kid"]
    with app.app_context(), db.connection_context():
        (new,) = keys.rotate(timedelta(hours=2), ("RS256",))  # JWT access tokens are RS256
    assert new.kid != old_kid
    me = client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    fresh = tokens_for(client, c, s, user)["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new.kid
    with app.app_context(), db.connection_context():
        # the retired key's publication ends: its tokens stop verifying
        SigningKey.update(expires_at=utcnow()).where(SigningKey.kid == old_kid).execute()
    me = client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_device_grant_gives_a_jwt_too(jwt_everywhere, app, client, user):
    tv, _ = make_client("TV", public=True, grant_types=[DEVICE_GRANT])
    start = client.post(
        "/oauth2/device_authorization", data={"client_id": tv.client_id, "scope": "profile"}
    ).get_json()
    browser = app.test_client()
    login(browser)
    decided = browser.post(
        "/oauth2/device", data={"user_code": start["user_code"], "decision": "allow"}
    )
    assert 'data-outcome="approved"' in decided.text
    form = {"grant_type": DEVICE_GRANT, "device_code": start["device_code"]}
    body = client.post("/oauth2/token", data={"client_id": tv.client_id, **form}).get_json()
    header, claims = decode(body["access_token"])
    assert header["typ"] == "at+jwt" and claims["sub"] == user.sub and "auth_time" in claims
