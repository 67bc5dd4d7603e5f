"""Single use under real concurrency: gunicorn with 4 worker processes sharing one SQLite file,
and, in the engine matrix, two hosts of 2 workers each on one PostgreSQL database behind a
round-robin balancer (tests/helpers/hosts.py), so the racing requests land on both hosts.

Codes and refresh tokens are claimed by compare-and-set inside IMMEDIATE transactions, so
however the requests interleave across processes and hosts exactly one wins.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest

from models import Client, RefreshToken, TokenFamily, User, db
from oauth.dialect import open_database
from tests.helpers import postgresql
from tests.helpers.common import pkce_pair
from tests.helpers.hosts import running_hosts
from tests.helpers.live import add_user_and_client, running
from tests.helpers.oauth_browser import drive_consent
from tests.helpers.tokens import make_code

pytestmark = pytest.mark.live

REDIRECT_URI = "http://127.0.0.1:9999/callback"
PASSWORD = "correct horse battery"


def serve_with_alice(tmp, engine: str, **env: str):
    """A live server with 4 workers (on PostgreSQL: 2 hosts of 2), alice and a confidential
    client; stopped on exit."""
    with postgresql.database_for(engine) as database:
        if engine == "postgresql":
            serving = running_hosts(tmp, database, count=2, workers=2, **env)
        else:
            serving = running(tmp, workers=4, database=database, **env)
        with serving as live:
            live.extra["client"] = add_user_and_client(live, name="Live")
            yield live


@pytest.fixture(scope="module", params=postgresql.engines())
def server(tmp_path_factory, request):
    """One live server for this module (per engine)."""
    yield from serve_with_alice(tmp_path_factory.mktemp("live"), request.param)


def connect_to(server):
    """This test process's own connection to a live server's database."""
    open_database(server.database)
    with db.connection_context():
        yield
    db.close()


@pytest.fixture
def live_db(server):
    yield from connect_to(server)


def post_all(url: str, forms: list[dict], auth: tuple[str, str]) -> list[httpx.Response]:
    """POST every form at once: all threads wait on a barrier, then fire together."""
    barrier = threading.Barrier(len(forms))

    def send(form):
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            return http.post(url, data=form, auth=auth)

    with ThreadPoolExecutor(len(forms)) as pool:
        return list(pool.map(send, forms))


def credentials(server) -> tuple[str, str]:
    return server.extra["client"]["client_id"], server.extra["client"]["client_secret"]


def fresh_code(server) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    client = Client.by_client_id(server.extra["client"]["client_id"])
    code = make_code(client, User.by_username("alice"), challenge, audience=server.url)
    return code, verifier


def test_32_concurrent_redemptions_of_one_code(server, live_db):
    code, verifier = fresh_code(server)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
    }
    responses = post_all(server.url + "/oauth2/token", [form] * 32, credentials(server))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 31, server.log()[-2000:]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    # the replays revoked what the winner got
    me = httpx.get(
        server.url + "/api/v2/users/me",
        headers={"Authorization": "Bearer " + winner["access_token"]},
    )
    assert me.status_code == 401
    refreshed = httpx.post(
        server.url + "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]},
        auth=credentials(server),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert TokenFamily.select().where(TokenFamily.revoked_at.is_null()).count() == 0


def race_ten_refreshes(server) -> tuple[TokenFamily, httpx.Response]:
    """Redeem a fresh code, refresh its token from 10 threads at once; check one winner.

    Returns the family and the response to the winner refreshing once more.
    """
    code, verifier = fresh_code(server)
    first = httpx.post(
        server.url + "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": REDIRECT_URI,
        },
        auth=credentials(server),
    ).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    responses = post_all(server.url + "/oauth2/token", [form] * 10, credentials(server))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 9, server.log()[-2000:]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    family = TokenFamily.select().order_by(TokenFamily.id.desc()).get()
    successors = RefreshToken.select().where(RefreshToken.family_id == family.id)
    assert successors.count() == 2  # the original and exactly one successor
    winner = next(r.json() for r in responses if r.status_code == 200)
    again = httpx.post(
        server.url + "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]},
        auth=credentials(server),
    )
    return family, again


def test_10_concurrent_refreshes_never_fork_the_family(server, live_db):
    """Strict default: one winner, nine invalid_grant, and the reuses revoke the family."""
    family, again = race_ten_refreshes(server)
    assert family.revoked_at is not None  # a rotated token came back: treated as theft
    assert again.json()["error"] == "invalid_grant"


@pytest.fixture(scope="module", params=postgresql.engines())
def graceful_server(tmp_path_factory, request):
    """A server that forgives a client racing its own refreshes for 30 s."""
    yield from serve_with_alice(
        tmp_path_factory.mktemp("grace"), request.param, GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE="30"
    )


@pytest.fixture
def graceful_db(graceful_server):
    yield from connect_to(graceful_server)


def test_10_concurrent_refreshes_within_the_grace_keep_the_winner(graceful_server, graceful_db):
    family, again = race_ten_refreshes(graceful_server)
    assert family.revoked_at is None  # the losers were a race, not theft
    assert again.status_code == 200  # so the winner's tokens keep working


def test_login_consent_and_token_across_workers(server):
    """Sessions, CSRF and consent signatures hold whichever worker (or host) serves each step.

    Gunicorn's sync workers close the connection after each response, so every step of the
    flow is a new connection that any of the four workers may accept; five rounds make it
    all but certain that steps land on different processes.
    """
    client_id, secret = credentials(server)
    for round_ in range(5):
        verifier, challenge = pkce_pair()
        state = f"state-{round_}"
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid profile",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        code, got_state, iss = drive_consent(
            f"{server.url}/oauth2/authorize?{query}", "alice", PASSWORD
        )
        assert got_state == state and iss == server.url
        response = httpx.post(
            server.url + "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": REDIRECT_URI,
            },
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = httpx.get(
            server.url + "/api/v2/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json()["username"] == "alice"
