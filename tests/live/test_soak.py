"""Mixed soak against 4 live workers: 64 threads of refresh chains, code redemptions,
introspection, revocation, registration and metadata, with `flask db purge` run mid-way.

Passes when there is no 5xx, no dropped connection, no refresh chain refused (a wrongly
detected reuse would revoke it), no `database is locked` in the log, and the database passes
`PRAGMA integrity_check`. The short variant runs in `make test`; `make soak` runs 60 s and also
holds p99 under a second (on a quiet machine; the short run only reports latency).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.helpers.common import pkce_pair
from tests.helpers.live import PASSWORD, REDIRECT_URI, add_user_and_client, start_live_server
from tests.helpers.oauth_browser import drive_consent

pytestmark = pytest.mark.live
THREADS = 64
SLOW = os.environ.get("GATEHOUSE_SLOW") == "1"


class Soak:
    """The shared state of one soak run: the server, its client, and every observation."""

    def __init__(self, server, seconds: float) -> None:
        self.server = server
        self.url = server.url
        client = server.extra["client"]
        self.client_id = client["client_id"]
        self.auth = (client["client_id"], client["client_secret"])
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self.cookies: httpx.Cookies | None = None

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def call(self, http: httpx.Client, op: str, method: str, path: str, ok=(200,), **kw):
        """One request, timed; anything but an expected status is a failure."""
        started = time.perf_counter()
        try:
            response = http.request(method, self.url + path, **kw)
        except httpx.TransportError as exc:
            with self.lock:
                self.failures.append(f"{op}: {type(exc).__name__}: {exc}")
            return None
        with self.lock:
            self.latency[op].append(time.perf_counter() - started)
            if response.status_code not in ok:
                self.failures.append(f"{op}: {response.status_code} {response.text[:200]}")
        return response if response.status_code in ok else None

    def authorize(self, http: httpx.Client) -> tuple[str, str] | None:
        """A code from the signed-in session (consent is remembered): (code, verifier)."""
        verifier, challenge = pkce_pair()
        query = urlencode(self.authorize_params(challenge))
        response = self.call(http, "authorize", "GET", f"/oauth2/authorize?{query}", ok=(302, 303))
        if response is None:
            return None
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        return code, verifier

    def authorize_params(self, challenge: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }

    def redeem(self, http: httpx.Client) -> dict | None:
        got = self.authorize(http)
        if got is None:
            return None
        code, verifier = got
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": REDIRECT_URI, "code_verifier": verifier}  # fmt: skip
        response = self.call(http, "code", "POST", "/oauth2/token", data=form, auth=self.auth)
        return response.json() if response is not None else None


def refresher(soak: Soak, http: httpx.Client) -> None:
    tokens = soak.redeem(http)
    while tokens and soak.running():
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        response = soak.call(http, "refresh", "POST", "/oauth2/token", data=form, auth=soak.auth)
        tokens = response.json() if response is not None else None


def redeemer(soak: Soak, http: httpx.Client) -> None:
    while soak.running():
        soak.redeem(http)


def introspector(soak: Soak, http: httpx.Client) -> None:
    form = {"grant_type": "client_credentials"}
    issued = soak.call(http, "issue", "POST", "/oauth2/token", data=form, auth=soak.auth)
    while issued is not None and soak.running():
        data = {"token": issued.json()["access_token"]}
        response = soak.call(http, "introspect", "POST", "/oauth2/introspect", data=data,
                             auth=soak.auth)  # fmt: skip
        if response is not None and response.json()["active"] is not True:
            soak.failures.append("introspect: a live token was inactive")


def revoker(soak: Soak, http: httpx.Client) -> None:
    while soak.running():
        form = {"grant_type": "client_credentials"}
        issued = soak.call(http, "issue", "POST", "/oauth2/token", data=form, auth=soak.auth)
        if issued is None:
            continue
        data = {"token": issued.json()["access_token"]}
        soak.call(http, "revoke", "POST", "/oauth2/revoke", data=data, auth=soak.auth)
        response = soak.call(http, "introspect", "POST", "/oauth2/introspect", data=data,
                             auth=soak.auth)  # fmt: skip
        if response is not None and response.json()["active"] is not False:
            soak.failures.append("revoke: a revoked token was still active")


def reader(soak: Soak, http: httpx.Client) -> None:
    paths = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
             "/.well-known/oauth-protected-resource", "/oauth2/jwks"]  # fmt: skip
    n = 0
    while soak.running():
        soak.call(http, "metadata", "GET", paths[n % len(paths)])
        n += 1


def registrar(soak: Soak, http: httpx.Client) -> None:
    """A registration every few seconds (the per-IP limit is 20 a minute), and one purge."""
    purged = False
    n = 0
    while soak.running():
        body = {"client_name": f"soak-{n}", "redirect_uris": [REDIRECT_URI]}
        response = soak.call(http, "register", "POST", "/oauth2/register", ok=(201,), json=body)
        if response is not None:
            info = response.json()
            headers = {"Authorization": f"Bearer {info['registration_access_token']}"}
            soak.call(http, "register", "GET", f"/oauth2/clients/{info['client_id']}",
                      headers=headers)  # fmt: skip
        n += 1
        if not purged:
            soak.server.flask("db", "purge")  # maintenance while serving
            purged = True
        end = time.monotonic() + 4
        while soak.running() and time.monotonic() < end:
            time.sleep(0.2)


ROLES = [refresher] * 16 + [redeemer] * 12 + [introspector] * 12 + [revoker] * 8
ROLES += [registrar] + [reader] * (THREADS - len(ROLES) - 1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_soak(tmp_path, seconds: float) -> Soak:
    server = start_live_server(tmp_path, workers=4)
    try:
        server.extra["client"] = add_user_and_client(
            server, "authorization_code", "refresh_token", "client_credentials"
        )
        soak = Soak(server, seconds=0)
        with httpx.Client(timeout=30) as browser:  # sign in and consent once; remembered after
            _, challenge = pkce_pair()
            query = urlencode(soak.authorize_params(challenge))
            drive_consent(f"{server.url}/oauth2/authorize?{query}", "alice", PASSWORD,
                          http=browser)  # fmt: skip
            cookies = httpx.Cookies(browser.cookies)
        soak.deadline = time.monotonic() + seconds

        def thread(role) -> None:
            with httpx.Client(timeout=30, cookies=cookies) as http:
                role(soak, http)

        with ThreadPoolExecutor(THREADS) as pool:
            for future in [pool.submit(thread, role) for role in ROLES]:
                future.result()
        soak.log = server.log()
    finally:
        server.stop()
    return soak


def check(soak: Soak) -> None:
    for op, values in sorted(soak.latency.items()):
        print(f"{op:<11} {len(values):6d} calls  p50 {percentile(values, 0.5) * 1000:7.1f} ms  "
              f"p99 {percentile(values, 0.99) * 1000:7.1f} ms")  # fmt: skip
    assert soak.failures == []
    for op in ("refresh", "code", "introspect", "revoke", "metadata", "register"):
        assert soak.latency[op], f"no {op} call completed"
    assert "database is locked" not in soak.log
    assert "database busy" not in soak.log
    assert "Traceback" not in soak.log
    conn = sqlite3.connect(soak.server.database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_short_mixed_soak(tmp_path):
    check(run_soak(tmp_path, seconds=12))


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="the 60 s soak runs with `make soak` (GATEHOUSE_SLOW=1)")
def test_sixty_second_mixed_soak(tmp_path):
    soak = run_soak(tmp_path, seconds=60)
    check(soak)
    every = [v for values in soak.latency.values() for v in values]
    assert percentile(every, 0.99) < 1.0  # the bar, held on a quiet machine only
