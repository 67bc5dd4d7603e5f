"""A write lock held past the busy timeout is a 503 with Retry-After, never a 500.

On SQLite the lock is the database's write lock; on PostgreSQL, table locks on the tables a
write touches, or the advisory lock of write transactions (oauth/dialect.py)."""

from __future__ import annotations

import psycopg
import pytest
from flask import jsonify

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
