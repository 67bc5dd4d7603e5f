"""The control API for tests (/api/v2/mock/): who may call it, users, clients, forced errors,
minted tokens; and forced errors taken exactly once across gunicorn workers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest

from models import AuditEvent, Client, MockForcedError, User, db
from oauth import keys
from oauth.manage import users as accounts
from tests.helpers import ISSUER
from tests.helpers.authorize import REDIRECT, params, sign_in
from tests.helpers.common import basic, make_client, query_of
from tests.helpers.live import start_live_server, worker_pids


@pytest.fixture
def mock_config(config, request):
    config.update(getattr(request, "param", {"MOCK": True}))
    return config


@pytest.fixture
def api(mock_config, app):
    return app.test_client()


def token_for(username: str, is_admin: bool) -> str:
    with db.connection_context():
        user = accounts.create_user(username, is_admin=is_admin)
        return accounts.new_personal_token("test", "", user)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- who may call it -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mock_config", "who", "status"),
    [
        ({"MOCK": True}, None, 201),
        ({"MOCK": True}, "bogus", 201),
        ({"MOCK": False}, None, 404),
        ({"MOCK": False}, "bogus", 404),
        ({"MOCK": False}, "user", 404),
        ({"MOCK": False}, "admin", 404),  # no route at all outside mock mode, tokens or not
    ],
    indirect=["mock_config"],
)
def test_open_in_mock_mode_and_absent_otherwise(api, who, status):
    headers = {}
    if who == "bogus":
        headers = bearer("gpt_not-a-real-token")
    elif who is not None:
        headers = bearer(token_for(who, is_admin=who == "admin"))
    response = api.put("/api/v2/mock/users/target", json={"name": "T"}, headers=headers)
    assert response.status_code == status, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    if status == 404:
        assert response.get_json()["error"] == "not_found"
    with db.connection_context():
        assert (User.by_username("target") is not None) == (status == 201)


def test_an_admin_token_is_the_audited_actor(api):
    token = token_for("root", is_admin=True)
    api.put("/api/v2/mock/users/zed", json={}, headers=bearer(token))
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.action == "user.create", AuditEvent.target == "zed")
    assert event.actor == "root"


def test_a_session_cookie_is_not_enough_outside_mock_mode(config, app, admin):
    """Outside mock mode there is no control API, whoever asks."""
    web = app.test_client()
    sign_in(web, "root", "admin password 123")
    assert web.get("/api/v2/mock/errors").status_code == 404


# -- users ---------------------------------------------------------------------------------


def test_put_user_creates_then_updates_keeping_left_out_fields(api):
    body = {
        "email": "kim@example.com",
        "name": "Kim",
        "email_verified": True,
        "claims": {"groups": ["a"]},
    }
    created = api.put("/api/v2/mock/users/Kim", json=body)
    assert created.status_code == 201
    assert created.get_json()["username"] == "kim"
    assert created.get_json()["claims"] == {"groups": ["a"]}
    updated = api.put("/api/v2/mock/users/kim", json={"claims": {"groups": ["b"]}, "admin": True})
    assert updated.status_code == 200
    data = updated.get_json()
    assert data["sub"] == created.get_json()["sub"]
    assert (data["email"], data["name"], data["email_verified"]) == ("kim@example.com", "Kim", True)
    assert data["claims"] == {"groups": ["b"]} and data["admin"] is True
    assert "password_hash" not in data


def test_the_last_admin_keeps_admin_rights(api):
    api.put("/api/v2/mock/users/only", json={"admin": True})
    response = api.put("/api/v2/mock/users/only", json={"admin": False, "name": "Only"})
    assert response.status_code == 400
    assert response.get_json()["validations"][0]["field"] == "admin"
    with db.connection_context():
        user = User.by_username("only")
    assert user.is_admin and user.name is None  # nothing of the update was written


def test_put_user_password_sets_a_password_that_works(api):
    body = {"password": "a long enough password"}
    assert api.put("/api/v2/mock/users/pat", json=body).status_code == 201
    with db.connection_context():
        assert accounts.authenticate("pat", "a long enough password") is not None
        assert accounts.authenticate("pat", "another password here") is None


@pytest.mark.parametrize(
    ("username", "body", "fields"),
    [
        ("ok", {"claims": {"sub": "x"}}, ["claims"]),
        ("ok", {"claims": ["x"]}, ["claims"]),
        ("ok", {"email": "not-an-email"}, ["email"]),
        ("ok", {"email": 5, "name": ["x"]}, ["email", "name"]),
        ("ok", {"admin": "yes", "email_verified": 1}, ["admin", "email_verified"]),
        ("ok", {"password": "short"}, ["password"]),
        ("has space", {}, ["username"]),
        ("ok", ["not", "an", "object"], []),
    ],
)
def test_put_user_validation(api, username, body, fields):
    response = api.put(f"/api/v2/mock/users/{username}", json=body)
    assert response.status_code == 400
    data = response.get_json()
    assert data["message"]
    assert [v["field"] for v in data.get("validations", [])] == fields
    with db.connection_context():
        assert User.select().count() == 0


def test_body_must_be_json(api):
    response = api.put("/api/v2/mock/users/x", data="name=x")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["message"]


# -- clients -------------------------------------------------------------------------------


def test_create_confidential_and_public_clients(api):
    confidential = api.post("/api/v2/mock/clients", json={"redirect_uris": [REDIRECT]})
    assert confidential.status_code == 201
    body = confidential.get_json()
    assert body["client_secret"].startswith("gcs_") and body["registration"] == "mock"
    public = api.post(
        "/api/v2/mock/clients",
        json={"name": "SPA", "client_type": "public", "redirect_uris": [REDIRECT]},
    )
    assert public.status_code == 201 and "client_secret" not in public.get_json()
    token = api.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(body["client_id"], body["client_secret"]),
    )
    assert token.status_code == 400  # a real client: authenticated, but not granted this
    assert token.get_json()["error"] == "unauthorized_client"


def test_create_client_validation_is_the_apps_apis(api):
    response = api.post("/api/v2/mock/clients", json={"redirect_uris": ["http://example.com/cb"]})
    assert response.status_code == 400
    assert response.get_json()["validations"][0]["field"] == "redirect_uris[0]"


# -- forced errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"endpoint": "nope", "error": "x"}, ["endpoint"]),
        ({"endpoint": "token", "error": "has space"}, ["error"]),
        ({"endpoint": "token", "error": 'quo"te'}, ["error"]),
        ({"endpoint": "token"}, ["error"]),
        ({"endpoint": "token", "error": "x", "status": 302}, ["status"]),
        ({"endpoint": "token", "error": "x", "status": 600}, ["status"]),
        ({"endpoint": "token", "error": "x", "status": True}, ["status"]),
        ({"endpoint": "token", "error": "x", "error_description": "é"}, ["error_description"]),
        ({"endpoint": "token", "error": "x", "error_description": "a\\b"}, ["error_description"]),
        ([], [""]),
    ],
)
def test_forced_error_validation(api, body, fields):
    response = api.post("/api/v2/mock/errors", json=body)
    assert response.status_code == 400
    assert [v["field"] for v in response.get_json()["validations"]] == fields


def token_request(api, **form):
    return api.post("/oauth2/token", data={"grant_type": "client_credentials", **form})


def test_forced_errors_are_answered_once_in_order(api):
    for status, error in ((400, "invalid_grant"), (503, "temporarily_unavailable")):
        body = {"endpoint": "token", "status": status, "error": error, "error_description": error}
        assert api.post("/api/v2/mock/errors", json=body).status_code == 201
    listed = api.get("/api/v2/mock/errors").get_json()["errors"]
    assert [e["error"] for e in listed] == ["invalid_grant", "temporarily_unavailable"]

    first = token_request(api)
    assert (first.status_code, first.get_json()["error"]) == (400, "invalid_grant")
    assert first.headers["Cache-Control"] == "no-store" and first.headers["Pragma"] == "no-cache"
    second = token_request(api)
    assert (second.status_code, second.get_json()["error"]) == (503, "temporarily_unavailable")
    assert second.headers["Retry-After"] == "1"
    normal = token_request(api)
    assert normal.get_json()["error"] == "invalid_client"  # the real endpoint again
    assert api.get("/api/v2/mock/errors").get_json()["errors"] == []


def test_forced_error_waits_for_its_own_endpoint(api):
    api.post("/api/v2/mock/errors", json={"endpoint": "introspect", "error": "server_error"})
    assert token_request(api).get_json()["error"] == "invalid_client"
    response = api.post("/oauth2/introspect", data={"token": "x"})
    assert response.get_json() == {"error": "server_error"}
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("endpoint", "method", "path"),
    [
        ("userinfo", "GET", "/oauth2/userinfo"),
        ("revoke", "POST", "/oauth2/revoke"),
        ("register", "POST", "/oauth2/register"),
        ("device_authorization", "POST", "/oauth2/device_authorization"),
    ],
)
def test_every_protocol_endpoint_can_be_forced(api, endpoint, method, path):
    body = {"endpoint": endpoint, "status": 500, "error": "server_error", "error_description": "x"}
    api.post("/api/v2/mock/errors", json=body)
    response = api.open(path, method=method)
    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error", "error_description": "x"}


def test_delete_clears_the_queue(api):
    for _ in range(3):
        api.post("/api/v2/mock/errors", json={"endpoint": "token", "error": "invalid_grant"})
    assert api.delete("/api/v2/mock/errors").get_json() == {"deleted": 3}
    assert token_request(api).get_json()["error"] == "invalid_client"


def test_forced_authorize_error_redirects_to_a_verified_client(api, user):
    client, _ = make_client()
    sign_in(api, "alice")
    body = {"endpoint": "authorize", "error": "temporarily_unavailable", "status": 503}
    api.post("/api/v2/mock/errors", json=body)
    response = api.get("/oauth2/authorize", query_string=params(client.client_id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT + "?")
    query = query_of(response.headers["Location"])
    assert query == {"error": "temporarily_unavailable", "state": "xyz state", "iss": ISSUER}


def test_forced_authorize_error_is_a_page_for_an_unverified_client(api):
    body = {
        "endpoint": "authorize",
        "error": "server_error",
        "status": 500,
        "error_description": "d",
    }
    api.post("/api/v2/mock/errors", json=body)
    response = api.get("/oauth2/authorize", query_string=params("unknown-client"))
    assert response.status_code == 500
    assert "Location" not in response.headers and response.mimetype == "text/html"
    with db.connection_context():
        assert MockForcedError.select().count() == 0


# -- minted tokens -------------------------------------------------------------------------


@pytest.fixture
def resource_server():
    return make_client(name="Resource server")


def test_minted_tokens_are_real(api, resource_server):
    rs, rs_secret = resource_server
    body = {
        "username": "Minty",
        "client_id": rs.client_id,
        "scope": "openid profile",
        "claims": {"roles": ["reader"]},
        "expires_in": 120,
        "nonce": "abc",
    }
    response = api.post("/api/v2/mock/tokens", json=body)
    assert response.status_code == 201
    minted = response.get_json()
    assert minted["token_type"] == "Bearer" and minted["expires_in"] == 120
    me = api.get("/api/v2/users/me", headers=bearer(minted["access_token"]))
    assert me.status_code == 200 and me.get_json()["username"] == "minty"
    info = api.post(
        "/oauth2/introspect",
        data={"token": minted["access_token"]},
        headers=basic(rs.client_id, rs_secret),
    ).get_json()
    assert info["active"] and info["username"] == "minty" and info["aud"] == ISSUER
    assert info["exp"] - info["iat"] == 120
    with db.connection_context():
        claims = keys.verify(minted["id_token"], rs.client_id, ISSUER)
        stored = User.by_username("minty").claims
    assert claims["roles"] == ["reader"] and claims["nonce"] == "abc"
    assert claims["exp"] - claims["iat"] == 120
    assert stored == {}  # minted claims are for this token only


def test_minted_token_for_another_audience(api, resource_server):
    rs, rs_secret = resource_server
    body = {"username": "a", "client_id": rs.client_id, "audience": "https://API.example.com/mcp"}
    minted = api.post("/api/v2/mock/tokens", json=body).get_json()
    assert minted["audience"] == "https://api.example.com/mcp"
    assert api.get("/api/v2/users/me", headers=bearer(minted["access_token"])).status_code == 401
    info = api.post(
        "/oauth2/introspect",
        data={"token": minted["access_token"]},
        headers=basic(rs.client_id, rs_secret),
    ).get_json()
    assert info["active"] and info["aud"] == "https://api.example.com/mcp"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["username", "client_id"]),
        ({"username": "a", "client_id": "nope"}, ["client_id"]),
        ({"username": "a", "scope": "bad\\scope"}, ["client_id", "scope"]),
        ({"username": "a", "audience": "not a uri"}, ["client_id", "audience"]),
        ({"username": "a", "claims": {"aud": "x"}}, ["client_id", "claims"]),
        ({"username": "a", "expires_in": 0}, ["client_id", "expires_in"]),
        ({"username": "a", "expires_in": "60"}, ["client_id", "expires_in"]),
        ({"username": "a", "token_format": "JWT"}, ["client_id", "token_format"]),
    ],
)
def test_mint_validation(api, body, fields):
    response = api.post("/api/v2/mock/tokens", json=body)
    assert response.status_code == 400
    assert [v["field"] for v in response.get_json()["validations"]] == fields


def test_mint_refuses_a_bad_username(api, resource_server):
    body = {"username": "no spaces allowed", "client_id": resource_server[0].client_id}
    response = api.post("/api/v2/mock/tokens", json=body)
    assert response.status_code == 400
    assert response.get_json()["validations"][0]["field"] == "username"


def test_minted_jwt_access_token(api, resource_server):
    """`token_format: jwt` mints an RFC 9068 token carrying the extra claims; still revocable."""
    rs, rs_secret = resource_server
    body = {
        "username": "jay",
        "client_id": rs.client_id,
        "scope": "openid profile",
        "claims": {"roles": ["reader"]},
        "expires_in": 120,
        "token_format": "jwt",
    }
    minted = api.post("/api/v2/mock/tokens", json=body).get_json()
    token = minted["access_token"]
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["reader"] and claims["aud"] == ISSUER
    assert claims["exp"] - claims["iat"] == 120 and claims["client_id"] == rs.client_id
    assert api.get("/api/v2/users/me", headers=bearer(token)).status_code == 200
    api.post("/oauth2/revoke", data={"token": token}, headers=basic(rs.client_id, rs_secret))
    assert api.get("/api/v2/users/me", headers=bearer(token)).status_code == 401
    default = {k: v for k, v in body.items() if k != "token_format"}
    assert api.post("/api/v2/mock/tokens", json=default).get_json()["access_token"][:4] == "gat_"


# -- across workers ------------------------------------------------------------------------


def test_forced_errors_are_taken_exactly_once_across_two_workers(tmp_path):
    server = start_live_server(tmp_path, workers=2, threads=4, GATEHOUSE_MOCK="1")
    try:
        queued = 6
        for i in range(queued):
            body = {"endpoint": "token", "error": "invalid_grant", "error_description": f"n{i}"}
            assert httpx.post(server.url + "/api/v2/mock/errors", json=body).status_code == 201

        def call(_):
            form = {"grant_type": "client_credentials"}
            return httpx.post(server.url + "/oauth2/token", data=form, timeout=30).json()

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(call, range(40)))
        forced = [a["error_description"] for a in answers if a["error"] == "invalid_grant"]
        assert sorted(forced) == [f"n{i}" for i in range(queued)]  # each once, none twice
        assert sum(a["error"] == "invalid_client" for a in answers) == 40 - queued
        remaining = httpx.get(server.url + "/api/v2/mock/errors").json()["errors"]
        assert remaining == []
        assert len(worker_pids(server)) == 2
    finally:
        server.stop()


def test_minted_id_token_follows_the_clients_alg(api, resource_server):
    rs, _ = resource_server
    with db.connection_context():
        Client.update(id_token_signed_response_alg="ES256").where(Client.id == rs.id).execute()
    body = {"username": "Minty", "client_id": rs.client_id, "scope": "openid"}
    minted = api.post("/api/v2/mock/tokens", json=body).get_json()
    assert jwt.get_unverified_header(minted["id_token"])["alg"] == "ES256"
    with db.connection_context():
        assert keys.verify(minted["id_token"], rs.client_id, ISSUER)["sub"]
