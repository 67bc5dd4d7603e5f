"""An MCP server protected by Gatehouse: the MCP Python SDK plus `gatehouse_verifier.py`.

    export MCP_INTROSPECTION_CLIENT_ID=... MCP_INTROSPECTION_CLIENT_SECRET=...
    python examples/mcp_server.py --issuer http://127.0.0.1:8000 --port 8001

MCP clients pointed at http://127.0.0.1:8001/mcp get a 401 naming this server's protected
resource metadata, discover Gatehouse from it, sign the user in there, and come back with a
token whose audience is this URL. Register that URL with Gatehouse first:
`flask --app app resources add http://127.0.0.1:8001/mcp --scope mcp --owner <client id>`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TypedDict
from urllib.parse import urlsplit

from gatehouse_verifier import GatehouseVerifier
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer


class WhoAmI(TypedDict):
    """What `whoami` answers: the signed-in person and the token they came with."""

    subject: str | None
    client_id: str
    scopes: list[str]
    audience: str | None


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

    return server


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
    print(f"MCP server on {args.url}, protected by {args.issuer}", file=sys.stderr, flush=True)
    server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
