"""A write lock held by another process past the busy timeout, against live gunicorn workers
(on SQLite the database's write lock; on PostgreSQL an EXCLUSIVE lock on the table a token
grant inserts into).

Every worker that needs to write answers 503 JSON with Retry-After once its busy timeout runs
out (the production 5 s, well inside gunicorn's 30 s worker timeout, so no worker is killed),
reads keep working meanwhile, and the next write after the lock is released succeeds.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import ROOT, postgresql
from tests.helpers.live import add_user_and_client, running

pytestmark = pytest.mark.live

HOLD_LOCK = """
import sys
from tests.helpers.postgresql import connect
conn = connect(sys.argv[1])
if sys.argv[1].startswith("postgresql://"):
    conn.execute("BEGIN")
    conn.execute("LOCK TABLE token_family IN EXCLUSIVE MODE")  # reads go on, inserts wait
else:
    conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@pytest.fixture(scope="module", params=postgresql.engines())
def server(tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("lock")
    with (
        postgresql.database_for(request.param) as database,
        running(tmp, workers=4, database=database) as live,
    ):
        live.extra["client"] = add_user_and_client(live, "client_credentials")
        yield live


class Locker:
    """Another process holding the database's write lock until released."""

    def __init__(self, database: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, database],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.communicate("go\n", timeout=10)


def issue(server) -> httpx.Response:
    client = server.extra["client"]
    return httpx.post(
        server.url + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=60,  # far beyond the busy timeout: we wait for whatever the server answers
    )


def test_writes_get_503_json_with_retry_after_then_recover(server):
    assert issue(server).status_code == 200  # warm: the secret's last_used_at is written now
    locker = Locker(server.database)
    try:
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: issue(server), range(4)))
        metadata = httpx.get(server.url + "/.well-known/oauth-authorization-server", timeout=60)
    finally:
        locker.release()
    for response in responses:
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        assert response.headers["Cache-Control"] == "no-store"
        assert response.json()["error"] == "temporarily_unavailable"
    assert metadata.status_code == 200  # WAL: readers are never blocked by the writer
    recovered = issue(server)
    assert recovered.status_code == 200
    assert recovered.json()["token_type"] == "Bearer"


def test_the_busy_answer_is_logged_without_a_traceback(server):
    locker = Locker(server.database)
    try:
        assert issue(server).status_code == 503
    finally:
        locker.release()
    log = server.log()
    assert "database busy: POST /oauth2/token" in log
    assert "Traceback" not in log
    assert "WORKER TIMEOUT" not in log
    assert issue(server).status_code == 200
