"""The shipped MCP token verifier (examples/gatehouse_verifier.py), against a fake introspection."""

from __future__ import annotations

import asyncio
import base64
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, unquote

import httpx2
import pytest

from examples import gatehouse_verifier
from examples.gatehouse_verifier import GatehouseVerifier, access_token_from
from tests.helpers import ISSUER

MCP_URL = "http://127.0.0.1:8001/mcp"


def run(coroutine):
    """asyncio.run on a thread of its own: a session-scoped Playwright may own this one's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def claims(**overrides) -> dict:
    base = {
        "active": True,
        "client_id": "app",
        "scope": "mcp offline_access",
        "exp": int(time.time()) + 600,
        "aud": MCP_URL,
        "sub": "u-123",
        "iss": ISSUER,
        "token_type": "Bearer",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({}, True),
        ({"active": False}, False),
        ({"active": "true"}, False),
        ({"exp": None}, False),
        ({"exp": int(time.time()) - 1}, False),
        ({"exp": "soon"}, False),
        ({"iss": "http://evil.example"}, False),
        ({"iss": None}, True),
        ({"token_type": "refresh_token"}, False),
        ({"token_type": None}, True),
        ({"aud": "http://127.0.0.1:8002/mcp"}, False),
        ({"aud": ISSUER}, False),
        ({"aud": None}, False),
        ({"aud": ["http://other.example", MCP_URL]}, True),
        ({"aud": MCP_URL + "/"}, True),
        ({"aud": MCP_URL + "/sub"}, False),
    ],
)
def test_access_token_rules(change, accepted):
    result = access_token_from("gat_x", claims(**change), MCP_URL, ISSUER)
    assert (result is not None) is accepted


def test_access_token_fields():
    exp = int(time.time()) + 60
    token = access_token_from("gat_x", claims(exp=exp + 0.5), MCP_URL, ISSUER)
    assert token.client_id == "app"
    assert token.scopes == ["mcp", "offline_access"]
    assert token.expires_at == exp
    assert token.resource == MCP_URL
    assert token.subject == "u-123"
    assert token.claims["iss"] == ISSUER


class FakeIntrospection:
    """An httpx2 MockTransport answering introspection from a table of token → claims."""

    def __init__(self, answers: dict[str, dict], status: int = 200):
        self.answers = answers
        self.status = status
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        token = parse_qs(request.content.decode())["token"][0]
        return httpx2.Response(self.status, json=self.answers.get(token, {"active": False}))

    def verifier(self, **kwargs) -> GatehouseVerifier:
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(self))
        return GatehouseVerifier(ISSUER, MCP_URL, "rs client", "s3cr:t", http_client=http, **kwargs)


def test_introspection_request_is_client_authenticated():
    fake = FakeIntrospection({"gat_ok": claims()})
    assert run(fake.verifier().verify_token("gat_ok")) is not None
    request = fake.requests[0]
    assert str(request.url) == ISSUER + "/oauth2/introspect"
    assert parse_qs(request.content.decode())["token_type_hint"] == ["access_token"]
    scheme, value = request.headers["authorization"].split()
    user, password = base64.b64decode(value).decode().split(":")
    assert scheme == "Basic"
    # RFC 6749 §2.3.1: form-encoded before base64, so ":" in a secret survives.
    assert (unquote(user), unquote(password)) == ("rs client", "s3cr:t")


def test_answers_are_cached_by_token():
    fake = FakeIntrospection({"gat_ok": claims()})
    verifier = fake.verifier()

    async def twice():
        return [await verifier.verify_token("gat_ok") for _ in range(2)]

    first, second = run(twice())
    assert first == second
    assert len(fake.requests) == 1
    assert all("gat_ok" not in key for key in verifier._cache)


def test_cache_never_outlives_the_token(monkeypatch):
    now = time.time()
    fake = FakeIntrospection({"gat_ok": claims(exp=int(now) + 5)})
    verifier = fake.verifier(cache_seconds=30)
    run(verifier.verify_token("gat_ok"))
    monkeypatch.setattr(gatehouse_verifier.time, "time", lambda: now + 6)
    assert run(verifier.verify_token("gat_ok")) is None
    assert len(fake.requests) == 2


def test_refused_tokens_are_asked_again():
    fake = FakeIntrospection({"gat_other": claims(aud="http://127.0.0.1:9/x")})
    verifier = fake.verifier()

    async def twice():
        return [await verifier.verify_token("gat_other") for _ in range(2)]

    assert run(twice()) == [None, None]
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 500])
def test_introspection_errors_refuse(status):
    fake = FakeIntrospection({"gat_ok": claims()}, status=status)
    assert run(fake.verifier().verify_token("gat_ok")) is None


def test_unreachable_introspection_refuses():
    def down(request):
        raise httpx2.ConnectError("refused", request=request)

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(down))
    verifier = GatehouseVerifier(ISSUER, MCP_URL, "a", "b", http_client=http)
    assert run(verifier.verify_token("gat_ok")) is None


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("https://id.example.com/oauth2/introspect", True),
        ("http://127.0.0.1:8000/oauth2/introspect", True),
        ("http://localhost:8000/oauth2/introspect", True),
        ("http://id.example.com/oauth2/introspect", False),
    ],
)
def test_introspection_endpoint_must_be_https(endpoint, ok):
    if ok:
        GatehouseVerifier(ISSUER, MCP_URL, "a", "b", introspection_endpoint=endpoint)
    else:
        with pytest.raises(ValueError, match="https"):
            GatehouseVerifier(ISSUER, MCP_URL, "a", "b", introspection_endpoint=endpoint)
