"""A SQLite WAL is checkpointed in the background, so no request waits for a checkpoint.

Each gunicorn worker runs a `dialect.Checkpointer` (gunicorn.conf.py); its commits then
checkpoint themselves only past `BACKSTOP_PAGES`. "In the database file" below means in the
main file alone, read from a copy of it without its WAL: what a checkpoint has copied there.

With that thread a worker holds two connections, so a connection opening must never drop the
locks of one already open (models.private_database).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from models import PRAGMAS
from oauth import dialect
from tests.helpers.live import add_user_and_client, running


def in_database_file(path, tmp_path, sql: str) -> list[tuple] | None:
    """The rows `sql` reads from the main file alone (None while the table is not there)."""
    copy = tmp_path / "main-file-only.sqlite3"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.DatabaseError:  # not copied yet, or copied in the middle of a checkpoint
        return None
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"main-file-only.sqlite3{suffix}").unlink(missing_ok=True)


def eventually(check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def database(tmp_path):
    database = dialect.SqliteFileDatabase(str(tmp_path / "g.sqlite3"), dict(PRAGMAS))
    database.execute_sql("CREATE TABLE t (x INTEGER)")
    yield database
    database.close()


def test_commits_reach_the_database_file_without_a_checkpoint_of_their_own(database, tmp_path):
    checkpointer = database.checkpoint_in_background()
    try:
        for x in (1, 2):
            with database.atomic("IMMEDIATE"):
                database.execute_sql("INSERT INTO t VALUES (?)", (x,))
        assert eventually(
            lambda: in_database_file(database.database, tmp_path, "SELECT x FROM t") == [(1,), (2,)]
        )
    finally:
        checkpointer.stop()


def test_without_it_commits_stay_in_the_wal(database, tmp_path):
    """The control: SQLite alone copies nothing before 1,000 pages."""
    with database.atomic("IMMEDIATE"):
        database.execute_sql("INSERT INTO t VALUES (1)")
    time.sleep(0.3)
    assert in_database_file(database.database, tmp_path, "SELECT x FROM t") is None


def test_commits_leave_it_the_checkpoint_up_to_the_backstop(database):
    assert database.execute_sql("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    checkpointer = database.checkpoint_in_background()
    try:
        # The connection already open (create_app's) and those opened later, by other threads.
        assert database.execute_sql("PRAGMA wal_autocheckpoint").fetchone() == (
            dialect.BACKSTOP_PAGES,
        )
        seen = []
        thread = threading.Thread(
            target=lambda: seen.append(database.execute_sql("PRAGMA wal_autocheckpoint").fetchone())
        )
        thread.start()
        thread.join()
        assert seen == [(dialect.BACKSTOP_PAGES,)]
    finally:
        checkpointer.stop()


def test_a_removed_database_is_not_created_again(tmp_path, caplog):
    path = tmp_path / "removed.sqlite3"
    caplog.set_level(logging.WARNING, logger="oauth.dialect")
    checkpointer = dialect.Checkpointer(str(path))
    checkpointer.start()
    checkpointer.join(timeout=10)
    assert not checkpointer.is_alive()
    assert not path.exists()
    assert "WAL checkpoints of" in caplog.text and "stopped" in caplog.text


def test_it_checks_often_while_writes_come_and_backs_off_while_none_do():
    shortest, longest = dialect.CHECKPOINT_PAUSES
    assert dialect.next_pause(longest, wrote=True) == shortest
    pauses = [shortest]
    while pauses[-1] < longest:
        pauses.append(dialect.next_pause(pauses[-1], wrote=False))
    assert pauses[1] == 2 * shortest and pauses[-1] == longest
    assert dialect.next_pause(longest, wrote=False) == longest


def test_not_for_a_database_that_is_not_a_file():
    memory = dialect.SqliteFileDatabase(":memory:", dict(PRAGMAS))
    assert memory.checkpoint_in_background() is None


WRITE_AND_CLOSE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("INSERT INTO t VALUES (1)")
conn.commit()
conn.close()
"""


def test_opening_a_second_connection_keeps_the_first_ones_locks(database):
    """Closing any descriptor of a file drops every POSIX lock the process holds on it. If a
    new connection's set-up did, another process closing its last connection would find
    none held here, think itself the last, and delete the WAL and the -shm under this
    process's connections: they would then read and write files nobody else sees."""
    database.execute_sql("SELECT count(*) FROM t")  # this thread's connection: the WAL open
    second = threading.Thread(target=lambda: database.execute_sql("SELECT count(*) FROM t"))
    second.start()  # a second connection, as the Checkpointer's or a gthread worker's
    second.join()
    subprocess.run([sys.executable, "-c", WRITE_AND_CLOSE, database.database], check=True)
    assert os.path.exists(database.database + "-wal")  # it knew it was not the last
    assert database.execute_sql("SELECT count(*) FROM t").fetchone() == (1,)


@pytest.mark.live
def test_each_gunicorn_worker_checkpoints_in_the_background(tmp_path):
    with running(tmp_path, workers=2) as live:
        client = add_user_and_client(live, "client_credentials")
        count = "SELECT count(*) FROM access_token"
        before = in_database_file(live.database, tmp_path, count)
        answer = httpx.post(
            live.url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert answer.status_code == 200
        assert eventually(lambda: in_database_file(live.database, tmp_path, count) == [(1,)])
        assert before in (None, [(0,)])
