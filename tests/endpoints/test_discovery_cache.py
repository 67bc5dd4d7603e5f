"""Discovery documents are served from per-worker bytes with an ETag, and any change to the
resources, by any process, shows in the very next response (no time-to-live)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from models import Resource, db
from tests.helpers import ISSUER, ROOT
from tests.helpers.postgresql import connect, run

AS_DOC = "/.well-known/oauth-authorization-server"
PRM = "/.well-known/oauth-protected-resource/mcp"


def scopes(client) -> set[str]:
    response = client.get(AS_DOC)
    assert response.status_code == 200
    return set(response.get_json()["scopes_supported"])


def test_cli_resources_add_shows_in_the_next_response(app, client, config):
    before = client.get(AS_DOC)
    assert "cli:scope" not in before.get_json()["scopes_supported"]
    assert scopes(client) == set(before.get_json()["scopes_supported"])  # now cached
    env = {**os.environ, "GATEHOUSE_DATABASE": config["DATABASE"]}
    env["GATEHOUSE_SECRET_KEY"] = config["SECRET_KEY"]
    command = ["-m", "flask", "--app", "app", "resources", "add", "https://cli.example/mcp"]
    subprocess.run(
        [sys.executable, *command, "--scope", "cli:scope"], cwd=ROOT, env=env, check=True
    )
    after = client.get(AS_DOC)  # the same worker, no waiting
    assert "cli:scope" in after.get_json()["scopes_supported"]
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_resource_edited_in_place_by_another_process_shows_at_once(app, client, config):
    with db.connection_context():
        Resource.create(uri=f"{ISSUER}/mcp", name="Files", scopes="files.read")
    assert "files.read" in scopes(client)
    prm = client.get(PRM)
    assert prm.get_json()["resource_name"] == "Files"
    # Same row count, same ids: only the scopes and the name change.
    conn = connect(config["DATABASE"])  # autocommit
    conn.execute("UPDATE resource SET scopes = 'files.write', name = 'Drive'")
    conn.close()
    assert "files.write" in scopes(client) and "files.read" not in scopes(client)
    prm = client.get(PRM)
    assert prm.get_json()["scopes_supported"] == ["files.write"]
    assert prm.get_json()["resource_name"] == "Drive"


def test_a_resource_deleted_by_another_process_leaves_at_once(app, client, config):
    with db.connection_context():
        Resource.create(uri=f"{ISSUER}/mcp", name="Files", scopes="files.read")
    assert "files.read" in scopes(client)
    conn = connect(config["DATABASE"])  # autocommit
    conn.execute("DELETE FROM resource")
    conn.close()
    assert "files.read" not in scopes(client)


def test_if_none_match_gets_304_without_a_body(client):
    for path in (AS_DOC, "/.well-known/openid-configuration", "/oauth2/jwks"):
        first = client.get(path)
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
        other = client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.data == first.data


def test_a_key_changed_in_place_by_another_process_shows_in_the_next_jwks(client, config):
    first = client.get("/oauth2/jwks")
    rsa = next(key for key in first.get_json()["keys"] if key["alg"] == "RS256")
    assert client.get("/oauth2/jwks").data == first.data  # now cached
    # Same rows, same ids, nothing retired: only one key's published JWK changes.
    conn = connect(config["DATABASE"])  # autocommit, "another process"
    edited = json.dumps({**rsa, "x-edited": "yes"})
    run(conn, "UPDATE signing_key SET public_jwk = ? WHERE kid = ?", (edited, rsa["kid"]))
    conn.close()
    after = client.get("/oauth2/jwks")
    assert {**rsa, "x-edited": "yes"} in after.get_json()["keys"]
    assert after.headers["ETag"] != first.headers["ETag"]
