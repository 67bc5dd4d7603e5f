"""Two Gatehouse hosts on one PostgreSQL database keep every guarantee of one host (issue 11 §2).

Each host is its own gunicorn with 2 workers, folder and port; both share the database, the
secret key and the issuer, the address of a round-robin balancer in front of them
(tests/helpers/hosts.py). Requests through `hosts.url` alternate between the hosts; a test
that needs a step on a given host calls `hosts[0].url` or `hosts[1].url`. The races of codes
and refresh tokens run on two hosts in test_live_concurrency.py; this module proves the rest:
device codes, limits, secret bookkeeping, keys and discovery caches, sessions, and locks.

PostgreSQL only (several hosts on one SQLite file is what the README says not to do): skipped
with the reason when GATEHOUSE_TEST_POSTGRESQL is unset, and never in CI (conftest.py).
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import psycopg
import pytest

from models import Client, ClientSecret, User, db
from oauth import keys
from oauth.constants import AS_WELL_KNOWN, DEVICE_CODE_GRANT, JWKS_PATH
from oauth.dialect import WRITER_LOCK, open_database
from tests.helpers import postgresql
from tests.helpers.common import pkce_pair
from tests.helpers.device import approve_over_http
from tests.helpers.hosts import running_hosts
from tests.helpers.live import PASSWORD, REDIRECT_URI
from tests.helpers.oauth_browser import forms_of
from tests.helpers.tokens import make_code

pytestmark = pytest.mark.live

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
BUSY_TIMEOUT_MS = 2000  # how long a writer waits for a lock before the 503


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Two hosts on a fresh database, with alice, a confidential client and a device client."""
    if postgresql.server_url() is None:
        pytest.skip(postgresql.why_skipped())
    database = postgresql.fresh_database()
    try:
        with running_hosts(
            tmp_path_factory.mktemp("hosts"),
            database,
            GATEHOUSE_BUSY_TIMEOUT_MS=str(BUSY_TIMEOUT_MS),
        ) as hosts:
            hosts.flask("users", "create", "alice", "--password", PASSWORD)
            hosts.extra["client"] = create_client(hosts, "Web App", "authorization_code")
            device = json.loads(
                hosts.flask(
                    "clients",
                    "create",
                    "--name",
                    "TV",
                    "--public",
                    "--grant-type",
                    DEVICE_CODE_GRANT,
                    "--json",
                )  # fmt: skip
            )
            hosts.extra["device_client_id"] = device["client_id"]
            yield hosts
    finally:
        postgresql.drop_database(database)


@pytest.fixture
def here(hosts):
    """This test process's own connection to the hosts' database (to make codes, read rows)."""
    open_database(hosts.database)
    with db.connection_context():
        yield
    db.close()


def create_client(hosts, name: str, *grant_types: str) -> dict:
    """A confidential client_secret_basic client (with refresh_token), created on host 0."""
    grants = [arg for g in (*grant_types, "refresh_token") for arg in ("--grant-type", g)]
    out = hosts.flask(
        "clients", "create", "--name", name, "--redirect-uri", REDIRECT_URI, *grants, "--json"
    )
    return json.loads(out)


def credentials(client: dict) -> tuple[str, str]:
    return client["client_id"], client["client_secret"]


def at_once(calls: list) -> list:
    """Run every zero-argument call at the same moment (threads wait on a barrier)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


# -- device codes (RFC 8628) ---------------------------------------------------------------


def start_device_flow(hosts, host: int = 0) -> dict:
    response = httpx.post(
        hosts[host].url + "/oauth2/device_authorization",
        data={"client_id": hosts.extra["device_client_id"]},
    )
    assert response.status_code == 200, response.text
    return response.json()


def poll(url: str, client_id: str, device_code: str) -> httpx.Response:
    form = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, "client_id": client_id}
    return httpx.post(url + "/oauth2/token", data=form, timeout=30)


def test_a_device_code_polled_on_both_hosts_gives_tokens_once(hosts):
    started = start_device_flow(hosts, host=0)
    assert approve_over_http(hosts[1].url, started["user_code"]) == "approved"
    client_id = hosts.extra["device_client_id"]
    responses = at_once([lambda: poll(hosts.url, client_id, started["device_code"])] * 8)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 7, hosts.log()[-3000:]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}


def test_slow_down_is_kept_across_hosts(hosts):
    """RFC 8628 §3.5: slow_down adds 5 s to the interval, whichever host is polled next."""
    started = start_device_flow(hosts)
    client_id, code = hosts.extra["device_client_id"], started["device_code"]
    first = poll(hosts[0].url, client_id, code)
    assert first.json()["error"] == "authorization_pending"
    # host 1 sees the poll host 0 recorded: too soon, so slow down
    second = poll(hosts[1].url, client_id, code)
    assert second.json()["error"] == "slow_down"
    assert "wait 10 seconds" in second.json()["error_description"]
    # and host 0 sees the interval host 1 raised
    third = poll(hosts[0].url, client_id, code)
    assert third.json()["error"] == "slow_down"
    assert "wait 15 seconds" in third.json()["error_description"]


# -- abuse limits (rules/throttle.py), counted in the one database -------------------------


def test_sign_in_limit_is_counted_once_across_hosts(hosts):
    """20 wrong passwords for one name from one address at once, half on each host: the
    per (username, address) limit of 10 lets exactly 10 be checked."""

    def attempt(i: int):
        def go() -> int:
            with httpx.Client(timeout=60) as browser:
                # the form from one host, the answer from the other: one secret key signs both
                token = CSRF.search(browser.get(hosts[i % 2].url + "/login").text).group(1)
                form = {"username": "mallory", "password": f"guess {i}", "csrf_token": token}
                return browser.post(hosts[(i + 1) % 2].url + "/login", data=form).status_code

        return go

    statuses = at_once([attempt(i) for i in range(20)])
    assert sorted(statuses) == [200] * 10 + [429] * 10, hosts.log()[-3000:]


def test_client_authentication_limit_is_counted_once_across_hosts(hosts):
    client_id = create_client(hosts, "Guessed", "client_credentials")["client_id"]
    statuses = [
        httpx.post(
            hosts[i % 2].url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, f"wrong secret {i}"),
        ).status_code
        for i in range(14)
    ]
    assert statuses == [401] * 10 + [429] * 4


def test_registration_limit_is_counted_once_across_hosts(hosts):
    """RFC 7591 registrations from one address: 20 a minute, however many hosts answer."""
    body = {"client_name": "Burst", "redirect_uris": [REDIRECT_URI]}

    def register() -> int:
        return httpx.post(hosts.url + "/oauth2/register", json=body, timeout=60).status_code

    statuses = at_once([register] * 24)
    assert sorted(statuses) == [201] * 20 + [429] * 4, hosts.log()[-3000:]


def test_a_secrets_last_use_is_written_once_a_minute_across_hosts(hosts, here):
    client = create_client(hosts, "Busy", "client_credentials")

    def issue(host: int) -> None:
        response = httpx.post(
            hosts[host].url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=credentials(client),
        )
        assert response.status_code == 200, response.text

    def last_used():
        row = Client.by_client_id(client["client_id"])
        return ClientSecret.get(ClientSecret.client == row).last_used_at

    issue(0)
    first = last_used()
    assert first is not None
    for i in range(1, 7):
        issue(i % 2)
    assert last_used() == first  # one write, not one per request or per host


# -- signing keys and discovery: per-worker caches, exact invalidation ---------------------


def jwks(url: str, etag: str | None = None) -> httpx.Response:
    headers = {"If-None-Match": etag} if etag else {}
    return httpx.get(url + JWKS_PATH, headers=headers)


def kids(response: httpx.Response) -> set[str]:
    return {key["kid"] for key in response.json()["keys"]}


def test_a_key_rotated_on_one_host_is_in_the_next_jwks_of_every_host(hosts, here):
    # every worker of both hosts builds and keeps its JWKS
    warm = [jwks(host.url) for host in hosts.hosts for _ in range(6)]
    etag = warm[0].headers["ETag"]
    old = kids(warm[0])

    out = hosts[0].flask("keys", "rotate")
    new = dict(re.findall(r"new (\S+) signing key (\S+);", out))  # alg -> kid, every alg
    assert set(new) == set(keys.ALGS)

    for host in hosts.hosts:
        for _ in range(6):  # enough requests to reach both workers
            response = jwks(host.url, etag)
            assert response.status_code == 200  # not a stale 304
            assert kids(response) == old | set(new.values())
    # and the other host signs with the new key at once
    form, auth = redeem_form(hosts)
    tokens = httpx.post(hosts[1].url + "/oauth2/token", data=form, auth=auth)
    assert jwt.get_unverified_header(tokens.json()["id_token"])["kid"] == new[keys.ALG]


def test_a_resource_added_on_one_host_is_in_the_next_metadata_of_every_host(hosts):
    metadata = AS_WELL_KNOWN
    for host in hosts.hosts:
        for _ in range(4):
            assert "inventory:read" not in httpx.get(host.url + metadata).json()["scopes_supported"]

    hosts[0].flask("resources", "add", "https://inventory.example", "--scope", "inventory:read")

    for host in hosts.hosts:
        for _ in range(4):
            assert "inventory:read" in httpx.get(host.url + metadata).json()["scopes_supported"]


# -- sessions and consent ------------------------------------------------------------------


def test_sign_in_on_one_host_consent_on_the_other_redeem_on_the_first(hosts):
    client_id, secret = credentials(hosts.extra["client"])
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "state": "across",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    with httpx.Client(timeout=30) as browser:  # one cookie jar, as a browser behind a balancer
        page = browser.get(hosts[0].url + "/login")
        form = {
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": CSRF.search(page.text).group(1),
        }
        assert browser.post(hosts[0].url + "/login", data=form).status_code == 302

        consent = browser.get(f"{hosts[1].url}/oauth2/authorize?{query}")
        assert consent.status_code == 200, consent.text[:800]
        (form,) = [f for f in forms_of(consent.text) if f["attrs"].get("id") == "consent-form"]
        action = urljoin(hosts[0].url + "/oauth2/authorize", form["attrs"].get("action") or "")
        answer = browser.post(action, data={**form["fields"], "decision": "allow"})

    assert answer.status_code in (302, 303), answer.text[:800]
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == ["across"] and back["iss"] == [hosts.url]
    tokens = httpx.post(
        hosts[1].url + "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "code_verifier": verifier,
            "redirect_uri": REDIRECT_URI,
        },
        auth=(client_id, secret),
    )
    assert tokens.status_code == 200, tokens.text
    me = httpx.get(
        hosts[0].url + "/api/v2/users/me",
        headers={"Authorization": "Bearer " + tokens.json()["access_token"]},
    )
    assert me.json()["username"] == "alice"


# -- locks: a bounded wait, then 503 + Retry-After, never a 500 ----------------------------


class WriterLock:
    """Another session holding Gatehouse's writer lock (oauth/dialect.py), as a host stuck in
    a write transaction would: every host's read-then-write transactions wait for it."""

    def __init__(self, database: str) -> None:
        self.conn = psycopg.connect(database, autocommit=True)
        self.conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))

    def waiters(self) -> int:
        """How many sessions are queued for an advisory lock right now."""
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return self.conn.execute(query).fetchone()[0]

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
            self.conn.close()


def redeem_form(hosts) -> tuple[dict, tuple[str, str]]:
    """A fresh code's token request for the Web App client (needs `here`)."""
    verifier, challenge = pkce_pair()
    client = Client.by_client_id(hosts.extra["client"]["client_id"])
    code = make_code(client, User.by_username("alice"), challenge, audience=hosts.url)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
    }
    return form, credentials(hosts.extra["client"])


def test_a_held_lock_is_503_with_retry_after_on_every_host_then_recovers(hosts, here):
    requests = [redeem_form(hosts) for _ in hosts.hosts]
    lock = WriterLock(hosts.database)
    try:
        answers = [
            httpx.post(host.url + "/oauth2/token", data=form, auth=auth, timeout=60)
            for host, (form, auth) in zip(hosts.hosts, requests, strict=True)
        ]
    finally:
        lock.release()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"].isdigit()
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.json()["error"] == "temporarily_unavailable"
    # nothing was half done: the same codes redeem once the lock is free
    for host, (form, auth) in zip(hosts.hosts, requests, strict=True):
        assert httpx.post(host.url + "/oauth2/token", data=form, auth=auth).status_code == 200
    log = hosts.log()
    assert "database busy: POST /oauth2/token" in log
    assert "Traceback" not in log and '"POST /oauth2/token" 500' not in log


def test_a_lock_released_within_the_busy_timeout_is_waited_for(hosts, here):
    """The bounded retry: a writer queues for the lock up to GATEHOUSE_BUSY_TIMEOUT_MS, so a
    lock released meanwhile costs a wait, not an error."""
    form, auth = redeem_form(hosts)
    lock = WriterLock(hosts.database)
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                httpx.post, hosts[1].url + "/oauth2/token", data=form, auth=auth, timeout=60
            )
            queued = 0
            while not pending.done() and not queued:
                queued = lock.waiters()
            lock.release()
            answer = pending.result()
    finally:
        lock.release()
    assert queued == 1  # the request did wait for the lock ...
    assert answer.status_code == 200, answer.text  # ... and went on once it was free
