"""scripts/oauth2 against a live Gatehouse: setup, PKCE, the end-to-end check, cleanup."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from urllib.parse import urlencode

import httpx
import pytest

from oauth.rules import pkce
from tests.helpers import ROOT
from tests.helpers.live import free_port, start_live_server
from tests.helpers.oauth_browser import authorize

pytestmark = pytest.mark.live

SCRIPTS = ROOT / "scripts" / "oauth2"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # A 1 s reuse grace keeps the script's wait before proving family revocation short.
    live = start_live_server(
        tmp_path_factory.mktemp("scripts"), GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE="1"
    )
    try:
        live.flask("users", "create", "alice", "--password", PASSWORD)
        yield live
    finally:
        live.stop()


def run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def exports(output: str) -> dict[str, str]:
    """The `export K=V` lines a script prints for eval."""
    values = {}
    for line in output.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line[len("export ") :]):
                key, _, value = word.partition("=")
                values[key] = value
    return values


def setup_app(env: dict[str, str], *args: str) -> dict[str, str]:
    done = run("setup-test-app.sh", *args, env=env)
    assert done.returncode == 0, done.stderr
    return exports(done.stdout)


def check_env(server, app: dict[str, str], **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GATEHOUSE_URL": server.url,
        "TEST_USERNAME": "alice",
        "TEST_PASSWORD": PASSWORD,
        "REUSE_GRACE": "2",
        **app,
        **extra,
    }
    if "CLIENT_SECRET" not in app:
        env.pop("CLIENT_SECRET", None)
    return env


@pytest.mark.parametrize(
    "setup_args, extra",
    [
        ((), {}),
        (("--auth-method", "client_secret_post"), {"TOKEN_AUTH": "post"}),
        (("--public",), {}),
    ],
    ids=["client_secret_basic", "client_secret_post", "public"],
)
def test_end_to_end_script_passes(server, setup_args, extra):
    app = setup_app(server.env, *setup_args)
    assert app["CLIENT_ID"] and app["REDIRECT_URI"].startswith("http://127.0.0.1:")
    assert ("CLIENT_SECRET" in app) is ("--public" not in setup_args)
    done = run("test-mcp-oauth2.sh", env=check_env(server, app, **extra))
    assert done.returncode == 0, done.stdout + done.stderr + server.log()[-3000:]
    assert "All checks passed" in done.stdout
    for step in ("Discovery", "replayed code", "rotates", "revokes the whole family", "RFC 7009"):
        assert step in done.stderr


@pytest.mark.parametrize(
    "spoil, message",
    [
        ({"TEST_PASSWORD": "wrong password"}, "sign-in as alice failed"),
        ({"CLIENT_SECRET": "gcs_000000000000_wrong"}, "token exchange: HTTP 401"),
        ({"GATEHOUSE_URL": "http://127.0.0.1:1"}, ""),
    ],
    ids=["wrong password", "wrong secret", "no server"],
)
def test_end_to_end_script_fails_loudly(server, spoil, message):
    app = setup_app(server.env)
    done = run("test-mcp-oauth2.sh", env=check_env(server, app, **spoil))
    assert done.returncode != 0
    assert "All checks passed" not in done.stdout
    assert message in done.stderr


def test_end_to_end_script_fails_on_a_late_step(tmp_path):
    """A server that never revokes on reuse fails step 11 of 12: the exit status says so."""
    lax = start_live_server(tmp_path, workers=2, GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE="3600")
    try:
        lax.flask("users", "create", "alice", "--password", PASSWORD)
        app = setup_app(lax.env)
        done = run("test-mcp-oauth2.sh", env=check_env(lax, app, REUSE_GRACE="0"))
    finally:
        lax.stop()
    assert done.returncode != 0
    assert "All checks passed" not in done.stdout
    assert "ok: refused" in done.stderr  # the steps before it ran and passed
    assert "FAIL: family still alive after reuse" in done.stderr
    assert "Grant 3" not in done.stderr


def test_generate_pkce_is_s256():
    done = run("generate-pkce.sh", env=dict(os.environ))
    values = exports(done.stdout)
    assert pkce.valid_verifier(values["CODE_VERIFIER"])
    assert pkce.s256(values["CODE_VERIFIER"]) == values["CODE_CHALLENGE"]
    assert values["CODE_CHALLENGE_METHOD"] == "S256"


def test_cleanup_deletes_the_app(server):
    app = setup_app(server.env)
    done = run("cleanup-test-app.sh", app["CLIENT_ID"], env=server.env)
    assert done.returncode == 0, done.stderr
    assert app["CLIENT_ID"] not in server.flask("clients", "list")
    assert not exports(done.stdout)  # nothing but `unset` for eval


def test_manual_flow_catches_the_callback_and_exchanges_the_code(server):
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    app = setup_app(server.env | {"REDIRECT_URI": redirect_uri})
    env = check_env(server, app, PORT=str(port), TIMEOUT="60")
    process = subprocess.Popen(
        [str(SCRIPTS / "test-manual-flow.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = ""
        while "/oauth2/authorize?" not in url:
            line = process.stderr.readline()
            assert line, "the script printed no authorization URL"
            url = line.strip()
        # play the person in the browser, then deliver the redirect to the script's listener
        query = authorize(url, "alice", PASSWORD)
        callback = f"{redirect_uri}?{urlencode(query)}"
        for _ in range(50):
            try:
                assert httpx.get(callback).status_code == 200
                break
            except httpx.ConnectError:
                time.sleep(0.1)  # the listener is not up yet
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    body = json.loads(out)
    assert body["token_type"] == "Bearer" and body["access_token"].startswith("gat_")
