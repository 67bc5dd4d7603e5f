"""panva's openid-client (Node) as a relying party of a live Gatehouse, end to end.

tests/interop/node/oidc_client.mjs registers itself (RFC 7591) from the discovery document, runs
the code flow with PKCE (the library validates the id_token and the RFC 9207 `iss`), reads
userinfo, runs the device grant and builds an RP-initiated logout URL; once with the default
RS256 id_tokens, once registered with id_token_signed_response_alg ES256. This side plays the
person: alice signs in and allows over HTTP, approves the device code on the /oauth2/device
page, and follows the logout URL in the same browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.helpers import node
from tests.helpers.device import approve_over_http
from tests.helpers.live import PASSWORD, REDIRECT_URI, LiveServer, running
from tests.helpers.oauth_browser import authorize

pytestmark = pytest.mark.live

POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:9999/signed-out"


@pytest.fixture(scope="module")
def gatehouse(tmp_path_factory) -> Iterator[LiveServer]:
    node.install()
    with running(tmp_path_factory.mktemp("openid-client"), workers=2) as live:
        live.flask("users", "create", "alice", "--password", PASSWORD,
                   "--email", "alice@example.com", "--name", "Alice")  # fmt: skip
        yield live


class Person:
    """alice: a browser for the code flow and logout, a phone for the device code."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = httpx.Client(timeout=15)
        self.device_outcomes: list[str] = []

    def authorize(self, message: dict) -> dict:
        return authorize(message["url"], "alice", PASSWORD, http=self.http)

    def approve_device(self, message: dict) -> dict:
        self.device_outcomes.append(approve_over_http(self.issuer, message["user_code"]))
        return {}

    def follow_logout(self, message: dict) -> dict:
        self.signed_in_before_logout = self.signed_in()
        response = self.http.get(message["url"])
        return {"status": response.status_code, "location": response.headers.get("location")}

    def signed_in(self) -> bool:
        """Whether `/` still lands this browser on a signed-in page rather than /login."""
        location = self.http.get(self.issuer + "/").headers["location"]
        return not urlsplit(location).path.startswith("/login")


@pytest.mark.parametrize("id_token_alg", [None, "ES256"])  # None: the default, RS256
def test_openid_client_end_to_end(gatehouse, tmp_path, id_token_alg):
    person = Person(gatehouse.url)
    handlers = {
        "authorize": person.authorize,
        "device": person.approve_device,
        "logout": person.follow_logout,
    }
    env = {
        "ISSUER": gatehouse.url,
        "REDIRECT_URI": REDIRECT_URI,
        "POST_LOGOUT_REDIRECT_URI": POST_LOGOUT_REDIRECT_URI,
        **({"ID_TOKEN_ALG": id_token_alg} if id_token_alg else {}),
    }
    with person.http:
        try:
            result = node.run_script("oidc_client.mjs", env, handlers, tmp_path / "node.log")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- gatehouse ---\n{gatehouse.log()[-4000:]}") from None
        still_signed_in = person.signed_in()

    # Discovery and registration: the issuer exactly as published; a client of its own.
    assert result["issuer"] == gatehouse.url
    assert result["client_id"]

    # The code flow: the library checked the id_token; its claims are alice's, for this client.
    request = parse_qs(urlsplit(result["authorizationUrl"]).query)
    assert request["code_challenge_method"] == ["S256"]
    assert request["nonce"]
    claims = result["code"]["claims"]
    assert claims["iss"] == gatehouse.url
    assert claims["aud"] in (result["client_id"], [result["client_id"]])
    assert claims["nonce"] == request["nonce"][0]
    assert set(result["code"]["scope"].split()) == {"openid", "profile", "email"}
    # OIDC Registration §2: registered (and echoed), and the id_token is signed with it by the
    # key its `kid` names in the JWKS (the library requires the alg; we check the signature).
    expected_alg = id_token_alg or "RS256"
    assert result["id_token_signed_response_alg"] == expected_alg  # echoed by registration
    id_token = result["code"]["id_token"]
    jwks = jwt.PyJWKSet.from_dict(httpx.get(gatehouse.url + "/oauth2/jwks").json())
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(id_token)["kid"])
    assert jwt.get_unverified_header(id_token)["alg"] == key.algorithm_name == expected_alg
    jwt.decode(id_token, key.key, algorithms=[expected_alg], audience=result["client_id"],
               issuer=gatehouse.url)  # fmt: skip

    # UserInfo: the same subject, with the profile and email claims that were granted.
    userinfo = result["userinfo"]
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == "alice@example.com"
    assert userinfo["name"] == "Alice"

    # The device grant: approved on the /oauth2/device page, then an id_token for alice too.
    assert person.device_outcomes == ["approved"]
    assert result["device"]["claims"]["sub"] == claims["sub"]
    assert "openid" in result["device"]["scope"].split()

    # RP-initiated logout with the id_token as hint: signed out at once, sent back with state.
    logout = result["logout"]
    assert logout["status"] in (302, 303)
    assert logout["location"] == POST_LOGOUT_REDIRECT_URI + "?state=bye"
    assert person.signed_in_before_logout
    assert not still_signed_in
