"""Dynamic client registration (RFC 7591) and management (RFC 7592)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app import create_app
from models import (
    AccessToken,
    AuditEvent,
    Client,
    ClientSecret,
    InitialAccessToken,
    ThrottleEvent,
    TokenFamily,
    db,
    utcnow,
)
from oauth import crypto, store
from oauth.endpoints import registration
from oauth.ops import maintenance
from oauth.ops.migrations import upgrade
from oauth.rules import throttle
from tests.helpers import ISSUER
from tests.helpers.common import make_client

REDIRECT = "http://127.0.0.1:9999/callback"
MCP_SDK_BODY = {
    "response_types": ["code"],
    "scope": "mcp",
    "client_name": "MCP client",
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "application_type": "native",
}


def register(client, body, headers=None):
    return client.post("/oauth2/register", json=body, headers=headers or {})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_minimal_registration_defaults_to_client_secret_basic(client):
    response = register(client, {"redirect_uris": [REDIRECT]})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    assert info["token_endpoint_auth_method"] == "client_secret_basic"
    assert info["client_secret"].startswith("gcs_")
    assert info["client_secret_expires_at"] == 0
    assert info["registration_access_token"].startswith("grg_")
    assert info["registration_client_uri"] == f"{ISSUER}/oauth2/clients/{info['client_id']}"
    assert isinstance(info["client_id_issued_at"], int)
    assert info["redirect_uris"] == [REDIRECT]
    assert info["grant_types"] == ["authorization_code"]  # RFC 7591 §2 default
    assert info["response_types"] == ["code"]


def test_every_field_is_stored_and_echoed(client):
    body = {
        "redirect_uris": [REDIRECT, "https://app.example/cb"],
        "client_name": "Everything",
        "client_uri": "https://app.example",
        "logo_uri": "https://app.example/logo.png",
        "tos_uri": "https://app.example/tos",
        "policy_uri": "https://app.example/privacy",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "openid profile",
        "contacts": ["ops@app.example"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1",
        "application_type": "native",
        "post_logout_redirect_uris": ["https://app.example/bye"],
    }
    info = register(client, body).get_json()
    for key, value in body.items():
        assert info[key] == value, key
    with db.connection_context():
        row = Client.by_client_id(info["client_id"])
        assert row.registration == "dynamic"
        assert row.name == "Everything"
        assert row.contacts == ["ops@app.example"]
        assert row.tos_uri == "https://app.example/tos"
        assert row.post_logout_redirect_uris == ["https://app.example/bye"]
        assert row.registration_token_hash == crypto.sha256_hex(info["registration_access_token"])
        secret = ClientSecret.get(ClientSecret.client == row)
        assert crypto.matches(info["client_secret"], secret.secret_hash)


def test_public_client_has_no_secret_key(client):
    info = register(client, {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
    info = info.get_json()
    assert "client_secret" not in info
    assert "client_secret_expires_at" not in info
    with db.connection_context():
        row = Client.by_client_id(info["client_id"])
        assert row.is_public
        assert ClientSecret.select().where(ClientSecret.client == row).count() == 0


def test_mcp_sdk_body(client):
    response = register(client, MCP_SDK_BODY)
    assert response.status_code == 201
    info = response.get_json()
    assert info["scope"] == "mcp"  # kept as asked; authorize checks it against resources
    assert info["application_type"] == "native"
    assert info["client_secret"]
    assert info["redirect_uris"] == MCP_SDK_BODY["redirect_uris"]


def test_unknown_and_server_fields_are_ignored(client):
    body = {
        "redirect_uris": [REDIRECT],
        "client_id": "chosen-by-me",
        "client_secret": "chosen-by-me-too",
        "software_statement": "eyJ...",
        "x_vendor": {"anything": 1},
        "client_name": None,
    }
    info = register(client, body).get_json()
    assert info["client_id"] != "chosen-by-me"
    assert info["client_secret"] != "chosen-by-me-too"
    assert "x_vendor" not in info
    assert info["client_name"]


@pytest.mark.parametrize(
    "body, error, field",
    [
        ({}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": "https://a.example/cb"}, "invalid_client_metadata", "redirect_uris"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri", "redirect_uris[0]"),
        ({"redirect_uris": ["https://a.example/cb#frag"]}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": ["https://*.example/cb"]}, "invalid_redirect_uri", "redirect_uris"),
        (
            {"redirect_uris": [REDIRECT] * 1 + ["x" * 3000]},
            "invalid_redirect_uri",
            "redirect_uris[1]",
        ),
        (
            {"token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata", "grant_types"),
        ({"grant_types": ["password"]}, "invalid_client_metadata", "grant_types"),
        ({"grant_types": "authorization_code"}, "invalid_client_metadata", "grant_types"),
        ({"response_types": ["token"]}, "invalid_client_metadata", "response_types"),
        ({"response_types": ["code id_token"]}, "invalid_client_metadata", "response_types"),
        (
            {"grant_types": ["refresh_token"], "response_types": ["code"]},
            "invalid_client_metadata",
            "response_types",
        ),
        (
            {
                "token_endpoint_auth_method": "none",
                "grant_types": ["client_credentials"],
                "response_types": [],
            },
            "invalid_client_metadata",
            "grant_types",
        ),
        ({"client_name": ""}, "invalid_client_metadata", "client_name"),
        ({"client_name": 42}, "invalid_client_metadata", "client_name"),
        ({"client_name": "x" * 101}, "invalid_client_metadata", "client_name"),
        ({"client_name": "bad\x00name"}, "invalid_client_metadata", "client_name"),
        ({"client_uri": "ftp://app.example"}, "invalid_client_metadata", "client_uri"),
        ({"logo_uri": "http://app.example/logo.png"}, "invalid_client_metadata", "logo_uri"),
        ({"tos_uri": 5}, "invalid_client_metadata", "tos_uri"),
        ({"policy_uri": "https://user@app.example/p"}, "invalid_client_metadata", "policy_uri"),
        ({"scope": 'openid "quoted"'}, "invalid_client_metadata", "scope"),
        ({"scope": ["openid"]}, "invalid_client_metadata", "scope"),
        ({"contacts": "ops@app.example"}, "invalid_client_metadata", "contacts"),
        ({"contacts": ["a@b.example"] * 3 + [""]}, "invalid_client_metadata", "contacts"),
        ({"software_id": ""}, "invalid_client_metadata", "software_id"),
        ({"software_version": ["1"]}, "invalid_client_metadata", "software_version"),
        ({"application_type": "desktop"}, "invalid_client_metadata", "application_type"),
        (
            {"post_logout_redirect_uris": ["http://evil.example/"]},
            "invalid_redirect_uri",
            "post_logout_redirect_uris[0]",
        ),
    ],
)
def test_field_rules(client, body, error, field):
    if "redirect_uris" not in body and body != {}:
        body = {"redirect_uris": [REDIRECT], **body}
    response = register(client, body)
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    payload = response.get_json()
    assert payload["error"] == error
    assert field in payload["error_description"]


@pytest.mark.parametrize(
    "grants, method",
    [
        (["urn:ietf:params:oauth:grant-type:device_code"], "client_secret_basic"),
        (["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"], "none"),
    ],
)
def test_clients_without_redirects(client, grants, method):
    body = {"grant_types": grants, "token_endpoint_auth_method": method}
    response = register(client, body)
    assert response.status_code == 201, response.get_json()
    info = response.get_json()
    assert info["response_types"] == []
    assert info["redirect_uris"] == []


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("{not json", "application/json"),
        ("", "application/json"),
        ("[1, 2]", "application/json"),
        ("null", "application/json"),
        ('"a string"', "application/json"),
        (json.dumps({"redirect_uris": [REDIRECT]}), "text/plain"),
        ("redirect_uris=http%3A%2F%2F127.0.0.1%2Fcb", "application/x-www-form-urlencoded"),
        (b"\xff\xfe{", "application/json"),
        (json.dumps({"redirect_uris": [REDIRECT]}), None),
    ],
)
def test_bad_bodies_are_400(client, data, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/oauth2/register", data=data, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_json_subtype_is_accepted(client):
    response = client.post(
        "/oauth2/register",
        data=json.dumps({"redirect_uris": [REDIRECT]}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_registration_is_audited(client):
    info = register(client, {"redirect_uris": [REDIRECT], "client_name": "Audited"}).get_json()
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.target == info["client_id"])
        assert event.actor == "dcr"
        dumped = json.dumps(event.changes)
        assert info["client_secret"] not in dumped
        assert info["registration_access_token"] not in dumped


# -- RFC 7592 ------------------------------------------------------------------------------


@pytest.fixture
def registered(client):
    body = {"redirect_uris": [REDIRECT], "client_name": "Managed", "scope": "openid"}
    return register(client, body).get_json()


def test_read_configuration(client, registered):
    response = client.get(
        f"/oauth2/clients/{registered['client_id']}",
        headers=bearer(registered["registration_access_token"]),
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    assert "client_secret" not in info
    assert info["client_name"] == "Managed"
    assert info["registration_client_uri"] == registered["registration_client_uri"]
    with db.connection_context():
        row = Client.by_client_id(registered["client_id"])
        hashes = {row.registration_token_hash} | {s.secret_hash for s in row.secrets}
    assert not any(h in response.get_data(as_text=True) for h in hashes)


def test_update_replaces_metadata(client, registered):
    body = {
        "client_id": registered["client_id"],
        "client_secret": registered["client_secret"],
        "redirect_uris": ["https://new.example/cb"],
        "client_name": "Renamed",
        "token_endpoint_auth_method": "client_secret_post",
    }
    response = client.put(
        registered["registration_client_uri"].removeprefix(ISSUER),
        json=body,
        headers=bearer(registered["registration_access_token"]),
    )
    assert response.status_code == 200, response.get_json()
    info = response.get_json()
    assert info["client_name"] == "Renamed"
    assert info["redirect_uris"] == ["https://new.example/cb"]
    assert info["token_endpoint_auth_method"] == "client_secret_post"
    assert "scope" not in info  # omitted in the update: removed (RFC 7592 §2.2)
    assert "client_secret" not in info


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"client_id": "someone-else"}, "client_id"),
        ({"client_id": None}, "client_id"),
        ({"client_secret": "gcs_000000000000_wrong"}, "client_secret"),
        ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "redirect_uris[0]"),
    ],
)
def test_update_rules(client, registered, changes, field):
    body = {"client_id": registered["client_id"], "redirect_uris": [REDIRECT], **changes}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.put(
        f"/oauth2/clients/{registered['client_id']}",
        json=body,
        headers=bearer(registered["registration_access_token"]),
    )
    assert response.status_code == 400
    assert field in response.get_json()["error_description"]


def test_public_client_stays_public_on_update(client):
    info = register(
        client, {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    ).get_json()
    url = f"/oauth2/clients/{info['client_id']}"
    token = bearer(info["registration_access_token"])
    same = client.put(
        url, json={"client_id": info["client_id"], "redirect_uris": [REDIRECT]}, headers=token
    )
    assert same.status_code == 200
    assert same.get_json()["token_endpoint_auth_method"] == "none"
    switch = {
        "client_id": info["client_id"],
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    assert client.put(url, json=switch, headers=token).status_code == 400


def test_delete_cascades(client, registered):
    with db.connection_context():
        row = Client.by_client_id(registered["client_id"])
        family = TokenFamily.create(
            client=row,
            grant_type="authorization_code",
            audience=ISSUER,
            expires_at=utcnow() + timedelta(hours=1),
        )
        AccessToken.create(
            token_hash=b"x" * 32,
            family_id=family.id,
            expires_at=utcnow() + timedelta(hours=1),
        )
    url = f"/oauth2/clients/{registered['client_id']}"
    token = bearer(registered["registration_access_token"])
    response = client.delete(url, headers=token)
    assert response.status_code == 204
    assert response.get_data() == b""
    with db.connection_context():
        assert Client.by_client_id(registered["client_id"]) is None
        assert TokenFamily.select().count() == 0 and ClientSecret.select().count() == 0
        # Its token lost its family with it: dead at once, and gone at the next purge.
        assert store.find_access_token(b"x" * 32) is None
        assert maintenance.purge()["access_token"] == 1
        assert AccessToken.select().count() == 0
    assert client.get(url, headers=token).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer grg_wrong"},
        {"Authorization": "Basic Z3JnOng="},
        {"Authorization": "Bearer gat_not_a_registration_token"},
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_or_missing_token_is_401(client, registered, headers, method):
    response = client.open(
        f"/oauth2/clients/{registered['client_id']}",
        method=method,
        json={"client_id": registered["client_id"], "redirect_uris": [REDIRECT]},
        headers=headers,
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_token_of_another_client_is_401(client, registered):
    other = register(client, {"redirect_uris": [REDIRECT]}).get_json()
    response = client.get(
        f"/oauth2/clients/{other['client_id']}",
        headers=bearer(registered["registration_access_token"]),
    )
    assert response.status_code == 401


def test_admin_created_apps_are_unreachable(client, registered):
    admin_client, _ = make_client(registration="admin")
    with db.connection_context():  # even if such a row somehow had a token hash
        Client.update(registration_token_hash=crypto.sha256_hex("grg_planted")).where(
            Client.id == admin_client.id
        ).execute()
    for token in ("grg_planted", registered["registration_access_token"]):
        response = client.get(f"/oauth2/clients/{admin_client.client_id}", headers=bearer(token))
        assert response.status_code == 401


# -- policy and rate limit -----------------------------------------------------------------


def make_app(config, **overrides):
    config.update(overrides)
    upgrade(config["DATABASE"])
    return create_app(config)


def test_policy_off(config):
    app = make_app(config, REGISTRATION="off")
    response = app.test_client().post("/oauth2/register", json={"redirect_uris": [REDIRECT]})
    assert response.status_code == 403
    assert response.headers["Cache-Control"] == "no-store"
    db.close()


def test_policy_admin_needs_a_single_use_initial_token(config):
    app = make_app(config, REGISTRATION="admin")
    client = app.test_client()
    body = {"redirect_uris": [REDIRECT]}
    missing = client.post("/oauth2/register", json=body)
    assert missing.status_code == 401
    assert missing.get_json()["error"] == "invalid_token"
    assert "WWW-Authenticate" in missing.headers
    assert client.post("/oauth2/register", json=body, headers=bearer("gia_nope")).status_code == 401

    result = app.test_cli_runner().invoke(registration.registration_cli, ["token"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("gia_")
    with db.connection_context():
        assert InitialAccessToken.get().token_hash == crypto.sha256_hex(token)
    assert client.post("/oauth2/register", json=body, headers=bearer(token)).status_code == 201
    assert client.post("/oauth2/register", json=body, headers=bearer(token)).status_code == 401
    db.close()


def test_policy_admin_expired_token(config):
    app = make_app(config, REGISTRATION="admin")
    token, digest = crypto.new_secret(crypto.INITIAL_ACCESS_TOKEN)
    with db.connection_context():
        InitialAccessToken.create(token_hash=digest, expires_at=utcnow() - timedelta(seconds=1))
    response = app.test_client().post(
        "/oauth2/register", json={"redirect_uris": [REDIRECT]}, headers=bearer(token)
    )
    assert response.status_code == 401
    db.close()


def test_rate_limit_per_ip(client):
    bucket = "register:ip:127.0.0.1"
    now = utcnow()
    with db.connection_context():
        for _ in range(throttle.REGISTRATION_IP_LIMIT - 1):
            ThrottleEvent.create(bucket=bucket, created_at=now - timedelta(seconds=5))
        for _ in range(50):  # old attempts no longer count
            ThrottleEvent.create(bucket=bucket, created_at=now - timedelta(minutes=5))
        ThrottleEvent.create(bucket="register:ip:10.0.0.9", created_at=now)
    assert register(client, {"redirect_uris": [REDIRECT]}).status_code == 201
    response = register(client, {"redirect_uris": [REDIRECT]})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"
    other = client.post(
        "/oauth2/register",
        json={"redirect_uris": [REDIRECT]},
        environ_base={"REMOTE_ADDR": "10.0.0.8"},
    )
    assert other.status_code == 201
