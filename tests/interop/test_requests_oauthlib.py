"""requests-oauthlib's OAuth2Session as a confidential client_secret_post client, live.

Code + PKCE (S256) + refresh, with the client secret in the form body (RFC 6749 §2.3.1) and
never in an Authorization header; the server accepts only the method the client registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from requests_oauthlib import OAuth2Session

from tests.helpers.common import basic
from tests.helpers.live import LiveServer, free_port, start_live_server
from tests.helpers.oauth_browser import authorize

pytestmark = pytest.mark.live

USERNAME, PASSWORD = "alice", "correct horse battery"
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"
SCOPE = ["openid", "profile"]


@dataclass
class Setup:
    server: LiveServer
    metadata: dict
    client_id: str
    client_secret: str


@pytest.fixture(scope="module")
def gatehouse(tmp_path_factory) -> Iterator[Setup]:
    server = start_live_server(tmp_path_factory.mktemp("requests_oauthlib"), workers=2)
    try:
        server.flask("users", "create", USERNAME, "--password", PASSWORD)
        registered = json.loads(
            server.flask(
                "clients", "create", "--name", "requests-oauthlib app",
                "--redirect-uri", REDIRECT_URI, "--auth-method", "client_secret_post", "--json",
            )
        )  # fmt: skip
        metadata = httpx.get(server.url + "/.well-known/oauth-authorization-server").json()
        yield Setup(server, metadata, registered["client_id"], registered["client_secret"])
    finally:
        server.stop()


@pytest.fixture
def session(gatehouse, monkeypatch) -> OAuth2Session:
    # oauthlib insists on https; this server is a loopback test instance.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = OAuth2Session(
        gatehouse.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE, pkce="S256"
    )
    session.sent = []
    session.hooks["response"].append(lambda response, **_: session.sent.append(response.request))
    return session


def token_requests(session: OAuth2Session, endpoint: str) -> list:
    return [r for r in session.sent if r.method == "POST" and r.url == endpoint]


def test_code_pkce_refresh_with_client_secret_post(gatehouse, session):
    meta = gatehouse.metadata
    url, state = session.authorization_url(meta["authorization_endpoint"])
    assert "code_challenge_method=S256" in url
    query = authorize(url, USERNAME, PASSWORD)
    assert query["state"] == state
    assert query["iss"] == gatehouse.server.url

    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=f"{REDIRECT_URI}?{urlencode(query)}",
        include_client_id=True,
        client_secret=gatehouse.client_secret,
    )
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" in token
    assert session.get(meta["userinfo_endpoint"]).status_code == 200

    refreshed = session.refresh_token(
        meta["token_endpoint"],
        client_id=gatehouse.client_id,
        client_secret=gatehouse.client_secret,
    )
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert session.get(meta["userinfo_endpoint"]).status_code == 200

    exchange, refresh = token_requests(session, meta["token_endpoint"])
    for request in (exchange, refresh):
        form = parse_qs(request.body)
        assert form["client_id"] == [gatehouse.client_id]
        assert form["client_secret"] == [gatehouse.client_secret]
        assert "Authorization" not in request.headers
    assert "code_verifier" in parse_qs(exchange.body)

    # The registered method is the only one accepted: the same secret in Basic is refused.
    wrong = httpx.post(
        meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        headers=basic(gatehouse.client_id, gatehouse.client_secret),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
