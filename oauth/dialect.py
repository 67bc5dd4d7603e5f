"""Where SQLite and PostgreSQL must differ, and why: the one place that knows both engines.

`GATEHOUSE_DATABASE` is a file path (SQLite, the embedded default) or a `postgresql://` URL
(several app hosts on one database). models.py holds the handle (`db`, a Peewee proxy);
`open_database` here points it at the engine. Everything else writes one SQL for both:

- Placeholders: hand-written statements use `?`; models.execute() gives the engine's own
  (Peewee's `param`: `?` for sqlite3, `%s` for psycopg), once per statement. Where a function
  differs (group_concat vs string_agg), the statement is written once per engine and chosen
  by models.engine().
- `"user"` is quoted in hand-written SQL: a reserved word on PostgreSQL, a plain name on SQLite.
- Booleans and timestamps go through Peewee fields (BOOLEAN/TIMESTAMP on PostgreSQL,
  INTEGER/TEXT on SQLite); hand-written SQL compares them only with bound values.
- Write transactions: `db.atomic("IMMEDIATE")` marks a read-then-write (is the name taken?
  is the code still unused?). SQLite's BEGIN IMMEDIATE takes the database's single write lock
  up front, after waiting its turn in a queue in front of it (`SqliteFileDatabase`: SQLite's
  own wait sleeps in steps of up to 100 ms). PostgreSQL has no such lock, so its BEGIN
  IMMEDIATE here is a plain BEGIN plus one transaction-scoped advisory lock (`WRITER_LOCK`):
  those transactions run one at a time across every host, as they do on one SQLite file; other
  transactions do not wait for it.
- Isolation: PostgreSQL runs at READ COMMITTED, its default. The single-use claims are
  compare-and-set UPDATEs (`... WHERE used_at IS NULL`, then the row count), which PostgreSQL
  re-checks on the newest row version, so exactly one of concurrent claims wins, as on SQLite.
- Waiting: SQLite waits `busy_timeout` ms for a turn in the write queue, then as long for the
  write lock; PostgreSQL `lock_timeout` ms for any lock (both GATEHOUSE_BUSY_TIMEOUT_MS). That
  wait is the bounded retry; past it, or on a deadlock or serialization failure, the request
  is answered 503 + Retry-After (`is_busy`).
  The request itself is never re-run: its earlier transactions may have committed.
- Connections: each worker keeps one. A PostgreSQL server can drop it (restart, failover);
  the request that finds out gets a 503, and the next one opens a new connection (app.py).
- Upkeep: the WAL checkpoint (in the background in each gunicorn worker, `Checkpointer`),
  file modes and `db backup` are SQLite's; PostgreSQL's own tools (autovacuum, pg_dump) do
  that work there.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from peewee import Database, OperationalError, PostgresqlDatabase

from models import PRAGMAS, PrivateSqliteDatabase, is_sqlite_file, use_database

POSTGRESQL = "postgresql://"  # the scheme libpq, psycopg and Peewee all read as a URL
# pg_advisory_xact_lock key of the write transactions: any fixed 64-bit number, "Gatehous".
WRITER_LOCK = 0x4761_7465_686F_7573
WRITER_QUEUE = "-writer"  # beside a SQLite file: the queue of its write transactions
QUEUE_PAUSES = (0.000_05, 0.000_1)  # seconds between tries for the queue: first, longest
QUEUE_BUSY = "database is locked (the write queue)"  # is_busy() reads it as SQLite's own
CHECKPOINT_PAUSES = (0.02, 1.0)  # seconds between background checkpoints: writes seen, idle
BACKSTOP_PAGES = 4000  # with a Checkpointer, a commit checkpoints itself only past this WAL
# SQLSTATEs that mean "try again": serialization_failure, deadlock_detected, lock_not_available,
# and the server shutting down or starting (admin_shutdown, crash_shutdown, cannot_connect_now).
RETRY_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}


def is_postgresql_url(target: str) -> bool:
    """Whether GATEHOUSE_DATABASE names a PostgreSQL server rather than a SQLite file."""
    return target.startswith(POSTGRESQL)


def url_problem(url: str) -> str | None:
    """Why GATEHOUSE_DATABASE cannot be used, or None: a file path, or a `postgresql://` URL
    (TCP, or the Unix socket form `postgresql:///DATABASE?host=/run/postgresql`)."""
    if not is_postgresql_url(url):
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
            return "must be a SQLite file path or a postgresql:// URL"
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid postgresql:// URL ({exc})"
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        return "must name one database: postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if not parts.hostname and not socket_dir.startswith("/"):
        return "needs a host: postgresql://HOST:PORT/DATABASE or postgresql:///DATABASE?host=/run/postgresql"
    if port is not None and not 1 <= port <= 65535:
        return "port must be 1 to 65535"
    return None


def display(target: str) -> str:
    """GATEHOUSE_DATABASE as safe to print: a URL's password is replaced by `***`."""
    if not is_postgresql_url(target):
        return target
    hidden = re.sub(r"^(\w+://[^:/@]*):[^@]*@", r"\1:***@", target)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", hidden)


class PostgresDatabase(PostgresqlDatabase):
    """Peewee's PostgreSQL database (psycopg 3), with the write transactions described above."""

    def __init__(self, url: str, lock_timeout_ms: int) -> None:
        self.lock_timeout_ms = lock_timeout_ms
        super().__init__(url, prefer_psycopg3=True)

    def _connect(self):
        conn = super()._connect()  # autocommit; Peewee issues BEGIN for transactions
        conn.execute(f"SET lock_timeout = {int(self.lock_timeout_ms)}")
        conn.execute("SET TIME ZONE 'UTC'")  # now() and friends agree with the stored UTC
        return conn

    def begin(self, lock: str | None = None) -> None:
        # "IMMEDIATE" is SQLite's name for "take the write lock now"; see the module docstring.
        super().begin(None if lock == "IMMEDIATE" else lock)
        if lock == "IMMEDIATE":
            try:
                self.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            except BaseException:
                # Peewee has not entered the transaction yet, so nobody else would end it:
                # the connection would stay "aborted" for every later request of this worker.
                self.rollback()
                raise


class SqliteFileDatabase(PrivateSqliteDatabase):
    """A SQLite file (models.PrivateSqliteDatabase) whose write transactions queue for the
    write lock: a waiting writer takes it within 0.1 ms of its release.

    SQLite's own wait for a taken write lock sleeps and retries after 1, 2, 5, 10, 15, 20, 25,
    25, 25, 50, 50, 100 ms (its default busy handler): behind a commit of a millisecond the
    next writer can sleep tens of them, while the worker that held the lock takes it again
    for its next request. Write transactions here (IMMEDIATE) first take an exclusive lock of
    a file beside the database (`<database>-writer`), retrying every 50-100 µs (the threads
    of one process take turns on a lock in front of it, so one of them retries), for at most
    busy_timeout: past it, "database is locked", answered 503 like SQLite's own (`is_busy`).
    SQLite's lock still decides; this is only a queue in front of it, as WRITER_LOCK is on
    PostgreSQL (a write outside it, an autocommit statement or another program, waits as
    before). Measured in bench/notes.md (session 5): code exchanges at concurrency 8 went
    from 63% to 83-87% of the INSERT floor's throughput, p99 from 66 to 12-15 ms.
    """

    def __init__(self, path: str, pragmas: dict) -> None:
        super().__init__(path, pragmas=pragmas)
        self.busy_timeout_s = pragmas["busy_timeout"] / 1000
        self.is_file = is_sqlite_file(path)  # only a file has a queue file and a WAL to copy
        self._queue = threading.local()  # this thread's _QueueFile, and whether it holds it
        self._threads = (os.getpid(), threading.Lock())  # this process's threads queue here

    def begin(self, lock: str | None = None) -> None:
        queued = lock == "IMMEDIATE" and self._take_turn()
        try:
            super().begin(lock)
        except BaseException:
            if queued:
                self._end_turn()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._end_turn()

    def _take_turn(self) -> bool:
        """Hold the queue file's lock; False for a database that is not a file."""
        if not self.is_file:
            return False
        pid, queue = os.getpid(), self._queue
        if getattr(queue, "pid", None) != pid:  # one opened before a fork is the parent's
            queue.file = _QueueFile(self.database + WRITER_QUEUE)
            queue.pid, queue.held = pid, False
        if self._threads[0] != pid:  # one copied by fork may be held by a parent's thread
            self._threads = (pid, threading.Lock())
        # Threads of one process wait on a lock, which hands on at once; one of them at a time
        # polls the file (its lock is what excludes the other processes, and threads too).
        threads, deadline = self._threads[1], time.monotonic() + self.busy_timeout_s
        if not threads.acquire(timeout=self.busy_timeout_s):
            raise OperationalError(QUEUE_BUSY)
        pause = QUEUE_PAUSES[0]
        while True:
            try:
                fcntl.flock(queue.file.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                queue.held, queue.threads = True, threads
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    threads.release()
                    raise OperationalError(QUEUE_BUSY) from None
                time.sleep(pause)
                pause = min(pause * 2, QUEUE_PAUSES[1])

    def _end_turn(self) -> None:
        queue = self._queue
        if getattr(queue, "held", False) and queue.pid == os.getpid():
            queue.held = False
            fcntl.flock(queue.file.fd, fcntl.LOCK_UN)
            queue.threads.release()

    def checkpoint_in_background(self) -> Checkpointer | None:
        """Start this process's Checkpointer; from then on this process's connections leave
        the checkpoint to it up to BACKSTOP_PAGES. None for a database that is not a file."""
        if not self.is_file:
            return None
        backstop = ("wal_autocheckpoint", BACKSTOP_PAGES)
        self._pragmas = [*(p for p in self._pragmas if p[0] != backstop[0]), backstop]
        if not self.is_closed():  # this thread's connection, opened before (create_app)
            self.connection().execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        checkpointer = Checkpointer(self.database)
        checkpointer.start()
        return checkpointer


class Checkpointer(threading.Thread):
    """Copies a SQLite file's WAL into the database in the background, so no request waits
    for it (gunicorn.conf.py starts one in each worker).

    Left to itself, SQLite checkpoints inside the commit that takes the WAL past 1,000 pages
    (wal_autocheckpoint). In a large database that commit writes hundreds of pages spread
    over the file and fsyncs it, while the next writers wait in the queue. With this thread,
    a write transaction's p99 fell from 13-14 ms to 6 ms at a million grants, and from 4.3 to
    2.4 ms in an empty database (bench/notes.md, session 6). A PASSIVE checkpoint waits for
    no reader or writer: it copies what no reader still needs, and the next writer starts the
    WAL over once all of it is copied. It runs every 20 ms while writes come (each run's
    fsync delays the commits that meet it, so short runs beat long ones), and backs off to
    once a second while none do. The commits of this process checkpoint themselves only past
    BACKSTOP_PAGES, in case this thread falls behind or stops.
    """

    def __init__(self, path: str) -> None:
        super().__init__(name="gatehouse-checkpoint", daemon=True)
        self.path = path
        self.stopping = threading.Event()

    def run(self) -> None:
        # mode=rw: a database removed under a running server is not created again, empty.
        uri = Path(self.path).absolute().as_uri() + "?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            try:
                # FULL: the database file is fsynced before the WAL it was copied from is reused.
                conn.execute("PRAGMA synchronous = FULL")
                self._loop(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            logging.getLogger(__name__).warning(
                "WAL checkpoints of %s stopped (%s); commits checkpoint past %d pages",
                self.path,
                exc,
                BACKSTOP_PAGES,
            )

    def _loop(self, conn: sqlite3.Connection) -> None:
        pause, seen = CHECKPOINT_PAUSES[0], None
        while not self.stopping.wait(pause):
            _busy, wal_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            pause = next_pause(pause, wrote=wal_pages != seen)
            seen = wal_pages

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def next_pause(pause: float, wrote: bool) -> float:
    """The Checkpointer's next pause: the shortest while the WAL changes, doubling up to the
    longest while it does not."""
    shortest, longest = CHECKPOINT_PAUSES
    return shortest if wrote else min(pause * 2, longest)


class _QueueFile:
    """One thread's descriptor of the queue file (0600, like the database beside it), closed
    with the thread's locals: a development server starts a thread per request."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __del__(self) -> None:
        os.close(self.fd)


def open_database(target: str, busy_timeout_ms: int = PRAGMAS["busy_timeout"]) -> Database:
    """Point models.db at `target`: a SQLite file, or a PostgreSQL server by URL."""
    if is_postgresql_url(target):
        database = PostgresDatabase(target, lock_timeout_ms=busy_timeout_ms)
    else:
        pragmas = {**PRAGMAS, "busy_timeout": busy_timeout_ms}
        database = SqliteFileDatabase(target, pragmas)
    use_database(database)
    return database


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "busy or briefly away, try again" on either engine.

    Peewee re-raises a driver's error as its own class with the original as the first argument
    (and as __context__); psycopg's transaction-rollback errors reach us unwrapped. A psycopg
    error without a SQLSTATE, or of class 08, is a lost connection (a restarted server, a
    failover): the next request reconnects (app.py), so it is worth retrying too.
    """
    for error in (exc, exc.__context__, *exc.args[:1]):
        if isinstance(error, psycopg.Error):
            state = error.sqlstate
            return state is None or state in RETRY_SQLSTATES or state.startswith("08")
    text = str(exc)
    return "database is locked" in text or "database is busy" in text
