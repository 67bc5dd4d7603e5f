"""The official MCP Python SDK client against examples/mcp_server.py, protected by a live Gatehouse.

Each test signs a user in through the SDK's `OAuthClientProvider`; the browser part is played
by tests/helpers/oauth_browser.py with its own httpx client (the provider holds a lock during
the flow, so the user agent must never go through the authed client).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.helpers import ROOT, postgresql
from tests.helpers.cimd import self_signed
from tests.helpers.common import pkce_pair
from tests.helpers.live import LiveServer, free_port, start_live_server
from tests.helpers.oauth_browser import drive_consent

pytestmark = pytest.mark.live

USERNAME, PASSWORD = "alice", "correct horse battery"
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"  # nothing listens; only read


@dataclass
class Stack:
    """Gatehouse (gunicorn) plus the example MCP server it protects, both on loopback."""

    gatehouse: LiveServer
    mcp: subprocess.Popen
    mcp_url: str
    rs_client_id: str
    rs_client_secret: str
    public_client_id: str
    other_resource: str
    mcp_log: Path

    @property
    def issuer(self) -> str:
        return self.gatehouse.url

    def introspect(self, token: str) -> dict:
        """What Gatehouse tells the MCP server about `token` (RFC 7662)."""
        auth = (quote(self.rs_client_id, safe=""), quote(self.rs_client_secret, safe=""))
        response = httpx.post(self.issuer + "/oauth2/introspect", data={"token": token}, auth=auth)
        assert response.status_code == 200, response.text
        return response.json()

    def logs(self) -> str:
        mcp = self.mcp_log.read_text(errors="replace")
        return f"--- gatehouse ---\n{self.gatehouse.log()[-6000:]}\n--- mcp ---\n{mcp[-6000:]}"

    def stop(self) -> None:
        if self.mcp.poll() is None:
            self.mcp.terminate()
            self.mcp.wait(timeout=10)
        self.gatehouse.stop()


def start_stack(
    tmp: Path,
    extras: bool = True,
    scopes: tuple[str, ...] = ("mcp", "mcp:write"),
    database: str | None = None,
    **env: str,
) -> Stack:
    """Gatehouse with alice, an introspection client and the MCP resource with `scopes` (with
    `extras`, also a public client and a second resource); then the example MCP server, which
    starts up while the remaining CLI calls run. `database`: a PostgreSQL URL, else SQLite."""
    gatehouse = start_live_server(tmp, workers=2, database=database, **env)
    port = free_port()
    mcp_url = f"http://127.0.0.1:{port}/mcp"
    other = f"http://127.0.0.1:{free_port()}/other-mcp"
    process = None
    try:
        rs = cli_json(gatehouse, "clients", "create", "--name", "Example MCP server",
                      "--grant-type", "client_credentials")  # fmt: skip
        process = launch_mcp_server(gatehouse.url, port, rs, tmp / "mcp_server.log")
        # One CLI write at a time: concurrent ones can fail with "database is locked".
        cli(gatehouse, "users", "create", USERNAME, "--password", PASSWORD)
        scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
        cli(gatehouse, "resources", "add", mcp_url, *scope_args, "--owner", rs["client_id"])
        public = {"client_id": ""}
        if extras:
            public = cli_json(gatehouse, "clients", "create", "--name", "Pre-registered client",
                              "--public", "--redirect-uri", REDIRECT_URI)  # fmt: skip
            cli(gatehouse, "resources", "add", other, "--scope", "mcp")
        wait_until_serving(process, port, tmp / "mcp_server.log")
    except BaseException:
        if process is not None:
            process.kill()
            process.wait()
        gatehouse.stop()
        raise
    return Stack(
        gatehouse, process, mcp_url, rs["client_id"], rs["client_secret"],
        public["client_id"], other, tmp / "mcp_server.log",
    )  # fmt: skip


def cli(gatehouse: LiveServer, *args: str) -> str:
    """`flask --app app ARGS` on the live server's database; its stderr if it fails."""
    try:
        return gatehouse.flask(*args)
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"flask {' '.join(args[:2])} failed:\n{exc.stderr}") from None


def cli_json(gatehouse: LiveServer, *args: str) -> dict:
    return json.loads(cli(gatehouse, *args, "--json"))


def launch_mcp_server(issuer: str, port: int, rs: dict, log_path: Path) -> subprocess.Popen:
    """Start examples/mcp_server.py as a user would, secrets in the environment."""
    env = {
        **os.environ,
        "MCP_INTROSPECTION_CLIENT_ID": rs["client_id"],
        "MCP_INTROSPECTION_CLIENT_SECRET": rs["client_secret"],
    }
    args = [sys.executable, "examples/mcp_server.py", "--issuer", issuer, "--port", str(port)]
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_serving(process: subprocess.Popen, port: int, log_path: Path) -> None:
    """Poll the MCP server's protected resource metadata until it answers."""
    prm = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("MCP server exited:\n" + log_path.read_text())
        try:
            if httpx.get(prm, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("MCP server did not start:\n" + log_path.read_text())


class DocumentServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 serving one client ID metadata document (CIMD) at DOCUMENT_PATH."""

    daemon_threads = True

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_port}{DOCUMENT_PATH}"


DOCUMENT_PATH = "/clients/mcp-test.json"


class DocumentHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.hits.append(self.path)
        if self.path != DOCUMENT_PATH:
            self.send_error(404)
            return
        body = json.dumps(
            {
                "client_id": self.server.url,
                "client_name": "Gatehouse test MCP client (metadata document)",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> Iterator[DocumentServer]:
    """The loopback HTTPS document server; Gatehouse trusts its self-signed certificate."""
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    server = DocumentServer(("127.0.0.1", 0), DocumentHandler)
    server.hits, server.cafile = [], cert
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module", params=postgresql.engines())
def stack(request, tmp_path_factory, documents) -> Iterator[Stack]:
    """One Gatehouse + MCP server for the tests that don't wait for a token to expire, on each
    engine (the SDK client against Gatehouse on PostgreSQL too)."""
    with postgresql.database_for(request.param) as database:
        stack = start_stack(
            tmp_path_factory.mktemp("mcp"),
            database=database,
            # Test-only: let Gatehouse fetch documents from this loopback server and trust its CA.
            GATEHOUSE_CIMD_ALLOWLIST=f"127.0.0.1:{documents.server_port}",
            GATEHOUSE_CIMD_CA_BUNDLE=documents.cafile,
        )
        yield stack
        stack.stop()


# -- the client's side: storage, the headless browser, a record of the wire ---------------


@dataclass
class MemoryStorage:
    """The SDK's TokenStorage, in memory; `client_info` preset means a pre-registered client."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None
    issued: list[OAuthToken] = field(default_factory=list)  # every token set, in order

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.issued.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class Browser:
    """The user agent: signs alice in and allows, in a thread, with its own cookie jar."""

    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))
    authorize_urls: list[str] = field(default_factory=list)
    results: list[AuthorizationCodeResult] = field(default_factory=list)

    async def redirect(self, authorization_url: str) -> None:
        self.authorize_urls.append(authorization_url)
        code, state, iss = await anyio.to_thread.run_sync(
            lambda: drive_consent(authorization_url, USERNAME, PASSWORD, http=self.http)
        )
        self.results.append(AuthorizationCodeResult(code=code, state=state, iss=iss))

    async def callback(self) -> AuthorizationCodeResult:
        return self.results[-1]


@dataclass
class Wire:
    """Every request the authed httpx2 client sent, including the OAuth flow's own."""

    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)

    async def record(self, request: httpx2.Request) -> None:
        form = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form"):
            form = parse_qs(request.content.decode())
        self.requests.append((request.method, str(request.url), form))

    def posts_to(self, url: str) -> list[dict[str, list[str]]]:
        return [form for method, u, form in self.requests if method == "POST" and u == url]


async def call_whoami(
    stack: Stack,
    storage: MemoryStorage,
    browser: Browser,
    wire: Wire,
    *,
    again_after_expiry: bool = False,
    client_metadata_url: str | None = None,
    note: str | None = None,
) -> list[dict]:
    """Connect through one OAuthClientProvider and call `whoami` (twice: across an expiry);
    with a `note`, then `write_note`, which needs a second scope (step-up)."""
    provider = OAuthClientProvider(
        server_url=stack.mcp_url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],
            client_name="Gatehouse test MCP client",
            grant_types=["authorization_code", "refresh_token"],
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
        client_metadata_url=client_metadata_url,
    )
    results = []
    hooks = {"request": [wire.record]}
    with browser.http:
        async with (
            httpx2.AsyncClient(auth=provider, event_hooks=hooks, timeout=30) as http,
            Client(streamable_http_client(stack.mcp_url, http_client=http)) as client,
        ):
            results.append(await client.call_tool("whoami", {}))
            if again_after_expiry:
                # Not a timed assertion: wait until the SDK itself considers the token expired.
                while provider.context.is_token_valid():
                    await anyio.sleep(0.2)
                results.append(await client.call_tool("whoami", {}))
            if note is not None:
                results.append(await client.call_tool("write_note", {"text": note}))
    for result in results:
        assert not result.is_error, result
    return [result.structured_content for result in results]


def run(stack: Stack, coroutine):
    """Run the client on a fresh event loop in its own thread (a session-scoped Playwright may
    own this thread's loop); on failure, show what both servers logged."""
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()
    except Exception as exc:
        raise AssertionError(f"MCP client failed: {exc!r}\n{stack.logs()}") from exc


def authorize_manually(stack: Stack, resource: str) -> str:
    """A code flow by hand for the pre-registered public client; returns its access token."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": stack.public_client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "mcp",
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
    }
    url = f"{stack.issuer}/oauth2/authorize?{urlencode(params)}"
    code, _, _ = drive_consent(url, USERNAME, PASSWORD)
    response = httpx.post(
        stack.issuer + "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": stack.public_client_id,
            "code_verifier": verifier,
            "resource": resource,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


# -- the tests ------------------------------------------------------------------------------


def test_dynamic_registration_then_tool_call(stack):
    storage, browser, wire = MemoryStorage(), Browser(), Wire()
    (whoami,) = run(stack, call_whoami(stack, storage, browser, wire))

    assert whoami["audience"] == stack.mcp_url
    assert "mcp" in whoami["scopes"]
    assert whoami["client_id"] == storage.client_info.client_id
    assert len(wire.posts_to(stack.issuer + "/oauth2/register")) == 1
    (url,) = browser.authorize_urls
    request = parse_qs(urlsplit(url).query)
    assert request["resource"] == [stack.mcp_url]  # RFC 8707, the PRM's resource
    assert request["code_challenge_method"] == ["S256"]
    # RFC 9207: the redirect carried our issuer, exactly; the SDK compared it too.
    assert [r.iss for r in browser.results] == [stack.issuer]
    (exchange,) = wire.posts_to(stack.issuer + "/oauth2/token")
    assert exchange["grant_type"] == ["authorization_code"]
    assert exchange["resource"] == [stack.mcp_url]

    # The token's audience is the MCP server, as Gatehouse itself reports it.
    claims = stack.introspect(storage.tokens.access_token)
    assert claims["active"] is True
    assert claims["aud"] == stack.mcp_url
    assert claims["client_id"] == storage.client_info.client_id
    assert "mcp" in claims["scope"].split()


def test_pre_registered_public_client(stack):
    info = OAuthClientInformationFull(
        client_id=stack.public_client_id,
        redirect_uris=[REDIRECT_URI],
        token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"],
    )
    storage, browser, wire = MemoryStorage(client_info=info), Browser(), Wire()
    (whoami,) = run(stack, call_whoami(stack, storage, browser, wire))

    assert whoami["client_id"] == stack.public_client_id
    assert whoami["audience"] == stack.mcp_url
    assert wire.posts_to(stack.issuer + "/oauth2/register") == []
    (exchange,) = wire.posts_to(stack.issuer + "/oauth2/token")
    assert exchange["client_id"] == [stack.public_client_id]
    assert "client_secret" not in exchange


def test_client_metadata_document(stack, documents):
    storage, browser, wire = MemoryStorage(), Browser(), Wire()
    (whoami,) = run(
        stack, call_whoami(stack, storage, browser, wire, client_metadata_url=documents.url)
    )

    assert storage.client_info.client_id == documents.url
    assert whoami["client_id"] == documents.url
    assert whoami["audience"] == stack.mcp_url
    assert wire.posts_to(stack.issuer + "/oauth2/register") == []
    assert DOCUMENT_PATH in documents.hits  # Gatehouse fetched the document itself
    (exchange,) = wire.posts_to(stack.issuer + "/oauth2/token")
    assert exchange["client_id"] == [documents.url]


def test_token_for_another_resource_is_refused(stack):
    other = authorize_manually(stack, stack.other_resource)
    mine = authorize_manually(stack, stack.mcp_url)
    # This server owns its resource, so introspection hides other audiences' tokens from it
    # (the verifier's own audience check is in test_mcp_verifier.py).
    assert stack.introspect(other) == {"active": False}
    assert stack.introspect(mine)["aud"] == stack.mcp_url

    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    refused = httpx.post(
        stack.mcp_url, json=request, headers={**headers, "Authorization": f"Bearer {other}"}
    )
    accepted = httpx.post(
        stack.mcp_url, json=request, headers={**headers, "Authorization": f"Bearer {mine}"}
    )
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge
    assert challenge.endswith(', scope="mcp"')  # the base scope, never offline_access
    assert accepted.status_code not in (401, 403)


def test_step_up_for_a_second_scope(stack):
    """SEP-2350: write_note needs mcp:write; the SDK client gets the 403, re-authorizes for
    the union, and the call succeeds; Gatehouse asks consent for the new scope only."""
    storage, browser, wire = MemoryStorage(), Browser(), Wire()
    whoami, note = run(stack, call_whoami(stack, storage, browser, wire, note="hello"))

    assert "mcp:write" not in whoami["scopes"]
    assert note["result"].endswith("hello")
    first, second = (
        set(parse_qs(urlsplit(u).query)["scope"][0].split()) for u in browser.authorize_urls
    )
    assert "mcp" in first and "mcp:write" not in first
    assert second == first | {"mcp:write"}  # the union, not just the challenged scopes
    assert set(stack.introspect(storage.tokens.access_token)["scope"].split()) >= second

    # The challenge the client answered, exactly (the first token has only the base scope).
    before = storage.issued[0].access_token
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "write_note", "arguments": {"text": "x"}}}  # fmt: skip
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {before}"}
    refused = httpx.post(stack.mcp_url, json=call, headers=headers)
    assert refused.status_code == 403
    prm = stack.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert refused.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="mcp mcp:write", resource_metadata="{prm}"'
    )
    # The base operation still works with that token: the challenge is per operation.
    listed = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    assert httpx.post(stack.mcp_url, json=listed, headers=headers).status_code == 200


@pytest.fixture
def short_lived_stack(tmp_path) -> Iterator[Stack]:
    """Gatehouse issuing 2-second access tokens, so a test can outlive one."""
    stack = start_stack(tmp_path, extras=False, GATEHOUSE_ACCESS_TOKEN_TTL="2")
    yield stack
    stack.stop()


def test_refresh_after_expiry(short_lived_stack):
    stack = short_lived_stack
    storage, browser, wire = MemoryStorage(), Browser(), Wire()
    first, second = run(stack, call_whoami(stack, storage, browser, wire, again_after_expiry=True))

    assert first["audience"] == second["audience"] == stack.mcp_url
    assert len(browser.results) == 1  # one sign-in; the second call rode on the refresh
    grants = [form["grant_type"][0] for form in wire.posts_to(stack.issuer + "/oauth2/token")]
    assert grants[0] == "authorization_code"
    assert "refresh_token" in grants[1:]
