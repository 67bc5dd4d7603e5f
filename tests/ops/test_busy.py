"""A write lock held past the busy timeout is a 503 with Retry-After, never a 500.

On SQLite the lock is the database's write lock; on PostgreSQL, table locks on the tables a
write touches, or the advisory lock of write transactions (oauth/dialect.py)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

import psycopg
import pytest
from flask import jsonify
from peewee import OperationalError

from models import db, is_postgresql
from oauth import dialect
from oauth.store import record_event
from tests.helpers.common import pkce_pair
from tests.helpers.postgresql import connect
from tests.helpers.tokens import make_code, redeem


@pytest.fixture
def config(config):
    config["BUSY_TIMEOUT_MS"] = 20  # wait 20 ms for the write lock instead of 5 s
    return config


@pytest.fixture
def api_write(app):
    """A tiny JSON write endpoint under /api/ (the API error shape is what is tested)."""

    def write():
        with db.atomic():
            record_event("test:busy")
        return jsonify({"ok": True})

    app.add_url_rule("/api/test-busy-write", "test_busy_write", write, methods=["POST"])


@pytest.fixture
def write_lock(config, engine):
    """Another connection holding the write lock (SQLite) or locks on the written tables."""
    conn = connect(config["DATABASE"])
    if engine == "sqlite":
        conn.execute("BEGIN IMMEDIATE")
    else:  # reads go on (EXCLUSIVE lets ACCESS SHARE through); writes wait
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE throttle_event, audit_event IN EXCLUSIVE MODE")
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


def test_busy_timeout_is_configurable(app):
    with db.connection_context():
        if is_postgresql():
            assert db.execute_sql("SHOW lock_timeout").fetchone()[0] == "20ms"
        else:
            assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 20


def test_api_path_gets_json_503_with_retry_after(client, api_write, write_lock):
    response = client.post("/api/test-busy-write")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Cache-Control"] == "no-store"


def test_page_path_gets_an_html_503(client, user, write_lock):
    # A failed sign-in writes a throttle event and an audit row: that write meets the lock.
    response = client.post("/login", data={"username": "alice", "password": "wrong"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"].isdigit()
    assert "busy" in response.get_data(as_text=True)


def test_readers_are_not_blocked_by_the_writer(client, write_lock):
    assert client.get("/login").status_code == 200  # WAL: reads go on during a write


def test_writes_work_again_once_the_lock_is_gone(client, user, api_write, write_lock):
    assert client.post("/api/test-busy-write").status_code == 503
    write_lock.execute("ROLLBACK")
    write_lock.execute("BEGIN")  # the fixture's ROLLBACK still has something to end
    assert client.post("/api/test-busy-write").status_code == 200
    response = client.post("/login", data={"username": "alice", "password": "wrong"})
    assert response.status_code == 200


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_postgresql_write_transactions_wait_for_each_other(client, oauth_client, user, config):
    """db.atomic("IMMEDIATE") takes the writers' advisory lock, as SQLite's write lock: a code
    redemption meeting one held elsewhere past the timeout is a 503, not a 500."""
    app_client, secret = oauth_client
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge)
    with connect(config["DATABASE"]) as other:
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(%s)", (dialect.WRITER_LOCK,))
        response = redeem(client, app_client, secret, code, verifier)
        other.execute("ROLLBACK")
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert redeem(client, app_client, secret, code, verifier).status_code == 200  # still unused


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
    ],
)
def test_serialization_failures_and_deadlocks_are_503(app, client, error):
    def fail():
        raise error

    app.add_url_rule("/api/test-busy-fail", "test_busy_fail", fail, methods=["POST"])
    response = client.post("/api/test-busy-fail")
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"].isdigit()


def test_other_database_errors_stay_errors():
    assert not dialect.is_busy(psycopg.errors.UndefinedTable("relation does not exist"))
    assert not dialect.is_busy(psycopg.errors.QueryCanceled("statement timeout"))


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_dropped_postgresql_connection_is_a_503_then_replaced(client, config):
    """A server restart or failover ends the worker's connection: the request that meets it is
    a 503 with Retry-After, and the next one opens a new connection."""
    assert client.get("/healthz").status_code == 200  # the worker's connection is open
    (pid,) = db.execute_sql("SELECT pg_backend_pid()").fetchone()
    with connect(config["DATABASE"]) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert client.get("/.well-known/oauth-authorization-server").status_code == 200
    assert db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid


# -- SQLite's write queue (oauth/dialect.py SqliteFileDatabase) --------------------------------


def _queue_is_free(database: str) -> bool:
    """Whether nobody holds the write queue of the SQLite file `database` (a probe of its lock)."""
    fd = os.open(database + dialect.WRITER_QUEUE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the descriptor also drops a lock the probe took
    return True


@pytest.fixture
def sqlite_file(tmp_path):
    database = dialect.SqliteFileDatabase(str(tmp_path / "queue.sqlite3"), {"busy_timeout": 50})
    database.connect()
    database.execute_sql("CREATE TABLE t (x INTEGER)")
    yield database
    database.close()


@pytest.mark.sqlite_only
def test_a_write_transaction_holds_the_queue_until_it_ends(sqlite_file):
    path = sqlite_file.database
    assert _queue_is_free(path)
    with sqlite_file.atomic("IMMEDIATE"):
        sqlite_file.execute_sql("INSERT INTO t VALUES (1)")
        assert not _queue_is_free(path)  # the next writer waits here, not in SQLite's sleeps
    assert _queue_is_free(path)  # committed
    with pytest.raises(RuntimeError), sqlite_file.atomic("IMMEDIATE"):
        raise RuntimeError("the request failed")
    assert _queue_is_free(path)  # rolled back
    with sqlite_file.atomic():  # a plain transaction (reads first) does not queue
        assert _queue_is_free(path)
    assert sqlite_file.execute_sql("SELECT count(*) FROM t").fetchone()[0] == 1


@pytest.mark.sqlite_only
def test_a_writer_whose_begin_fails_leaves_the_queue(sqlite_file):
    other = sqlite3.connect(sqlite_file.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # SQLite's own lock, taken outside the queue
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            sqlite_file.begin("IMMEDIATE")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _queue_is_free(sqlite_file.database)


@pytest.mark.sqlite_only
def test_the_wait_for_the_queue_is_bounded_by_the_busy_timeout(sqlite_file):
    fd = os.open(sqlite_file.database + dialect.WRITER_QUEUE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer that never ends
    try:
        with pytest.raises(OperationalError) as raised:
            sqlite_file.begin("IMMEDIATE")
    finally:
        os.close(fd)
    assert dialect.is_busy(raised.value)  # answered 503 + Retry-After, like SQLite's own
    with sqlite_file.atomic("IMMEDIATE"):  # and the next one goes through
        sqlite_file.execute_sql("INSERT INTO t VALUES (2)")


@pytest.mark.sqlite_only
def test_a_forked_worker_queues_with_its_own_descriptor(sqlite_file):
    """A worker forked from a process that holds the queue must wait for it: a descriptor
    inherited across fork shares the parent's lock and would let both in."""
    with sqlite_file.atomic("IMMEDIATE"):
        pid = os.fork()
        if pid == 0:  # the child, on a connection of its own: the queue is taken
            status = 1
            try:
                sqlite_file._state.reset()  # the parent's connection is the parent's
                sqlite_file.connect()
                sqlite_file.begin("IMMEDIATE")
            except OperationalError as exc:
                status = 0 if "write queue" in str(exc) else 2  # not SQLite's own lock
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.sqlite_only
def test_a_code_redemption_meeting_a_held_queue_is_a_503(client, oauth_client, user, config):
    """A code exchange waits for the queue at most GATEHOUSE_BUSY_TIMEOUT_MS, then 503."""
    app_client, secret = oauth_client
    verifier, challenge = pkce_pair()
    code = make_code(app_client, user, challenge)
    fd = os.open(config["DATABASE"] + dialect.WRITER_QUEUE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        response = redeem(client, app_client, secret, code, verifier)
    finally:
        os.close(fd)
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert redeem(client, app_client, secret, code, verifier).status_code == 200  # still unused


@pytest.mark.sqlite_only
def test_a_thread_that_ends_closes_its_queue_file(sqlite_file):
    """A development server starts a thread per request: each one's queue file must go with
    it, or every request would leave a descriptor open."""

    def write() -> None:
        with sqlite_file.connection_context(), sqlite_file.atomic("IMMEDIATE"):
            sqlite_file.execute_sql("INSERT INTO t VALUES (3)")

    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # not one per thread
    assert sqlite_file.execute_sql("SELECT count(*) FROM t").fetchone()[0] == 20
