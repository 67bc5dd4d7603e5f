"""`flask clients ...` and `flask resources ...` (the CLI contract in DESIGN.md)."""

from __future__ import annotations

import json

import pytest

from models import AuditEvent, Client, ClientSecret, Resource, db
from oauth import crypto
from tests.helpers.common import make_client

CB = "https://app.example.com/callback"


def create(runner, *args: str):
    return runner.invoke(args=["clients", "create", "--name", "CLI App", *args])


def test_create_prints_greppable_lines(runner):
    result = create(runner, "--redirect-uri", CB)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert set(lines) == {"client_id", "client_secret"}
    with db.connection_context():
        client = Client.by_client_id(lines["client_id"])
        secret = ClientSecret.get(ClientSecret.client == client)
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert crypto.matches(lines["client_secret"], secret.secret_hash)
    assert secret.last6 == lines["client_secret"][-6:]


def test_create_json_is_one_object(runner, app):
    result = create(
        runner,
        "--redirect-uri", CB,
        "--redirect-uri", "http://127.0.0.1/cb",
        "--auth-method", "client_secret_post",
        "--grant-type", "authorization_code",
        "--grant-type", "client_credentials",
        "--scope", "openid mcp:tools",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["client_secret"].startswith("gcs_")
    assert body["name"] == "CLI App"
    assert body["client_type"] == "confidential"
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    assert body["redirect_uris"] == [CB, "http://127.0.0.1/cb"]
    assert body["grant_types"] == ["authorization_code", "client_credentials"]
    assert body["scope"] == "openid mcp:tools"
    assert body["endpoints"]["token"] == app.config["ISSUER"] + "/oauth2/token"


def test_public_client_has_no_secret(runner):
    result = create(runner, "--redirect-uri", CB, "--public", "--json")
    body = json.loads(result.stdout)
    assert "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none"
    with db.connection_context():
        assert ClientSecret.select().count() == 0
    result = runner.invoke(args=["clients", "secret", body["client_id"]])
    assert result.exit_code != 0
    assert "Public clients have no secret" in result.output


def test_device_grant_needs_no_redirect_uri(runner):
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    result = create(runner, "--public", "--grant-type", grant, "--grant-type", "refresh_token")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--redirect-uri", "javascript:alert(1)"], "redirect_uris[0]"),
        (["--redirect-uri", "http://example.com/cb"], "loopback"),
        ([], "at least one redirect URI"),
        (["--redirect-uri", CB, "--public", "--grant-type", "client_credentials"], "public"),
        (["--redirect-uri", CB, "--public", "--auth-method", "client_secret_post"], "none"),
        (["--redirect-uri", CB, "--scope", 'a"b'], "scope"),
        (["--redirect-uri", CB, "--grant-type", "password"], "password"),
    ],
)
def test_create_rejects_bad_input(runner, args, message):
    result = create(runner, *args)
    assert result.exit_code != 0
    assert message in result.output
    with db.connection_context():
        assert Client.select().count() == 0


def test_secret_json_is_the_api_shape(runner):
    client, _ = make_client()
    result = runner.invoke(args=["clients", "secret", client.client_id, "--json"])
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert set(body) == {"id", "created_at", "last_used_at", "last6", "client_secret"}
    assert body["client_secret"].startswith("gcs_")
    assert body["last6"] == body["client_secret"][-6:] and body["last_used_at"] is None
    with db.connection_context():
        assert ClientSecret.get_by_id(body["id"]).client_id == client.id


def test_list_delete_and_secret(runner):
    client, old = make_client(name="Listed")
    listed = runner.invoke(args=["clients", "list"])
    assert client.client_id in listed.stdout and "Listed" in listed.stdout
    assert json.loads(runner.invoke(args=["clients", "list", "--json"]).stdout)[0]["name"] == (
        "Listed"
    )
    result = runner.invoke(args=["clients", "secret", client.client_id])
    assert result.exit_code == 0
    new = result.stdout.strip().removeprefix("client_secret: ")
    assert new.startswith("gcs_") and new != old
    with db.connection_context():
        assert ClientSecret.select().count() == 2
    assert runner.invoke(args=["clients", "delete", client.client_id]).exit_code == 0
    with db.connection_context():
        assert Client.select().count() == 0
        assert ClientSecret.select().count() == 0
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
        assert actions == ["secret.create", "app.delete"]
        assert {e.actor for e in AuditEvent.select()} == {"cli"}


@pytest.mark.parametrize("command", ["delete", "secret"])
def test_unknown_client(runner, command):
    result = runner.invoke(args=["clients", command, "nope"])
    assert result.exit_code != 0
    assert "no client 'nope'" in result.output


# -- resources -----------------------------------------------------------------------------


def test_resources_add_list_delete(runner):
    client, _ = make_client(name="Resource Server")
    result = runner.invoke(
        args=[
            "resources", "add", "HTTPS://MCP.Example.COM:443/mcp", "--name", "MCP",
            "--scope", "mcp:tools", "--scope", "mcp:read", "--owner", client.client_id,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.connection_context():
        row = Resource.get()
        assert row.uri == "https://mcp.example.com/mcp"  # stored canonical
        assert row.scope_list == ["mcp:tools", "mcp:read"]
        assert row.owner_id == client.id
    listed = runner.invoke(args=["resources", "list"]).stdout
    assert "https://mcp.example.com/mcp" in listed and client.client_id in listed
    result = runner.invoke(args=["resources", "delete", "https://MCP.example.com/mcp"])
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert Resource.select().count() == 0
        assert [e.action for e in AuditEvent.select()] == ["resource.add", "resource.delete"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["https://api.example.com/#frag"], "fragment"),
        (["not a uri"], "absolute URI"),
        (["https://api.example.com", "--scope", 'bad"scope'], "scope"),
        (["https://api.example.com", "--owner", "nobody"], "no client 'nobody'"),
    ],
)
def test_resources_add_rejects(runner, args, message):
    result = runner.invoke(args=["resources", "add", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_resources_add_twice(runner):
    assert runner.invoke(args=["resources", "add", "https://api.example.com"]).exit_code == 0
    result = runner.invoke(args=["resources", "add", "https://API.example.com"])
    assert result.exit_code != 0
    assert "already registered" in result.output


def test_resources_delete_unknown(runner):
    result = runner.invoke(args=["resources", "delete", "https://nope.example.com"])
    assert result.exit_code != 0


def test_client_ids_never_look_like_options():
    """A client_id is typed on command lines: it must not start with '-' (or '_')."""
    from oauth import crypto

    ids = {crypto.new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i[0].isalnum() and len(i) == 32 for i in ids)
