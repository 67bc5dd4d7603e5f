"""Crashes lose nothing that was acknowledged.

kill -9 of one worker in the middle of mixed writes: every token issued, rotation, revocation
and registration the client saw succeed holds afterwards. kill -9 of the whole server and a
restart on the same database: clients, tokens, signing keys and browser sessions all survive.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from tests.helpers.common import pkce_pair
from tests.helpers.live import (
    PASSWORD,
    REDIRECT_URI,
    add_user_and_client,
    kill_all,
    restart,
    start_live_server,
    worker_pids,
)
from tests.helpers.oauth_browser import drive_consent

pytestmark = pytest.mark.live


@pytest.fixture
def server(tmp_path):
    live = start_live_server(tmp_path, workers=4)
    try:
        live.extra["client"] = add_user_and_client(
            live, "authorization_code", "refresh_token", "client_credentials"
        )
        yield live
    finally:
        live.stop()


class Api:
    """The calls a client makes, authenticated as the reliability client."""

    def __init__(self, server) -> None:
        self.url = server.url
        client = server.extra["client"]
        self.client_id = client["client_id"]
        self.auth = (client["client_id"], client["client_secret"])
        self.http = httpx.Client(timeout=30)

    def token(self, **form: str) -> httpx.Response:
        return self.http.post(self.url + "/oauth2/token", data=form, auth=self.auth)

    def introspect(self, token: str) -> dict:
        response = self.http.post(
            self.url + "/oauth2/introspect", data={"token": token}, auth=self.auth
        )
        assert response.status_code == 200, response.text
        return response.json()

    def revoke(self, token: str) -> httpx.Response:
        return self.http.post(self.url + "/oauth2/revoke", data={"token": token}, auth=self.auth)

    def register(self, name: str) -> httpx.Response:
        body = {"client_name": name, "redirect_uris": [REDIRECT_URI]}
        return self.http.post(self.url + "/oauth2/register", json=body)

    def read_registration(self, client_id: str, token: str) -> httpx.Response:
        return self.http.get(
            f"{self.url}/oauth2/clients/{client_id}",
            headers={"Authorization": f"Bearer {token}"},
        )

    def code_flow(self, browser: httpx.Client, password: str = PASSWORD) -> dict:
        """A real authorization: sign in (or reuse the session), consent, redeem the code."""
        verifier, challenge = pkce_pair()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid profile",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        url = f"{self.url}/oauth2/authorize?{query}"
        code, _, _ = drive_consent(url, "alice", password, http=browser)
        response = self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
        )
        assert response.status_code == 200, response.text
        return response.json()


class Ledger:
    """What the server acknowledged, and anything that went wrong other than a dropped call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: list[str] = []
        self.revoked: list[str] = []
        self.registered: list[tuple[str, str]] = []
        self.chains: dict[int, str] = {}  # chain -> current refresh token
        self.broken: set[int] = set()  # a rotation was in flight when its worker died
        self.unexpected: list[str] = []

    def check(self, response: httpx.Response, *ok: int) -> bool:
        if response.status_code in ok:
            return True
        with self.lock:
            self.unexpected.append(f"{response.request.url.path} {response.status_code}")
        return False


def one_round(api: Api, ledger: Ledger, chain: int, n: int) -> None:
    """Issue, rotate, revoke, sometimes register; a dropped connection is simply not recorded."""
    try:
        response = api.token(grant_type="client_credentials")
        if ledger.check(response, 200):
            with ledger.lock:
                ledger.issued.append(response.json()["access_token"])
        if chain not in ledger.broken:
            try:
                response = api.token(grant_type="refresh_token", refresh_token=ledger.chains[chain])
            except httpx.TransportError:
                ledger.broken.add(chain)  # the rotation may or may not have committed
                raise
            if ledger.check(response, 200):
                ledger.chains[chain] = response.json()["refresh_token"]
        response = api.token(grant_type="client_credentials")
        if ledger.check(response, 200):
            token = response.json()["access_token"]
            if ledger.check(api.revoke(token), 200):
                with ledger.lock:
                    ledger.revoked.append(token)
        if n % 4 == 0 and n < 12 and chain < 3:  # at most 9: under the per-IP rate limit
            response = api.register(f"crash-{chain}-{n}")
            if ledger.check(response, 201):
                body = response.json()
                with ledger.lock:
                    ledger.registered.append((body["client_id"], body["registration_access_token"]))
    except httpx.TransportError:
        pass  # the worker died mid-request: nothing was acknowledged


def test_kill_9_of_a_worker_loses_no_acknowledged_write(server):
    api = Api(server)
    ledger = Ledger()
    with httpx.Client(timeout=30) as browser:
        for chain in range(8):
            ledger.chains[chain] = api.code_flow(browser)["refresh_token"]
    stop = threading.Event()

    def worker(chain: int) -> None:
        own = Api(server)
        n = 0
        while not stop.is_set():
            one_round(own, ledger, chain, n)
            n += 1

    victim = worker_pids(server)[0]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(worker, chain) for chain in range(8)]
        time.sleep(1.5)
        os.kill(victim, signal.SIGKILL)
        time.sleep(2.5)
        stop.set()
        for future in futures:
            future.result()

    assert ledger.unexpected == []
    assert victim not in worker_pids(server)  # gunicorn replaced it
    assert len(ledger.issued) > 10 and len(ledger.revoked) > 5 and ledger.registered
    for token in ledger.issued:
        assert api.introspect(token)["active"] is True
    for token in ledger.revoked:
        assert api.introspect(token)["active"] is False
    for chain, refresh in ledger.chains.items():
        if chain not in ledger.broken:
            response = api.token(grant_type="refresh_token", refresh_token=refresh)
            assert response.status_code == 200, (chain, response.text)  # not flagged as reused
    for client_id, token in ledger.registered:
        assert api.read_registration(client_id, token).status_code == 200
    assert "Traceback" not in server.log()


def test_full_kill_and_restart_keeps_everything(server):
    api = Api(server)
    browser = httpx.Client(timeout=30)
    try:
        tokens = api.code_flow(browser)
        machine = api.token(grant_type="client_credentials").json()["access_token"]
        registered = api.register("survivor").json()
        kids = {k["kid"] for k in httpx.get(server.url + "/oauth2/jwks").json()["keys"]}

        kill_all(server)
        server.process = restart(server).process

        assert api.introspect(tokens["access_token"])["active"] is True
        assert api.introspect(machine)["active"] is True
        refreshed = api.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        jwks = httpx.get(server.url + "/oauth2/jwks").json()
        assert {k["kid"] for k in jwks["keys"]} == kids
        key = next(k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(
            tokens["id_token"])["kid"])  # fmt: skip
        claims = jwt.decode(
            tokens["id_token"],
            jwt.PyJWK(key).key,
            algorithms=["RS256"],
            audience=api.client_id,
            issuer=server.url,
        )
        assert claims["iss"] == server.url
        reading = api.read_registration(
            registered["client_id"], registered["registration_access_token"]
        )
        assert reading.status_code == 200
        # The browser is still signed in: a wrong password would fail if the form came back.
        again = api.code_flow(browser, password="not the password")
        assert "access_token" in again
    finally:
        browser.close()
