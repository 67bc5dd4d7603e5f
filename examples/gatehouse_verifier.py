"""A token verifier for MCP servers protected by Gatehouse (or any RFC 7662 / RFC 9068 server).

Drop this file next to your MCP server and pass an instance as `token_verifier=` to the SDK's
`MCPServer` (see `mcp_server.py`).

- A JWT access token (RFC 9068, when the resource chose `--token-format jwt`) is verified
  locally: signature with a key from the authorization server's JWKS, `typ` at+jwt, `iss`,
  `aud` (this MCP server), `exp`. The JWKS is cached and fetched again when a token names an
  unknown `kid` (key rotation), at most once per `jwks_min_refresh` seconds, so a flood of
  forged `kid`s cannot turn into a flood of requests. A revocation is NOT seen here before the
  token expires: keep access token lifetimes short for resources using JWTs.
- Any other (opaque) token goes to the introspection endpoint, authenticating as a
  confidential client (client_secret_basic), and is accepted only when it is active and its
  audience is this MCP server (RFC 8707). Answers are cached briefly in memory, keyed by the
  token's SHA-256, never past the token's `exp`: a revoked token may keep working for at most
  `cache_seconds`.

Needs only the MCP Python SDK (`mcp`, which brings `httpx2` and PyJWT); no Flask, no Gatehouse
imports.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
import jwt
from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
JWT_ALGORITHMS = ["RS256"]  # what Gatehouse signs with; never "none" (RFC 9068 §4)
AT_JWT_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1, §4
JWT_REQUIRED = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]  # RFC 9068 §2.2


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


def looks_like_jwt(token: str) -> bool:
    """A JWS compact serialisation (three parts, a JSON header); anything else is opaque."""
    return token.startswith("eyJ") and token.count(".") == 2


def access_token_from_jwt(
    token: str, claims: dict[str, Any], resource: str, issuer: str
) -> AccessToken | None:
    """The SDK's AccessToken for verified JWT claims (RFC 9068 §4), or None (pure).

    The signature, `iss` and `exp` were checked by PyJWT; the audience is compared here as for
    introspection answers, so both paths accept the same tokens.
    """
    audience = audience_of(claims, resource)
    if audience is None or claims.get("iss") != issuer:
        return None
    scope = claims.get("scope")
    return AccessToken(
        token=token,
        client_id=str(claims.get("client_id", "")),
        scopes=scope.split() if isinstance(scope, str) else [],
        expires_at=int(claims["exp"]),
        resource=audience,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        claims={k: v for k, v in claims.items() if k in ("iss", "sub", "aud", "jti")},
    )


def basic_auth(client_id: str, client_secret: str) -> str:
    """An RFC 6749 §2.3.1 Basic header value: id and secret form-encoded, then base64."""
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class GatehouseVerifier:
    """`TokenVerifier` for the MCP SDK: JWTs verified locally through the JWKS (RFC 9068),
    opaque tokens by RFC 7662 introspection with a short cache; audience checked either way."""

    def __init__(
        self,
        issuer: str,
        resource: str,
        client_id: str,
        client_secret: str,
        *,
        introspection_endpoint: str | None = None,
        jwks_uri: str | None = None,
        jwks_min_refresh: float = 60,
        cache_seconds: float = 30,
        max_cache_entries: int = 10_000,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.resource = resource
        self.endpoint = introspection_endpoint or f"{self.issuer}/oauth2/introspect"
        self.jwks_uri = jwks_uri or f"{self.issuer}/oauth2/jwks"
        for name, url in (("introspection endpoint", self.endpoint), ("jwks_uri", self.jwks_uri)):
            parts = urlsplit(url)
            if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
                raise ValueError(f"the {name} must be https (or loopback http)")
        self.jwks_min_refresh = jwks_min_refresh
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks_fetched_at: float | None = None
        self.authorization = basic_auth(client_id, client_secret)
        self.cache_seconds = cache_seconds
        self.max_cache_entries = max_cache_entries
        self.http = http_client or httpx2.AsyncClient(timeout=10, follow_redirects=False)
        self._cache: dict[str, tuple[float, AccessToken]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's details if it is active and meant for this server, else None (→ 401)."""
        if looks_like_jwt(token):
            return await self.verify_jwt(token)
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

    async def verify_jwt(self, token: str) -> AccessToken | None:
        """Verify a JWT access token locally (RFC 9068 §4); None when it must be refused."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        typ, kid = header.get("typ"), header.get("kid")
        if not isinstance(typ, str) or typ.lower() not in AT_JWT_TYPES or not isinstance(kid, str):
            return None  # an id_token (typ JWT) is never an access token
        key = await self.signing_key(kid)
        if key is None:
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=JWT_ALGORITHMS,
                issuer=self.issuer,
                options={"require": JWT_REQUIRED, "verify_aud": False},  # aud: checked below
            )
        except jwt.PyJWTError:
            return None
        return access_token_from_jwt(token, claims, self.resource, self.issuer)

    async def signing_key(self, kid: str) -> jwt.PyJWK | None:
        """The JWKS key named `kid`; an unknown one refetches the JWKS, rate-limited."""
        if kid not in self._keys:
            now = time.monotonic()
            last = self._jwks_fetched_at
            if last is None or now - last >= self.jwks_min_refresh:
                self._jwks_fetched_at = now
                await self.refresh_jwks()
        return self._keys.get(kid)

    async def refresh_jwks(self) -> None:
        """Replace the cached keys with the JWKS document's; keep the old ones on failure."""
        try:
            response = await self.http.get(self.jwks_uri, headers={"Accept": "application/json"})
            body = response.json() if response.status_code == 200 else None
        except (httpx2.HTTPError, ValueError) as exc:
            logger.warning("JWKS request failed: %s", type(exc).__name__)
            return
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            logger.warning("JWKS answered HTTP %s without a key set", response.status_code)
            return
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in body["keys"]:
            kid = jwk.get("kid") if isinstance(jwk, dict) else None
            if not isinstance(kid, str) or jwk.get("kty") != "RSA":
                continue
            try:
                keys[kid] = jwt.PyJWK(jwk, algorithm="RS256")
            except jwt.PyJWTError:
                continue
        self._keys = keys

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
