"""The JSON management API for protected resources: /api/v2/oauth2-provider/resources.

The token format chosen here (RFC 9068 JWT or opaque) decides the next token for that audience.
"""

from __future__ import annotations

import jwt
import pytest

from models import AuditEvent, Resource, db
from tests.helpers import ISSUER
from tests.helpers.common import make_client, personal_token, session_login
from tests.helpers.tokens import client_credentials

API = "/api/v2/oauth2-provider/resources"
MCP = "https://mcp.example.com/mcp"
GOOD = {"uri": MCP, "name": "Notes MCP", "scopes": ["notes:read"], "token_format": "jwt"}


@pytest.fixture
def auth(admin) -> dict[str, str]:
    return {"Authorization": f"Bearer {personal_token(admin)}"}


@pytest.fixture
def machine(app):
    return make_client("Machine", grant_types=["client_credentials"])


def audits() -> list[tuple[str, str, dict]]:
    with db.connection_context():
        rows = AuditEvent.select().where(AuditEvent.target_type == "resource")
        return [(e.action, e.actor, e.changes) for e in rows.order_by(AuditEvent.id)]


def token_for(client, machine, audience: str) -> str:
    response = client_credentials(client, *machine, scope="notes:read", resource=audience)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def is_jwt(token: str) -> bool:
    try:
        return jwt.get_unverified_header(token)["typ"] == "at+jwt"
    except jwt.DecodeError:
        return False


# -- the guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", API),
        ("POST", API),
        ("GET", API + "/1"),
        ("PATCH", API + "/1"),
        ("DELETE", API + "/1"),
    ],
)
def test_no_credentials_is_401_with_challenge(client, method, path):
    response = client.open(path, method=method, json=GOOD)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"
    with db.connection_context():
        assert Resource.select().count() == 0


def test_non_admin_token_is_403(client, user):
    headers = {"Authorization": f"Bearer {personal_token(user)}"}
    assert client.get(API, headers=headers).status_code == 403
    assert client.post(API, json=GOOD, headers=headers).status_code == 403
    with db.connection_context():
        assert Resource.select().count() == 0


def test_admin_session_writes_need_csrf(config, admin):
    config["WTF_CSRF_ENABLED"] = True
    from app import create_app

    client = create_app(config).test_client()
    session_login(client, admin)
    assert client.get(API).status_code == 200
    assert client.post(API, json=GOOD).status_code == 400  # no X-CSRFToken
    with db.connection_context():
        assert Resource.select().count() == 0


# -- create, read, list, delete ----------------------------------------------------------------


def test_create_returns_201_and_the_resource(client, auth, machine):
    body = {**GOOD, "uri": "HTTPS://MCP.example.com/mcp", "owner": machine[0].client_id}
    response = client.post(API, json=body, headers=auth)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = response.get_json()
    assert response.headers["Location"] == f"{ISSUER}{API}/{created['id']}"
    assert created["uri"] == MCP  # stored in canonical form, as the CLI and page do
    assert created["scopes"] == ["notes:read"] and created["name"] == "Notes MCP"
    assert created["owner"] == machine[0].client_id and created["token_format"] == "jwt"
    assert client.get(response.headers["Location"], headers=auth).get_json() == created
    listing = client.get(API, headers=auth).get_json()
    assert listing == {"resources": [created], "count": 1}


def test_defaults_follow_the_global_format(client, auth):
    created = client.post(API, json={"uri": MCP}, headers=auth).get_json()
    assert created["token_format"] is None and created["scopes"] == [] and created["owner"] is None


def test_delete_forgets_the_resource(client, auth):
    row_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    response = client.delete(f"{API}/{row_id}", headers=auth)
    assert response.status_code == 204
    assert client.get(f"{API}/{row_id}", headers=auth).status_code == 404
    assert client.delete(f"{API}/{row_id}", headers=auth).status_code == 404
    assert [a[0] for a in audits()] == ["resource.add", "resource.delete"]


def test_protected_resource_metadata_follows_changes(client, auth):
    """RFC 9728: the PRM of a resource under the issuer shows its scopes as they are now."""
    prm = "/.well-known/oauth-protected-resource/notes"
    body = {"uri": ISSUER + "/notes", "name": "Notes", "scopes": ["notes:read"]}
    row_id = client.post(API, json=body, headers=auth).get_json()["id"]
    assert client.get(prm).get_json()["scopes_supported"] == ["notes:read"]
    client.patch(f"{API}/{row_id}", json={"scopes": ["notes:write"]}, headers=auth)
    assert client.get(prm).get_json()["scopes_supported"] == ["notes:write"]
    client.delete(f"{API}/{row_id}", headers=auth)
    assert client.get(prm).status_code == 404


def test_unknown_id_is_404(client, auth):
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(f"{API}/999", method=method, json={}, headers=auth)
        assert response.status_code == 404
        assert "message" in response.get_json()


# -- the token format decides the next token -------------------------------------------------


def test_jwt_then_patch_to_opaque_changes_the_next_token(client, auth, machine):
    row_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    token = token_for(client, machine, MCP)
    assert is_jwt(token)
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == MCP
    response = client.patch(f"{API}/{row_id}", json={"token_format": "opaque"}, headers=auth)
    assert response.status_code == 200
    assert response.get_json()["token_format"] == "opaque"
    assert not is_jwt(token_for(client, machine, MCP))
    client.patch(f"{API}/{row_id}", json={"token_format": "jwt"}, headers=auth)
    assert is_jwt(token_for(client, machine, MCP))


def test_patch_changes_only_what_it_names_and_is_audited(client, auth, machine, admin):
    row_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    owner = machine[0].client_id
    patch = {"name": "Notes", "scopes": ["notes:read", "notes:write"], "owner": owner}
    updated = client.patch(f"{API}/{row_id}", json=patch, headers=auth).get_json()
    assert updated["uri"] == MCP and updated["token_format"] == "jwt"
    assert updated["scopes"] == ["notes:read", "notes:write"] and updated["owner"] == owner
    assert audits()[-1] == (
        "resource.update",
        "root",
        {
            "name": ["Notes MCP", "Notes"],
            "scopes": ["notes:read", "notes:read notes:write"],
            "owner": [None, owner],
        },
    )
    client.patch(f"{API}/{row_id}", json={"token_format": None, "owner": None}, headers=auth)
    assert audits()[-1][2] == {"token_format": ["jwt", None], "owner": [owner, None]}
    client.patch(f"{API}/{row_id}", json={"name": "Notes"}, headers=auth)  # no change
    assert len(audits()) == 3


def test_changes_reach_discovery_at_once(client, auth):
    def scopes_supported() -> list[str]:
        return client.get("/.well-known/oauth-authorization-server").get_json()["scopes_supported"]

    assert "notes:read" not in scopes_supported()  # now cached
    row_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    assert "notes:read" in scopes_supported()
    client.patch(f"{API}/{row_id}", json={"scopes": ["notes:admin"]}, headers=auth)
    assert "notes:admin" in scopes_supported() and "notes:read" not in scopes_supported()
    client.delete(f"{API}/{row_id}", headers=auth)
    assert "notes:admin" not in scopes_supported()


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["uri"]),
        ({"uri": "not a uri"}, ["uri"]),
        ({"uri": MCP, "token_format": "JWT"}, ["token_format"]),
        ({"uri": MCP, "scopes": "notes:read"}, ["scopes"]),  # a list, not a string
        ({"uri": MCP, "scopes": ["bad\\scope"]}, ["scopes"]),
        ({"uri": MCP, "owner": "nope", "name": 5}, ["name", "owner"]),
        ({"uri": 7, "name": "a\u202eb"}, ["uri", "name"]),
        ({"uri": MCP, "format": "jwt", "scope": "x"}, ["format", "scope"]),
        ([GOOD], [""]),
    ],
)
def test_create_validation_lists_every_problem(client, auth, body, fields):
    response = client.post(API, json=body, headers=auth)
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    assert answer["message"] and [v["field"] for v in answer["validations"]] == fields
    with db.connection_context():
        assert Resource.select().count() == 0
    assert audits() == []


def test_unknown_fields_are_refused_by_name(client, auth):
    response = client.post(API, json={**GOOD, "tokenformat": "jwt"}, headers=auth)
    problem = response.get_json()["validations"][0]
    assert problem["field"] == "tokenformat" and "token_format" in problem["detail"]
    row_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    response = client.patch(f"{API}/{row_id}", json={"uri": "https://other.example"}, headers=auth)
    assert response.status_code == 400  # the URI is the audience: fixed once registered
    assert [v["field"] for v in response.get_json()["validations"]] == ["uri"]


def test_duplicate_uri_is_refused(client, auth):
    assert client.post(API, json=GOOD, headers=auth).status_code == 201
    response = client.post(API, json={"uri": "HTTPS://mcp.EXAMPLE.com/mcp"}, headers=auth)
    assert response.status_code == 400
    assert "already registered" in response.get_json()["validations"][0]["detail"]


def test_bad_patch_changes_nothing(client, auth):
    row_id = client.post(API, json=GOOD, headers=auth).get_json()["id"]
    body = {"name": "Renamed", "token_format": "paseto"}
    response = client.patch(f"{API}/{row_id}", json=body, headers=auth)
    assert [v["field"] for v in response.get_json()["validations"]] == ["token_format"]
    with db.connection_context():
        row = Resource.get_by_id(row_id)
        assert (row.name, row.token_format) == ("Notes MCP", "jwt")
    assert [a[0] for a in audits()] == ["resource.add"]


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_update_switches_the_format(runner, app):
    assert runner.invoke(args=["resources", "add", MCP, "--token-format", "jwt"]).exit_code == 0
    result = runner.invoke(args=["resources", "update", MCP, "--token-format", "opaque"])
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert Resource.by_uri(MCP).token_format == "opaque"
    runner.invoke(args=["resources", "update", MCP, "--token-format", "default", "--name", "N"])
    with db.connection_context():
        row = Resource.by_uri(MCP)
        assert (row.token_format, row.name) == (None, "N")
    assert [a[0] for a in audits()] == ["resource.add", "resource.update", "resource.update"]
    missing = runner.invoke(args=["resources", "update", "https://nope.example/", "--name", "x"])
    assert missing.exit_code != 0 and "no resource" in missing.output


def test_ids_beyond_sqlite_integers_are_404(client, auth):
    response = client.get(f"{API}/{2**64}", headers=auth)
    assert response.status_code == 404
