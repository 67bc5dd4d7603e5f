"""A token verifier for MCP servers protected by Gatehouse (or any RFC 7662 server).

Drop this file next to your MCP server and pass an instance as `token_verifier=` to the SDK's
`MCPServer` (see `mcp_server.py`). It asks the authorization server's introspection endpoint
about each bearer token, authenticating as a confidential client (client_secret_basic), and
accepts a token only when it is active and its audience is this MCP server (RFC 8707). Answers
are cached briefly in memory, keyed by the token's SHA-256, never past the token's `exp`: a
revoked token may keep working for at most `cache_seconds`.

Needs only the MCP Python SDK (`mcp`, which brings `httpx2`); no Flask, no Gatehouse imports.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def same_resource(a: str, b: str) -> bool:
    """Whether two resource URIs name the same thing: exact, a trailing slash aside (RFC 8707)."""
    return a.rstrip("/") == b.rstrip("/")


def audience_of(claims: dict[str, Any], resource: str) -> str | None:
    """The token's audience if it includes `resource` (RFC 7662 §2.2 `aud`: string or list)."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    for value in audiences:
        if isinstance(value, str) and same_resource(value, resource):
            return value
    return None


def access_token_from(
    token: str, claims: dict[str, Any], resource: str, issuer: str
) -> AccessToken | None:
    """The SDK's AccessToken for an introspection answer, or None if it must be refused (pure)."""
    if claims.get("active") is not True:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= time.time():
        return None  # RFC 9068 §4 spirit: never accept a token without a known lifetime
    if "iss" in claims and claims["iss"] != issuer:
        return None
    # A refresh token is active at introspection too, but is never a bearer credential here.
    if claims.get("token_type", "Bearer").lower() not in ("bearer", "access_token"):
        return None
    audience = audience_of(claims, resource)
    if audience is None:
        return None  # minted for another resource: MCP servers MUST refuse it
    scope = claims.get("scope")
    return AccessToken(
        token=token,
        client_id=str(claims.get("client_id", "")),
        scopes=scope.split() if isinstance(scope, str) else [],
        expires_at=int(exp),
        resource=audience,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        claims={k: v for k, v in claims.items() if k in ("iss", "sub", "username", "aud")},
    )


def basic_auth(client_id: str, client_secret: str) -> str:
    """An RFC 6749 §2.3.1 Basic header value: id and secret form-encoded, then base64."""
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class GatehouseVerifier:
    """`TokenVerifier` for the MCP SDK: RFC 7662 introspection, audience check, short cache."""

    def __init__(
        self,
        issuer: str,
        resource: str,
        client_id: str,
        client_secret: str,
        *,
        introspection_endpoint: str | None = None,
        cache_seconds: float = 30,
        max_cache_entries: int = 10_000,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.resource = resource
        self.endpoint = introspection_endpoint or f"{self.issuer}/oauth2/introspect"
        parts = urlsplit(self.endpoint)
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("the introspection endpoint must be https (or loopback http)")
        self.authorization = basic_auth(client_id, client_secret)
        self.cache_seconds = cache_seconds
        self.max_cache_entries = max_cache_entries
        self.http = http_client or httpx2.AsyncClient(timeout=10, follow_redirects=False)
        self._cache: dict[str, tuple[float, AccessToken]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's details if it is active and meant for this server, else None (→ 401)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.time()
        cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        claims = await self.introspect(token)
        access = access_token_from(token, claims, self.resource, self.issuer) if claims else None
        if access is not None:
            self.remember(key, access, now)
        else:
            self._cache.pop(key, None)
        return access

    async def introspect(self, token: str) -> dict[str, Any] | None:
        """POST the token to the introspection endpoint (RFC 7662 §2.1); None on any failure."""
        try:
            response = await self.http.post(
                self.endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Authorization": self.authorization, "Accept": "application/json"},
            )
        except httpx2.HTTPError as exc:
            logger.warning("introspection request failed: %s", type(exc).__name__)
            return None
        if response.status_code != 200:
            logger.warning("introspection answered HTTP %s", response.status_code)
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def remember(self, key: str, access: AccessToken, now: float) -> None:
        """Cache an accepted token until the cache period or its expiry, whichever is sooner."""
        if len(self._cache) >= self.max_cache_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self.max_cache_entries:
                self._cache.clear()
        until = min(now + self.cache_seconds, float(access.expires_at or now))
        self._cache[key] = (until, access)

    async def aclose(self) -> None:
        await self.http.aclose()
