"""Authlib's OAuth2 client against a live Gatehouse: code + PKCE, refresh, revoke, id_token.

Endpoints come from OIDC Discovery; the id_token is checked with joserfc (Authlib's JOSE
library) against the published JWKS, as a relying party would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.helpers import postgresql
from tests.helpers.live import LiveServer, free_port, start_live_server
from tests.helpers.oauth_browser import authorize

pytestmark = pytest.mark.live

USERNAME, PASSWORD = "alice", "correct horse battery"
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"
SCOPE = "openid profile email"


@dataclass
class Setup:
    server: LiveServer
    metadata: dict
    clients: dict[str, dict]  # token_endpoint_auth_method → `clients create --json` output

    @property
    def issuer(self) -> str:
        return self.server.url


@pytest.fixture(scope="module", params=postgresql.engines())
def gatehouse(request, tmp_path_factory) -> Iterator[Setup]:
    """Gatehouse under gunicorn on each engine (Authlib against PostgreSQL too)."""
    with postgresql.database_for(request.param) as database:
        yield from _gatehouse(tmp_path_factory, database)


def _gatehouse(tmp_path_factory, database: str | None) -> Iterator[Setup]:
    server = start_live_server(tmp_path_factory.mktemp("authlib"), workers=2, database=database)
    try:
        server.flask("users", "create", USERNAME, "--password", PASSWORD, "--email", "a@x.test")
        base = ["clients", "create", "--redirect-uri", REDIRECT_URI, "--json"]
        clients = {
            "client_secret_basic": json.loads(server.flask(*base, "--name", "Authlib app")),
            "none": json.loads(server.flask(*base, "--name", "Authlib CLI", "--public")),
        }
        metadata = httpx.get(server.url + "/.well-known/openid-configuration").json()
        yield Setup(server, metadata, clients)
    finally:
        server.stop()


def oauth_client(setup: Setup, method: str) -> OAuth2Client:
    registered = setup.clients[method]
    return OAuth2Client(
        client_id=registered["client_id"],
        client_secret=registered.get("client_secret"),
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        timeout=15,
    )


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of SHA-256, base64url without padding."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def validated_id_token(setup: Setup, id_token: str, client_id: str, access_token: str) -> dict:
    """Verify signature (JWKS), iss, aud, exp and at_hash as a relying party does."""
    keys = KeySet.import_key_set(httpx.get(setup.metadata["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert "kid" in token.header
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": setup.issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    assert token.claims["at_hash"] == at_hash(access_token)
    return token.claims


def sign_in(setup: Setup, client: OAuth2Client, nonce: str) -> dict:
    """Authorization request through Authlib, the browser part headless; returns the token."""
    verifier = generate_token(64)
    url, state = client.create_authorization_url(
        setup.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert "code_challenge_method=S256" in url
    query = authorize(url, USERNAME, PASSWORD)
    assert query["state"] == state
    assert query["iss"] == setup.issuer  # RFC 9207 (Authlib doesn't check it; we do)
    return client.fetch_token(
        setup.metadata["token_endpoint"],
        authorization_response=f"{REDIRECT_URI}?{urlencode(query)}",
        state=state,
        code_verifier=verifier,
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "none"])
def test_code_pkce_refresh_revoke(gatehouse, method):
    client = oauth_client(gatehouse, method)
    client_id = gatehouse.clients[method]["client_id"]
    nonce = generate_token(20)
    meta = gatehouse.metadata

    token = sign_in(gatehouse, client, nonce)
    assert token["token_type"].lower() == "bearer"
    assert isinstance(token["expires_in"], int)
    claims = validated_id_token(gatehouse, token["id_token"], client_id, token["access_token"])
    assert claims["nonce"] == nonce
    assert claims["sub"] != USERNAME  # stable identifier, not the username
    assert claims["auth_time"] <= time.time()
    me = client.get(meta["userinfo_endpoint"])  # Authlib attaches the Bearer token
    assert me.status_code == 200
    assert me.json()["sub"] == claims["sub"]

    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]  # rotated
    # OIDC Core §12.2: an id_token on refresh names the same subject for the same audience.
    again = validated_id_token(
        gatehouse, refreshed["id_token"], client_id, refreshed["access_token"]
    )
    assert again["sub"] == claims["sub"]
    assert again["auth_time"] == claims["auth_time"]
    assert client.get(meta["userinfo_endpoint"]).status_code == 200

    revoked = client.revoke_token(
        meta["revocation_endpoint"],
        token=refreshed["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert refused.value.error == "invalid_grant"
    # RFC 7009 §2.1: revoking the refresh token took its access tokens with it.
    assert client.get(meta["userinfo_endpoint"]).status_code == 401


def test_replayed_refresh_token_is_refused(gatehouse):
    client = oauth_client(gatehouse, "client_secret_basic")
    token = sign_in(gatehouse, client, generate_token(20))
    endpoint = gatehouse.metadata["token_endpoint"]
    client.refresh_token(endpoint, refresh_token=token["refresh_token"])
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(endpoint, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
