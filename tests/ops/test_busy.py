"""A write lock held past the busy timeout is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import sqlite3

import pytest
from flask import jsonify

from models import db
from oauth.store import record_event


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
def write_lock(config):
    """Another connection holding the database's write lock."""
    conn = sqlite3.connect(config["DATABASE"], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


def test_busy_timeout_is_configurable(app):
    with db.connection_context():
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
