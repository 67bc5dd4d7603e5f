"""Gatehouse used the way another project would: only `gatehouse_pytest` and HTTP (httpx).

Nothing here imports app, models or oauth: the server is a separate process and every step is
a request a real client (or its test suite) would send.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt

pytest_plugins = ["gatehouse_pytest"]

CALLBACK = "http://127.0.0.1:5173/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(issuer: str, client_id: str, challenge: str, state: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": state,
        "nonce": "n-0S6_WzA2Mj",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{issuer}/oauth2/authorize?{urlencode(params)}"


def sign_in_with_httpx(http: httpx.Client, url: str, username: str) -> dict[str, str]:
    """The browser's part: authorize -> /login (CSRF token from the page) -> back -> callback."""
    response = http.get(url)
    assert response.status_code == 302
    login_page = http.get(response.headers["Location"])
    assert login_page.status_code == 200
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page.text).group(1)
    next_path = parse_qs(urlsplit(str(login_page.url)).query)["next"][0]
    form = {"csrf_token": csrf, "username": username, "next": next_path}
    response = http.post("/login", data=form)
    assert response.status_code == 302
    response = http.get(response.headers["Location"])  # back to /oauth2/authorize
    assert response.status_code == 302  # auto-consent: straight to the callback
    callback = response.headers["Location"]
    assert callback.startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}


def test_code_flow_with_pkce_in_mock_mode(gatehouse):
    client = gatehouse.create_client(name="Outside app", redirect_uris=[CALLBACK])
    gatehouse.create_user("outsider", email="outsider@example.com", claims={"team": "blue"})
    metadata = httpx.get(gatehouse.url + "/.well-known/openid-configuration").json()
    assert metadata["issuer"] == gatehouse.issuer
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    url = authorization_url(metadata["issuer"], client["client_id"], challenge, state)

    with httpx.Client(base_url=gatehouse.url) as http:
        callback = sign_in_with_httpx(http, url, "Outsider")
    assert callback["state"] == state
    assert callback["iss"] == gatehouse.issuer

    tokens = httpx.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client["client_id"], client["client_secret"]),
    )
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"

    jwks = jwt.PyJWKClient(metadata["jwks_uri"])
    claims = jwt.decode(
        body["id_token"],
        jwks.get_signing_key_from_jwt(body["id_token"]).key,
        algorithms=["RS256"],
        audience=client["client_id"],
        issuer=gatehouse.issuer,
    )
    assert claims["preferred_username"] == "outsider"
    assert claims["team"] == "blue"
    assert claims["nonce"] == "n-0S6_WzA2Mj"

    userinfo = httpx.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert userinfo.json()["email"] == "outsider@example.com"
    assert userinfo.json()["team"] == "blue"


def test_forced_invalid_grant_on_the_token_endpoint(gatehouse):
    client = gatehouse.create_client(name="Error handling app", redirect_uris=[CALLBACK])
    verifier, challenge = pkce()
    url = authorization_url(gatehouse.issuer, client["client_id"], challenge, "xyz")
    callback = gatehouse.authorize(url, username="erin")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    auth = (client["client_id"], client["client_secret"])

    gatehouse.force_error("token", "invalid_grant", 400, "Forced by the test")
    forced = httpx.post(gatehouse.url + "/oauth2/token", data=form, auth=auth)
    assert forced.status_code == 400
    assert forced.json() == {"error": "invalid_grant", "error_description": "Forced by the test"}
    assert forced.headers["Cache-Control"] == "no-store"

    # Consumed once: the retry is a normal request, and the code was never spent.
    retry = httpx.post(gatehouse.url + "/oauth2/token", data=form, auth=auth)
    assert retry.status_code == 200, retry.text
    assert retry.json()["access_token"].startswith("gat_")


def test_minted_token_is_accepted_by_the_api(gatehouse):
    client = gatehouse.create_client(name="Minting app", redirect_uris=[CALLBACK])
    minted = gatehouse.mint_token("minty", client["client_id"], scope="openid profile")
    me = httpx.get(
        gatehouse.url + "/api/v2/users/me",
        headers={"Authorization": f"Bearer {minted['access_token']}"},
    )
    assert me.status_code == 200
    assert me.json()["username"] == "minty"


def test_any_client_and_a_consent_page_on_a_server_of_our_own(gatehouse_factory):
    """An app that was never registered, with consent asked (and Allowed) like a person would."""
    server = gatehouse_factory(workers=1, auto_consent=False, GATEHOUSE_MOCK_ANY_CLIENT="1")
    verifier, challenge = pkce()
    url = authorization_url(server.issuer, "never-registered", challenge, "s1")
    callback = parse_qs(urlsplit(server.authorize(url, username="newbie")).query)
    assert callback["state"] == ["s1"] and callback["iss"] == [server.issuer]
    tokens = httpx.post(
        server.url + "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"][0],
            "client_id": "never-registered",
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.text
