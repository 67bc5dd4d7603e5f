"""An MCP server protected by Gatehouse: the MCP Python SDK plus `gatehouse_verifier.py`.

    export MCP_INTROSPECTION_CLIENT_ID=... MCP_INTROSPECTION_CLIENT_SECRET=...
    python examples/mcp_server.py --issuer http://127.0.0.1:8000 --port 8001

MCP clients pointed at http://127.0.0.1:8001/mcp get a 401 naming this server's protected
resource metadata, discover Gatehouse from it, sign the user in there, and come back with a
token whose audience is this URL. Register that URL with Gatehouse first, with both scopes:
`flask --app app resources add http://127.0.0.1:8001/mcp --scope "mcp mcp:write" --owner <id>`.

Two tools: `whoami` needs the base scope (`mcp`); `write_note` also needs `mcp:write`. A call
to it with a token that lacks a scope gets a 403 step-up challenge (MCP 2026-07-28, SEP-2350)
naming every scope the call needs, and the client re-authorizes for the union:

    WWW-Authenticate: Bearer error="insufficient_scope", scope="mcp mcp:write",
                      resource_metadata="http://127.0.0.1:8001/.well-known/oauth-protected-resource/mcp"

The transport is stateless Streamable HTTP (no session id), as MCP 2026-07-28 describes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TypedDict
from urllib.parse import urlsplit

import uvicorn
from gatehouse_verifier import GatehouseVerifier
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_SCOPE = "mcp:write"
MAX_BODY = 1024 * 1024  # bytes of JSON-RPC read to find the tool; larger bodies pass through


class WhoAmI(TypedDict):
    """What `whoami` answers: the signed-in person and the token they came with."""

    subject: str | None
    client_id: str
    scopes: list[str]
    audience: str | None


class StepUp:
    """ASGI middleware: a `tools/call` whose tool needs scopes the token lacks gets a 403.

    The SDK's RequireAuthMiddleware checks one scope list for the whole endpoint and names no
    `scope` in its challenge; step-up (RFC 6750 §3.1, MCP 2026-07-28 SEP-2350) needs a
    per-operation answer naming ALL the scopes this call needs, in one challenge, so the
    client can re-authorize for the union of what it had and what is asked.
    """

    def __init__(
        self, app: ASGIApp, base: str, tool_scopes: dict[str, list[str]], path: str, prm: str
    ):
        self.app, self.base, self.tool_scopes, self.path, self.prm = (
            app, base, tool_scopes, path, prm
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        ours = scope["type"] == "http" and scope["path"].rstrip("/") == self.path
        if not ours:
            await self.app(scope, receive, send)
            return
        # RequireAuthMiddleware's 401 and 403, plus the scope every call here needs.
        send = self.scoped(send)
        if scope["method"] != "POST" or not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more and len(body) <= MAX_BODY:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        needed = self.scopes_needed(body) if not more else []
        if needed and not set(needed) <= set(user.scopes):
            await self.challenge(send, needed)
            return
        await self.app(scope, replay(body, more, receive), send)

    def scoped(self, send: Send) -> Send:
        """`send`, adding `scope="<base>"` to a 401 or 403 challenge that names no scope (MCP:
        the RS SHOULD name it)."""

        async def send_scoped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"www-authenticate" and b"scope=" not in value:
                        value += f', scope="{self.base}"'.encode()
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        return send_scoped

    def scopes_needed(self, body: bytes) -> list[str]:
        """The scopes the tool called in this JSON-RPC body needs (none for other requests)."""
        try:
            message = json.loads(body)
            if message.get("method") != "tools/call":
                return []
            return self.tool_scopes.get(message["params"]["name"], [])
        except (ValueError, AttributeError, KeyError, TypeError):
            return []  # not ours to judge: the SDK answers malformed requests

    async def challenge(self, send: Send, needed: list[str]) -> None:
        scopes = " ".join(needed)
        header = (
            f'Bearer error="insufficient_scope", scope="{scopes}", resource_metadata="{self.prm}"'
        )
        detail = f"This operation needs the scopes: {scopes}"
        payload = json.dumps({"error": "insufficient_scope", "error_description": detail})
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", header.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload.encode()})


def replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body on first, then the rest of the stream."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return receive_again


def create_server(
    issuer: str, url: str, client_id: str, client_secret: str, scope: str = "mcp"
) -> MCPServer:
    """An MCPServer whose /mcp endpoint accepts only Gatehouse tokens issued for `url`."""
    verifier = GatehouseVerifier(issuer, url, client_id, client_secret)
    server = MCPServer(
        "Gatehouse example",
        token_verifier=verifier,
        # Plain strings, not AnyHttpUrl: the SDK then keeps the issuer exactly as Gatehouse
        # spells it (no trailing slash), which MCP clients compare character for character.
        auth=AuthSettings(
            issuer_url=issuer,
            resource_server_url=url,
            required_scopes=[scope],
            validate_token_resource=True,
        ),
        log_level="WARNING",
    )

    @server.tool()
    def whoami() -> WhoAmI:
        """Who signed in: the token's subject, client, scopes and audience."""
        token = get_access_token()
        if token is None:  # unreachable behind RequireAuthMiddleware; kept for clarity
            raise ValueError("not signed in")
        return WhoAmI(
            subject=token.subject,
            client_id=token.client_id,
            scopes=token.scopes,
            audience=token.resource,
        )

    @server.tool()
    def write_note(text: str) -> str:
        """Keep a note (needs the `mcp:write` scope besides the base scope: step-up)."""
        token = get_access_token()
        if token is None or WRITE_SCOPE not in token.scopes:  # StepUp answered 403 already
            raise ValueError(f"the {WRITE_SCOPE} scope is required")
        return f"noted for {token.subject}: {text[:200]}"

    return server


def create_app(server: MCPServer, url: str, host: str, scope: str = "mcp") -> Starlette:
    """The stateless Streamable HTTP app, with StepUp inside the SDK's bearer authentication;
    `host` is the listen address (the SDK guards loopback ones against DNS rebinding)."""
    app = server.streamable_http_app(stateless_http=True, host=host)
    prm = str(build_resource_metadata_url(url))  # the URL the SDK's own 401 names
    tool_scopes = {"write_note": [scope, WRITE_SCOPE]}
    # Appended last, so it runs after AuthenticationMiddleware has put the token on the scope.
    app.user_middleware.append(Middleware(StepUp, scope, tool_scopes, urlsplit(url).path, prm))
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--issuer",
        default=env("GATEHOUSE_ISSUER", "http://127.0.0.1:8000"),
        help="Gatehouse's issuer URL, exactly as it publishes it (env GATEHOUSE_ISSUER)",
    )
    parser.add_argument("--host", default=env("MCP_HOST", "127.0.0.1"), help="listen address")
    parser.add_argument("--port", type=int, default=int(env("MCP_PORT", "8001")))
    parser.add_argument(
        "--url",
        default=env("MCP_URL"),
        help="this server's public MCP URL, the token audience "
        "(default http://HOST:PORT/mcp; env MCP_URL)",
    )
    parser.add_argument("--scope", default=env("MCP_SCOPE", "mcp"), help="required scope")
    parser.add_argument(
        "--client-id",
        default=env("MCP_INTROSPECTION_CLIENT_ID"),
        help="confidential Gatehouse client used for introspection "
        "(env MCP_INTROSPECTION_CLIENT_ID)",
    )
    parser.add_argument(
        "--client-secret",
        default=env("MCP_INTROSPECTION_CLIENT_SECRET"),
        help="its secret; prefer the env MCP_INTROSPECTION_CLIENT_SECRET (argv is visible in ps)",
    )
    args = parser.parse_args(argv)
    if not args.client_id or not args.client_secret:
        parser.error("introspection client credentials are required (see --help)")
    args.url = args.url or f"http://{args.host}:{args.port}/mcp"
    if urlsplit(args.url).path != "/mcp":
        parser.error("--url must end in /mcp, where the SDK serves the MCP endpoint")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    server = create_server(args.issuer, args.url, args.client_id, args.client_secret, args.scope)
    app = create_app(server, args.url, args.host, args.scope)
    print(f"MCP server on {args.url}, protected by {args.issuer}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
