"""The official TypeScript MCP SDK client (@modelcontextprotocol/sdk) against a live Gatehouse.

tests/interop/node/mcp_client.mjs connects to examples/mcp_server.py through the SDK's
StreamableHTTPClientTransport and an OAuthClientProvider; every time the SDK sends the user to
Gatehouse, this side signs alice in and allows over HTTP (tests/helpers/oauth_browser.py) and
hands the redirect back. The script reports what it saw, including every request the SDK made.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from test_mcp_sdk import (  # the Python SDK test's stack parts and its CIMD server
    DOCUMENT_PATH,
    PASSWORD,
    REDIRECT_URI,
    USERNAME,
    Stack,
    documents,  # noqa: F401 - a fixture
    start_stack,
)

from tests.helpers import node
from tests.helpers.oauth_browser import authorize

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def stack(tmp_path_factory, documents) -> Iterator[Stack]:  # noqa: F811
    """Gatehouse (trusting the loopback CIMD server) and the example MCP server, whose
    resource has the scopes `mcp` and `mcp:write` (the second for write_note's step-up)."""
    node.install()
    stack = start_stack(
        tmp_path_factory.mktemp("ts-mcp"),
        extras=False,
        scopes=("mcp", "mcp:write"),
        GATEHOUSE_CIMD_ALLOWLIST=f"127.0.0.1:{documents.server_port}",
        GATEHOUSE_CIMD_CA_BUNDLE=documents.cafile,
    )
    yield stack
    stack.stop()


class Person:
    """alice at her browser: one cookie jar, so a later authorization may skip the sign-in."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=15)

    def authorize(self, message: dict) -> dict:
        return authorize(message["url"], USERNAME, PASSWORD, http=self.http)


def run_client(stack: Stack, tmp_path, steps: str, **env: str) -> dict:
    person = Person()
    try:
        return node.run_script(
            "mcp_client.mjs",
            {"MCP_URL": stack.mcp_url, "REDIRECT_URI": REDIRECT_URI, "STEPS": steps, **env},
            {"authorize": person.authorize},
            tmp_path / "node.log",
        )
    except (AssertionError, subprocess.SubprocessError) as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from None
    finally:
        person.http.close()


def posts(result: dict, url: str) -> list[dict]:
    return [e for e in result["wire"] if e["method"] == "POST" and e["url"] == url]


def token_requests(result: dict, stack: Stack) -> list[dict]:
    return [e["form"] for e in posts(result, stack.issuer + "/oauth2/token")]


def test_discovery_registration_refresh_and_reuse(stack, tmp_path):
    result = run_client(stack, tmp_path, "whoami,refresh,reuse")
    client_id = result["client"]["client_id"]

    # Discovery from the 401: the MCP endpoint's challenge, its PRM, then Gatehouse's metadata.
    wire = [(e["method"], urlsplit(e["url"]).path, e["status"]) for e in result["wire"]]
    assert wire[0] == ("POST", "/mcp", 401)
    assert "resource_metadata=" in result["wire"][0]["challenge"]
    assert wire[1] == ("GET", "/.well-known/oauth-protected-resource/mcp", 200)
    assert wire[2] == ("GET", "/.well-known/oauth-authorization-server", 200)

    # RFC 7591: registered once, public, for our redirect URI.
    (registration,) = posts(result, stack.issuer + "/oauth2/register")
    assert registration["status"] == 201
    assert registration["json"]["redirect_uris"] == [REDIRECT_URI]
    assert result["client"]["token_endpoint_auth_method"] == "none"

    # The first authorization: PKCE S256 and the resource indicator (RFC 8707); RFC 9207's iss.
    first = result["authorizations"][0]
    request = parse_qs(urlsplit(first["url"]).query)
    assert request["resource"] == [stack.mcp_url]
    assert request["code_challenge_method"] == ["S256"]
    assert request["client_id"] == [client_id]
    assert first["callback"]["iss"] == stack.issuer

    grants = token_requests(result, stack)
    assert grants[0]["grant_type"] == "authorization_code"
    assert grants[0]["resource"] == stack.mcp_url
    assert grants[0]["code_verifier"]

    # A tool call with the token, whose audience is the MCP server.
    calls = result["calls"]
    assert calls["first"]["audience"] == stack.mcp_url
    assert calls["first"]["client_id"] == client_id
    assert "mcp" in calls["first"]["scopes"]

    # Refresh through the SDK's auth(): rotated, same resource, and the new token works.
    assert result["refresh"] == "AUTHORIZED"
    assert grants[1]["grant_type"] == "refresh_token"
    assert grants[1]["resource"] == stack.mcp_url
    first_tokens, refreshed = result["tokens"][0], result["tokens"][1]
    assert refreshed["refresh_token"] != first_tokens["refresh_token"]
    assert calls["afterRefresh"]["audience"] == stack.mcp_url

    # Reuse detection (OAuth 2.1 §4.3.1): the replayed token is refused and its family revoked,
    # so even the current refresh token and access token stop working...
    reuse = result["reuse"]
    assert (reuse["replayed"], reuse["current"]) == ("invalid_grant", "invalid_grant")
    assert stack.introspect(refreshed["access_token"]) == {"active": False}
    # ...and the SDK recovers by itself: a failed refresh, the tokens dropped, a new sign-in.
    assert reuse["recovery"] == "REDIRECT"
    assert "tokens" in result["invalidated"]
    assert len(result["authorizations"]) == 2
    latest = result["tokens"][-1]
    assert stack.introspect(latest["access_token"])["active"] is True
    assert calls["afterReuse"]["client_id"] == client_id


def test_client_metadata_document(stack, documents, tmp_path):  # noqa: F811
    result = run_client(stack, tmp_path, "whoami", CLIENT_METADATA_URL=documents.url)

    assert result["client"]["client_id"] == documents.url
    assert posts(result, stack.issuer + "/oauth2/register") == []
    assert DOCUMENT_PATH in documents.hits  # Gatehouse fetched the document itself
    (authorization,) = result["authorizations"]
    request = parse_qs(urlsplit(authorization["url"]).query)
    assert request["client_id"] == [documents.url]
    assert request["resource"] == [stack.mcp_url]
    (exchange,) = token_requests(result, stack)
    assert exchange["client_id"] == documents.url
    assert result["calls"]["first"]["client_id"] == documents.url
    assert result["calls"]["first"]["audience"] == stack.mcp_url


def test_step_up(stack, documents, tmp_path):  # noqa: F811
    # By metadata document, the registration MCP recommends: the SDK registers an RFC 7591
    # client with `scope` set to what it needed then, which rightly caps it (RFC 7591 §2).
    result = run_client(stack, tmp_path, "whoami,stepup", CLIENT_METADATA_URL=documents.url)
    if "write_note" not in result["tools"]:
        pytest.skip("write_note not on this branch yet")

    refused = [e for e in result["wire"] if e["status"] == 403]
    assert refused, "write_note was never refused"
    challenge = refused[0]["challenge"]
    assert 'error="insufficient_scope"' in challenge
    assert "mcp:write" in challenge
    assert "resource_metadata=" in challenge

    # A second authorization for the union of scopes, and the note is written.
    first, second = result["authorizations"]
    assert parse_qs(urlsplit(first["url"]).query)["scope"] == ["mcp"]
    asked = parse_qs(urlsplit(second["url"]).query)["scope"][0].split()
    assert {"mcp", "mcp:write"} <= set(asked)
    assert result["calls"]["writeNote"]
    assert "mcp:write" in result["calls"]["afterStepUp"]["scopes"]
    assert "mcp:write" not in result["calls"]["beforeStepUp"]["scopes"]
