"""examples/gatehouse_verifier.py with JWT access tokens (RFC 9068): local verification through
a cached JWKS, refetched on an unknown kid at most once per interval; opaque tokens still go to
introspection."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from examples import gatehouse_verifier
from examples.gatehouse_verifier import GatehouseVerifier
from tests.helpers import ISSUER
from tests.helpers.common import make_client
from tests.helpers.tokens import tokens_for

MCP_URL = "http://127.0.0.1:8001/mcp"


def run(coroutine):
    """asyncio.run on its own thread (a session-scoped Playwright may own this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def new_key(kid: str) -> tuple[str, rsa.RSAPrivateKey, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return kid, private, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


KEY_A = new_key("key-a")
KEY_B = new_key("key-b")


def token(key=KEY_A, typ: str | None = "at+jwt", **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "u-1",
        "aud": MCP_URL,
        "client_id": "app",
        "scope": "mcp",
        "jti": "j-1",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": key[0]} if typ is None else {"kid": key[0], "typ": typ}
    return jwt.encode(claims, key[1], algorithm="RS256", headers=headers)


class FakeServer:
    """An httpx2 MockTransport serving a JWKS (the keys in `published`) and introspection."""

    def __init__(self, *published):
        self.published = list(published)
        self.jwks_requests = 0
        self.introspections = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/oauth2/jwks":
            self.jwks_requests += 1
            return httpx2.Response(200, json={"keys": [key[2] for key in self.published]})
        self.introspections += 1
        presented = parse_qs(request.content.decode())["token"][0]
        active = presented == "gat_ok"
        answer = {"active": True, "aud": MCP_URL, "exp": int(time.time()) + 60} if active else {}
        return httpx2.Response(200, json=answer or {"active": False})

    def verifier(self, **kwargs) -> GatehouseVerifier:
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(self))
        return GatehouseVerifier(ISSUER, MCP_URL, "rs", "secret", http_client=http, **kwargs)


def test_a_jwt_is_verified_locally():
    server = FakeServer(KEY_A)
    access = run(server.verifier().verify_token(token()))
    assert access is not None and access.client_id == "app" and access.scopes == ["mcp"]
    assert access.subject == "u-1" and access.resource == MCP_URL
    assert server.introspections == 0 and server.jwks_requests == 1


def test_opaque_tokens_still_go_to_introspection():
    server = FakeServer(KEY_A)
    assert run(server.verifier().verify_token("gat_ok")) is not None
    assert server.introspections == 1 and server.jwks_requests == 0


@pytest.mark.parametrize(
    "bad",
    [
        token(aud="http://127.0.0.1:8002/mcp"),  # another resource
        token(aud=ISSUER),
        token(exp=int(time.time()) - 5, iat=int(time.time()) - 600),  # expired
        token(typ="JWT"),  # an id_token shape
        token(typ=None),  # PyJWT's default typ JWT
        token(iss="http://evil.example"),
        token(jti=None),  # RFC 9068 §2.2 requires it
        token(client_id=None),
        token(key=("key-a", KEY_B[1], KEY_A[2])),  # our kid, another key
        token(key=new_key("stranger")),  # a key nobody published
    ],
)
def test_bad_jwts_are_refused(bad):
    server = FakeServer(KEY_A)
    assert run(server.verifier().verify_token(bad)) is None
    assert server.introspections == 0


def test_jwks_is_cached_and_refetched_on_an_unknown_kid(monkeypatch):
    server = FakeServer(KEY_A)
    verifier = server.verifier(jwks_min_refresh=60)
    clock = [1000.0]
    monkeypatch.setattr(gatehouse_verifier.time, "monotonic", lambda: clock[0])

    async def verify(*tokens):
        return [await verifier.verify_token(t) for t in tokens]

    assert all(run(verify(token(), token(jti="j-2"))))
    assert server.jwks_requests == 1  # cached
    server.published.append(KEY_B)  # the authorization server rotated its key
    clock[0] += 61
    assert run(verify(token(key=KEY_B)))[0] is not None
    assert server.jwks_requests == 2  # the unknown kid fetched the JWKS again


def test_unknown_kids_refetch_at_most_once_per_interval(monkeypatch):
    server = FakeServer(KEY_A)
    verifier = server.verifier(jwks_min_refresh=60)
    clock = [1000.0]
    monkeypatch.setattr(gatehouse_verifier.time, "monotonic", lambda: clock[0])

    async def verify_forged(n):
        return [await verifier.verify_token(token(key=new_key(f"k{i}"))) for i in range(n)]

    assert run(verify_forged(3)) == [None, None, None]
    assert server.jwks_requests == 1
    clock[0] += 61
    run(verify_forged(1))
    assert server.jwks_requests == 2


def test_jwks_uri_must_be_https():
    with pytest.raises(ValueError, match="jwks_uri"):
        GatehouseVerifier(ISSUER, MCP_URL, "a", "b", jwks_uri="http://id.example.com/jwks")


def test_verifies_gatehouse_jwts_through_its_real_jwks(client, runner, oauth_client, user):
    """End to end in-process: a token Gatehouse issued, the JWKS Gatehouse serves."""
    args = ["resources", "add", MCP_URL, "--scope", "mcp", "--token-format", "jwt"]
    assert runner.invoke(args=args).exit_code == 0
    c, s = oauth_client
    issued = tokens_for(client, c, s, user, scope="mcp", resource=MCP_URL)["access_token"]

    def gatehouse(request: httpx2.Request) -> httpx2.Response:
        served = client.get(request.url.path)
        return httpx2.Response(served.status_code, content=served.data)

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(gatehouse))
    rs, secret = make_client("RS")
    verifier = GatehouseVerifier(ISSUER, MCP_URL, rs.client_id, secret, http_client=http)
    access = run(verifier.verify_token(issued))
    assert access is not None and access.subject == user.sub and access.scopes == ["mcp"]
