"""`flask db purge` and `flask db backup`: what goes, what stays, safety while others write."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from models import (
    AccessToken,
    AuthorizationCode,
    DeviceCode,
    InitialAccessToken,
    RefreshToken,
    ShownOnce,
    ThrottleEvent,
    TokenFamily,
    User,
    UserSession,
    db,
    utcnow,
)
from oauth import crypto, dialect
from oauth.ops import maintenance
from tests.helpers.common import make_client
from tests.helpers.postgresql import connect, run

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def _family(client, user, expires_at, revoked_at=None) -> TokenFamily:
    return TokenFamily.create(
        client=client,
        user=user,
        grant_type="authorization_code",
        audience="http://127.0.0.1:8000",
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


def _access(family, expires_at) -> AccessToken:
    return AccessToken.create(
        token_hash=crypto.new_token(crypto.ACCESS_TOKEN)[1],
        family_id=family.id,
        expires_at=expires_at,
    )


def _refresh(family, expires_at) -> RefreshToken:
    return RefreshToken.create(
        token_hash=crypto.new_token(crypto.REFRESH_TOKEN)[1],
        family_id=family.id,
        expires_at=expires_at,
    )


def _code(client, user, expires_at) -> AuthorizationCode:
    return AuthorizationCode.create(
        code_hash=crypto.new_token(crypto.AUTHORIZATION_CODE)[1],
        client=client,
        user=user,
        audience="http://127.0.0.1:8000",
        code_challenge="x" * 43,
        code_challenge_method="S256",
        auth_time=utcnow(),
        expires_at=expires_at,
    )


def _device(client, expires_at) -> DeviceCode:
    return DeviceCode.create(
        device_code_hash=crypto.new_token(crypto.DEVICE_CODE)[1],
        user_code_hash=crypto.sha256(os.urandom(8).hex()),
        client=client,
        audience="http://127.0.0.1:8000",
        expires_at=expires_at,
    )


def _session(user, expires_at, revoked_at=None) -> UserSession:
    return UserSession.create(
        sid_hash=crypto.new_secret(crypto.SESSION_ID)[1],
        user=user,
        auth_time=utcnow(),
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


def _shown_once(session, client, expires_at):
    """A secret waiting to be shown once (oauth/manage/shown_once.py), as a row."""
    return ShownOnce.create(
        key_hash=crypto.new_secret("shown")[1],
        user_session=session,
        client=client,
        ciphertext="sealed",
        expires_at=expires_at,
    )


@pytest.fixture
def rows(app, user):
    """A mix of live and dead rows in every purged table: {name: row}."""
    client, _ = make_client()
    now = utcnow()
    with db.connection_context():
        live_family = _family(client, user, now + 30 * DAY)
        dead_family = _family(client, user, now - 2 * DAY)
        revoked_family = _family(client, user, now + 30 * DAY, revoked_at=now - 2 * DAY)
        revoked_recently = _family(client, user, now + 30 * DAY, revoked_at=now - HOUR)
        session = _session(user, now + HOUR)
        return {
            "live_family": live_family,
            "dead_family": dead_family,
            "revoked_family": revoked_family,
            "revoked_recently": revoked_recently,
            "live_access": _access(live_family, now + HOUR),
            "expired_access": _access(live_family, now - HOUR),
            "dead_family_access": _access(dead_family, now - 2 * DAY),
            "live_refresh": _refresh(live_family, now + DAY),
            "recent_expired_refresh": _refresh(live_family, now - HOUR),
            "old_refresh": _refresh(live_family, now - 2 * DAY),
            "recently_revoked_refresh": _refresh(revoked_recently, now + DAY),
            # unexpired, but their family goes (revoked two days ago): dead, so purged too
            "revoked_family_access": _access(revoked_family, now + HOUR),
            "revoked_family_refresh": _refresh(revoked_family, now + DAY),
            "live_code": _code(client, user, now + timedelta(minutes=5)),
            "recent_code": _code(client, user, now - HOUR),
            "old_code": _code(client, user, now - 2 * DAY),
            "live_device": _device(client, now + HOUR),
            "old_device": _device(client, now - 2 * DAY),
            "live_session": _session(user, now + HOUR),
            "expired_session": _session(user, now - HOUR),
            "old_revoked_session": _session(user, now + HOUR, revoked_at=now - 2 * DAY),
            "live_shown_once": _shown_once(session, client, now + HOUR),
            "expired_shown_once": _shown_once(session, client, now - HOUR),
            "new_throttle": ThrottleEvent.create(bucket="login:user:alice", created_at=now),
            "old_throttle": ThrottleEvent.create(
                bucket="login:user:alice", created_at=now - 2 * DAY
            ),
            "live_iat": InitialAccessToken.create(
                token_hash=crypto.new_secret(crypto.INITIAL_ACCESS_TOKEN)[1],
                expires_at=now + DAY,
            ),
            "old_iat": InitialAccessToken.create(
                token_hash=crypto.new_secret(crypto.INITIAL_ACCESS_TOKEN)[1],
                expires_at=now - 2 * DAY,
            ),
        }


KEPT = [
    "live_family",
    "revoked_recently",
    "live_access",
    "live_refresh",
    "recent_expired_refresh",
    "recently_revoked_refresh",
    "live_code",
    "recent_code",
    "live_device",
    "live_session",
    "live_shown_once",
    "new_throttle",
    "live_iat",
]
PURGED = [
    "dead_family",
    "revoked_family",
    "expired_access",
    "dead_family_access",
    "revoked_family_access",
    "revoked_family_refresh",
    "old_refresh",
    "old_code",
    "old_device",
    "expired_session",
    "old_revoked_session",
    "expired_shown_once",
    "old_throttle",
    "old_iat",
]


@contextmanager
def concurrent_writer(database: str, bucket: str) -> Iterator[list[Exception]]:
    """Another connection committing small write transactions meanwhile; yields its errors.

    Its transactions take the write lock as the server's do: BEGIN IMMEDIATE on SQLite, the
    writers' advisory lock on PostgreSQL (oauth/dialect.py)."""
    errors: list[Exception] = []
    done = threading.Event()
    sqlite = not dialect.is_postgresql_url(database)
    begin = "BEGIN IMMEDIATE" if sqlite else "BEGIN"
    lock = None if sqlite else f"SELECT pg_advisory_xact_lock({dialect.WRITER_LOCK})"
    insert = "INSERT INTO throttle_event (bucket, created_at) VALUES (?, ?)"

    def writer() -> None:
        conn = connect(database)
        try:
            if sqlite:
                conn.execute("PRAGMA busy_timeout = 5000")
            while not done.is_set():
                conn.execute(begin)
                if lock:
                    conn.execute(lock)
                run(conn, insert, (bucket, str(utcnow())))
                conn.execute("COMMIT")
                time.sleep(0.001)  # a busy server, not a tight loop that starves other writers
        except Exception as exc:
            errors.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        yield errors
    finally:
        done.set()
        thread.join()


def _exists(row) -> bool:
    model = type(row)
    with db.connection_context():
        return model.select().where(model._meta.primary_key == row._pk).exists()


@pytest.mark.parametrize("name", KEPT)
def test_purge_keeps_live_rows(rows, name):
    with db.connection_context():
        maintenance.purge(batch_size=2)
    assert _exists(rows[name])


@pytest.mark.parametrize("name", PURGED)
def test_purge_deletes_expired_rows(rows, name):
    with db.connection_context():
        maintenance.purge(batch_size=2)
    assert not _exists(rows[name])


def test_purge_counts_every_batch(app, user):
    client, _ = make_client()
    now = utcnow()
    with db.connection_context():
        family = _family(client, user, now + DAY)
        for _ in range(23):
            _access(family, now - HOUR)
        counts = maintenance.purge(batch_size=5)
        assert counts["access_token"] == 23
        assert AccessToken.select().count() == 0
        assert maintenance.purge(batch_size=5)["access_token"] == 0


def test_purge_walks_the_whole_table_past_batches_without_garbage(app, user):
    """Garbage is found wherever its key falls, however many live rows come first: each batch
    looks at the next keys, not at the next garbage (no expiry index to jump to it)."""
    client, _ = make_client()
    now = utcnow()
    with db.connection_context():
        family = _family(client, user, now + DAY)
        live = [_access(family, now + HOUR) for _ in range(9)]
        dead = [_access(family, now - HOUR) for _ in range(3)]
        counts = maintenance.purge(batch_size=2)
        assert counts["access_token"] == 3
        left = {row.token_hash for row in AccessToken.select()}
        assert left == {row.token_hash for row in live} and not left & {r.token_hash for r in dead}


def test_purge_cli_reports_and_checkpoints(runner, rows, config, engine):
    result = runner.invoke(args=["db", "purge", "--batch-size", "3", "--pause", "0"])
    assert result.exit_code == 0, result.output
    assert "access_token: 3 deleted" in result.output
    if engine == "postgresql":  # no WAL file of ours to checkpoint there
        assert "WAL" not in result.output
        return
    assert "WAL checkpoint: complete" in result.output
    # TRUNCATE checkpoint leaves an empty WAL file behind.
    wal = config["DATABASE"] + "-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0


def test_purge_while_another_connection_writes(app, user, config):
    """Batches are short transactions: a concurrent writer never times out on the lock."""
    client, _ = make_client()
    now = utcnow()
    with db.connection_context():
        family = _family(client, user, now + DAY)
        stamp = AccessToken.created_at.db_value(now)
        rows = [(crypto.sha256(f"t{i}"), family.id, stamp, stamp) for i in range(3000)]
        with db.atomic():
            columns = "token_hash, family_id, created_at, expires_at"
            marks = ", ".join([db.param] * 4)  # the engine's placeholder
            sql = f"INSERT INTO access_token ({columns}) VALUES ({marks})"  # noqa: S608
            db.cursor().executemany(sql, rows)
    with concurrent_writer(config["DATABASE"], "purge-test") as errors, db.connection_context():
        counts = maintenance.purge(batch_size=100)
    assert errors == []
    assert counts["access_token"] == 3000
    with db.connection_context():
        assert ThrottleEvent.select().where(ThrottleEvent.bucket == "purge-test").count() > 0


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_backup_on_postgresql_says_to_use_pg_dump(app, runner, tmp_path):
    with app.app_context():
        result = runner.invoke(args=["db", "backup", str(tmp_path / "copy")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "db backup copies SQLite files; back up PostgreSQL with pg_dump"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.sqlite_only
def test_backup_is_a_consistent_single_file(runner, user, config, tmp_path):
    dest = tmp_path / "backup" / "copy.sqlite3"
    dest.parent.mkdir()
    result = runner.invoke(args=["db", "backup", str(dest)])
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    assert not os.path.exists(f"{dest}-wal")
    conn = sqlite3.connect(dest)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT username FROM user").fetchall() == [("alice",)]
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_backup_replaces_an_older_copy(runner, app, user, tmp_path):
    dest = tmp_path / "copy.sqlite3"
    assert runner.invoke(args=["db", "backup", str(dest)]).exit_code == 0
    with db.connection_context():
        User.create(username="bob", sub="sub-bob")
    assert runner.invoke(args=["db", "backup", str(dest)]).exit_code == 0
    conn = sqlite3.connect(dest)
    try:
        names = {row[0] for row in conn.execute("SELECT username FROM user")}
    finally:
        conn.close()
    assert names == {"alice", "bob"}
    assert not os.path.exists(f"{dest}.partial")


@pytest.mark.sqlite_only
def test_backup_while_another_connection_writes(app, user, config, tmp_path):
    """The online backup is one snapshot: a writer running meanwhile is neither blocked nor torn."""
    with concurrent_writer(config["DATABASE"], "backup-test") as errors:
        for n in range(3):
            maintenance.backup(config["DATABASE"], str(tmp_path / f"b{n}.sqlite3"))
    assert errors == []
    conn = sqlite3.connect(tmp_path / "b2.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
