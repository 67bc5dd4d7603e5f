"""The JSON management API: /api/v2/oauth2-provider/apps and their secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import (
    AccessToken,
    AuditEvent,
    Client,
    ClientSecret,
    TokenFamily,
    db,
    utcnow,
)
from oauth import crypto
from oauth.rules.bearer import find_access_token
from tests.helpers.common import make_client, personal_token, session_login

API = "/api/v2/oauth2-provider/apps"
GOOD = {"name": "Inventory", "redirect_uris": ["https://inventory.example.com/callback"]}


@pytest.fixture
def auth(admin) -> dict[str, str]:
    return {"Authorization": f"Bearer {personal_token(admin)}"}


def mint_token(client: Client, secret: ClientSecret | None = None) -> str:
    """An access token in a family (as the token endpoint would store one); its plaintext."""
    value, digest = crypto.new_token(crypto.ACCESS_TOKEN)
    later = utcnow() + timedelta(hours=1)
    with db.connection_context():
        family = TokenFamily.create(
            client=client,
            client_secret=secret,
            grant_type="client_credentials",
            audience="http://127.0.0.1:8000",
            expires_at=later,
        )
        AccessToken.create(
            token_hash=digest,
            family_id=family.id,
            expires_at=later,
        )
    return value


def live(token: str) -> bool:
    with db.connection_context():
        return find_access_token(token) is not None


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", API),
        ("POST", API),
        ("GET", API + "/x"),
        ("PATCH", API + "/x"),
        ("DELETE", API + "/x"),
        ("GET", API + "/x/secrets"),
        ("POST", API + "/x/secrets"),
        ("DELETE", API + "/x/secrets/1"),
    ],
)
def test_no_credentials_is_401_with_challenge(client, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"
    assert "message" in response.get_json()


def test_non_admin_token_is_403(client, user):
    headers = {"Authorization": f"Bearer {personal_token(user)}"}
    response = client.get(API, headers=headers)
    assert response.status_code == 403
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_token_is_401(client, admin):
    response = client.get(API, headers={"Authorization": "Bearer gpt_not-a-real-token"})
    assert response.status_code == 401


def test_admin_session_works_for_reads(client, admin):
    session_login(client, admin)
    assert client.get(API).status_code == 200


def test_admin_session_writes_need_csrf(config, admin):
    config["WTF_CSRF_ENABLED"] = True
    from app import create_app

    app = create_app(config)
    client = app.test_client()
    session_login(client, admin)
    assert client.post(API, json=GOOD).status_code == 400  # no X-CSRFToken
    with db.connection_context():
        assert Client.select().count() == 0


def test_token_writes_need_no_csrf(config, admin):
    config["WTF_CSRF_ENABLED"] = True
    from app import create_app

    client = create_app(config).test_client()
    headers = {"Authorization": f"Bearer {personal_token(admin)}"}
    assert client.post(API, json=GOOD, headers=headers).status_code == 201


# -- create, get, list ---------------------------------------------------------------------


def test_create_returns_201_with_app_secret_and_endpoints(client, auth, app):
    response = client.post(
        API, json={**GOOD, "logo_uri": "https://cdn.example.com/l.png"}, headers=auth
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["id"] == body["client_id"]
    assert response.headers["Location"].endswith(f"/apps/{body['id']}")
    assert body["client_type"] == "confidential"
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["registration"] == "admin"
    assert body["client_secret"].startswith("gcs_")
    issuer = app.config["ISSUER"]
    assert body["endpoints"] == {
        "authorization": f"{issuer}/oauth2/authorize",
        "token": f"{issuer}/oauth2/token",
        "revocation": f"{issuer}/oauth2/revoke",
        "introspection": f"{issuer}/oauth2/introspect",
        "device_authorization": f"{issuer}/oauth2/device_authorization",
    }
    with db.connection_context():
        stored = ClientSecret.get()
    assert crypto.matches(body["client_secret"], stored.secret_hash)
    fetched = client.get(API + "/" + body["id"], headers=auth).get_json()
    assert "client_secret" not in fetched
    assert fetched["logo_uri"] == "https://cdn.example.com/l.png"


def test_public_app_gets_no_secret(client, auth):
    body = client.post(API, json={**GOOD, "client_type": "public"}, headers=auth).get_json()
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    response = client.post(API + f"/{body['id']}/secrets", headers=auth)
    assert response.status_code == 400


def test_bad_input_lists_every_problem(client, auth):
    payload = {
        "name": "",
        "redirect_uris": ["javascript:alert(1)", "http://example.com/cb"],
        "client_type": "public",
        "grant_types": ["client_credentials", "password"],
        "logo_uri": "http://example.com/logo.png",
    }
    response = client.post(API, json=payload, headers=auth)
    assert response.status_code == 400
    body = response.get_json()
    fields = {v["field"] for v in body["validations"]}
    assert {"name", "redirect_uris[0]", "redirect_uris[1]", "grant_types", "logo_uri"} <= fields
    assert body["message"]
    assert len(body["validations"]) >= 6  # password + client_credentials-on-public both listed


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("not json", "application/json"),
        ("name=x", "application/x-www-form-urlencoded"),
        ("", "application/json"),
        ("null", "application/json"),
        ("[1, 2]", "application/json"),
        ('"a string"', "application/json"),
        ("\xff\xfe", "application/json"),
    ],
)
def test_non_json_bodies_are_400_not_500(client, auth, data, content_type):
    response = client.post(API, data=data, content_type=content_type, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["message"]


def test_list_search_paging_and_count(client, auth):
    for name in ("Alpha", "Beta", "alphabet soup", "Gamma"):
        make_client(name=name)
    body = client.get(API + "?q=ALPHA", headers=auth).get_json()
    assert body["count"] == 2
    assert sorted(a["name"] for a in body["apps"]) == ["Alpha", "alphabet soup"]
    page = client.get(API + "?limit=1&offset=1", headers=auth).get_json()
    assert page["count"] == 4
    assert len(page["apps"]) == 1
    assert client.get(API + "?q=%25", headers=auth).get_json()["count"] == 0  # not a wildcard


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "limit=1.5"])
def test_list_rejects_bad_paging(client, auth, query):
    response = client.get(f"{API}?{query}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["validations"]


def test_list_caps_limit_at_200(client, auth):
    assert client.get(API + "?limit=100000", headers=auth).status_code == 200


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/nope"),
        ("PUT", "/nope"),
        ("PATCH", "/nope"),
        ("DELETE", "/nope"),
        ("GET", "/nope/secrets"),
        ("POST", "/nope/secrets"),
        ("DELETE", "/nope/secrets/1"),
    ],
)
def test_unknown_app_is_404_json(client, auth, method, path):
    response = client.open(API + path, method=method, json=GOOD, headers=auth)
    assert response.status_code == 404
    assert "nope" in response.get_json()["message"]
    assert response.headers["Cache-Control"] == "no-store"


# -- update --------------------------------------------------------------------------------


def test_patch_changes_only_named_fields_and_audits(client, auth):
    app_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    response = client.patch(f"{API}/{app_id}", json={"name": "Renamed"}, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Renamed"
    assert body["redirect_uris"] == GOOD["redirect_uris"]
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.action == "app.update")
    assert event.actor == "root"
    assert event.target == app_id
    assert event.changes == {"name": ["Inventory", "Renamed"]}


def test_patch_is_checked_against_the_stored_app(client, auth):
    app_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    # Confidential app: switching to public without changing the auth method is inconsistent.
    response = client.patch(f"{API}/{app_id}", json={"client_type": "public"}, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["validations"][0]["field"] == "token_endpoint_auth_method"


def test_put_replaces_with_defaults(client, auth):
    created = client.post(
        API, json={**GOOD, "scope": "openid", "grant_types": ["authorization_code"]}, headers=auth
    ).get_json()
    response = client.put(f"{API}/{created['id']}", json=GOOD, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["scope"] == ""
    assert body["grant_types"] == ["authorization_code", "refresh_token"]


def test_put_requires_the_name(client, auth):
    app_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    response = client.put(f"{API}/{app_id}", json={"redirect_uris": []}, headers=auth)
    fields = {v["field"] for v in response.get_json()["validations"]}
    assert fields == {"name", "redirect_uris"}


# -- delete --------------------------------------------------------------------------------


def test_delete_cascades_to_secrets_and_tokens(client, auth):
    app, _ = make_client()
    token = mint_token(app)
    assert live(token)
    response = client.delete(f"{API}/{app.client_id}", headers=auth)
    assert response.status_code == 204
    assert response.data == b""
    assert not live(token)
    with db.connection_context():
        assert ClientSecret.select().count() == 0
        assert TokenFamily.select().count() == 0
        assert AuditEvent.get(AuditEvent.action == "app.delete").target == app.client_id
    assert client.get(f"{API}/{app.client_id}", headers=auth).status_code == 404


# -- secrets -------------------------------------------------------------------------------


def test_secret_create_list_shows_last6_only(client, auth):
    app, first = make_client()
    response = client.post(f"{API}/{app.client_id}/secrets", headers=auth)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = response.get_json()
    secret = created["client_secret"]
    assert secret.startswith("gcs_") and created["last6"] == secret[-6:]
    listed = client.get(f"{API}/{app.client_id}/secrets", headers=auth)
    rows = listed.get_json()["secrets"]
    assert [r["last6"] for r in rows] == [first[-6:], secret[-6:]]
    assert set(rows[0]) == {"id", "created_at", "last_used_at", "last6"}
    assert secret not in listed.get_data(as_text=True)


def test_secret_delete_revokes_its_tokens_only(client, auth):
    app, _ = make_client()
    with db.connection_context():
        old = ClientSecret.get(ClientSecret.client == app)
    new_id = client.post(f"{API}/{app.client_id}/secrets", headers=auth).get_json()["id"]
    with db.connection_context():
        new = ClientSecret.get_by_id(new_id)
    doomed, kept = mint_token(app, old), mint_token(app, new)
    response = client.delete(f"{API}/{app.client_id}/secrets/{old.id}", headers=auth)
    assert response.status_code == 204
    assert not live(doomed)
    assert live(kept)
    with db.connection_context():
        assert [s.id for s in ClientSecret.select()] == [new_id]


def test_secret_of_another_app_is_404(client, auth):
    one, _ = make_client(name="One")
    two, _ = make_client(name="Two")
    with db.connection_context():
        secret = ClientSecret.get(ClientSecret.client == two)
    response = client.delete(f"{API}/{one.client_id}/secrets/{secret.id}", headers=auth)
    assert response.status_code == 404


def test_audit_never_holds_a_secret(client, auth):
    body = client.post(API, json=GOOD, headers=auth).get_json()
    extra = client.post(f"{API}/{body['id']}/secrets", headers=auth).get_json()
    client.delete(f"{API}/{body['id']}/secrets/{extra['id']}", headers=auth)
    with db.connection_context():
        hashes = [s.secret_hash for s in ClientSecret.select()]
        events = list(AuditEvent.select())
    assert [e.action for e in events] == ["app.create", "secret.create", "secret.delete"]
    dump = " ".join(str(e.changes) for e in events)
    for secret in (body["client_secret"], extra["client_secret"], *hashes):
        assert secret not in dump
