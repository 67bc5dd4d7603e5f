"""p99 of introspection and code exchange with a million stored grants vs an almost empty DB, on
SQLite or on PostgreSQL (its size from pg_database_size and pg_relation_size)."""

from __future__ import annotations

import os
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from bench import fixtures, server, wrk
from bench.server import OUT, fresh_database
from bench.wrk import Result, Target
from oauth import crypto
from oauth.dialect import is_postgresql_url
from oauth.ops.migrations import upgrade

CONCURRENCY = 8
CHUNK = 100_000


@dataclass
class Scale:
    """What the big-database run found."""

    million: int
    concurrency: int
    engine: str = "SQLite"
    empty: dict[str, Result] = field(default_factory=dict)
    big: dict[str, Result] = field(default_factory=dict)
    size_empty: int = 0
    size_big: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # bytes per table/index (dbstat)


# PostgreSQL's own measures: the whole database, and the 12 largest tables and indexes.
PG_SIZE_SQL = "SELECT pg_database_size(current_database())"
PG_TABLES_SQL = (
    "SELECT relname, pg_relation_size(oid) FROM pg_class"
    " WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'i')"
    " ORDER BY 2 DESC LIMIT 12"
)


def _size(database: str) -> int:
    conn = fixtures.connect(database)
    try:
        if conn.postgresql:
            conn.execute("VACUUM")  # the visibility map and free space map, as autovacuum would
            return conn.execute(PG_SIZE_SQL).fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return Path(database).stat().st_size


def _flush(database: str) -> None:
    """Put the bulk load on disk before the server starts, as the server's own writes
    (synchronous=FULL) always are. Loaded without fsync, 250 MB would wait in the page cache
    for the server's first checkpoint to flush them: a stall of ~100 ms in the first second of
    the code exchanges, which made their 5-second p99 (bench/notes.md, session 6).
    PostgreSQL's bulk load only defers its WAL flush by a fraction of a second."""
    if is_postgresql_url(database):
        return
    for path in (database, database + "-wal"):
        if os.path.exists(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _table_sizes(database: str) -> dict[str, int]:
    if is_postgresql_url(database):
        conn = fixtures.connect(database)
        try:
            return dict(conn.execute(PG_TABLES_SQL).fetchall())
        finally:
            conn.close()
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        return {}  # SQLite built without the dbstat table
    finally:
        conn.close()
    return {name: size for name, size in sorted(rows, key=lambda r: -r[1])[:12]}


def _serve_and_measure(database, port, workers, threads, targets, seconds, log) -> dict:
    srv = server.start("app:create_app()", database, log, workers, threads, "/healthz", port=port)
    try:
        wrk.run(srv.url, targets["introspection"], CONCURRENCY, 1)  # warm up
        return {name: wrk.run(srv.url, t, CONCURRENCY, seconds) for name, t in targets.items()}
    finally:
        srv.stop()


def run(
    workers: int,
    threads: int,
    million: int,
    seconds: float,
    postgresql: str | None = None,
    engine: str = "SQLite",
) -> Scale:
    """Measure on a small database, add `million` grants, measure again (on `postgresql`, a
    server URL, when given)."""
    database = fresh_database("scale" if postgresql is None else "scale-pg", postgresql)
    upgrade(database)
    port = server.free_port()
    conn = fixtures.connect(database)
    setup = fixtures.base_rows(conn, f"http://127.0.0.1:{port}")
    per_point = int(seconds * 3000) + 2000
    auth = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": setup.basic()}
    access, _ = fixtures.mint_grants(conn, setup, "scale-small", 20_000, refresh=False)
    pools = {}
    for phase in ("empty", "big"):
        codes = fixtures.mint_codes(conn, setup, f"scale-code-{phase}", per_point)
        pools[phase] = fixtures.write_pool(OUT / f"scale-code-{phase}.txt", codes)
    conn.close()
    small = fixtures.write_pool(OUT / "scale-introspect-empty.txt", [f"token={t}" for t in access])
    result = Scale(million, CONCURRENCY, engine)
    result.size_empty = _size(database)

    def targets(phase: str, introspect: Path) -> dict[str, Target]:
        return {
            "introspection": Target("POST", "/oauth2/introspect", auth, introspect),
            "token: authorization_code": Target("POST", "/oauth2/token", auth, pools[phase]),
        }

    print(f"== {million:,} grants, {engine}: empty database first", flush=True)
    log = OUT / f"scale-{engine.lower()}.log"
    result.empty = _serve_and_measure(
        database, port, workers, threads, targets("empty", small), seconds, log
    )
    print(f"   writing {million:,} grants (family + access + refresh token each)", flush=True)
    conn = fixtures.connect(database)
    # bulk load only; the server keeps its own settings
    conn.execute("SET synchronous_commit = off" if conn.postgresql else "PRAGMA synchronous=OFF")
    for start in range(0, million, CHUNK):
        fixtures.mint_grants(conn, setup, f"scale-bulk-{start}", min(CHUNK, million - start))
    conn.close()
    _flush(database)
    result.size_big = _size(database)
    result.tables = _table_sizes(database)
    rng = random.Random(6)
    sample = []
    for _ in range(20_000):
        start = rng.randrange(0, million, CHUNK)
        n = rng.randrange(min(CHUNK, million - start))
        sample.append(f"token={fixtures.secret(crypto.ACCESS_TOKEN, f'scale-bulk-{start}', n)}")
    big = fixtures.write_pool(OUT / "scale-introspect-big.txt", sample)
    result.big = _serve_and_measure(
        database, port, workers, threads, targets("big", big), seconds, log
    )
    for name in result.big:
        print(f"   {name}: p99 {result.empty[name].p99_ms:.2f} ms empty, "
              f"{result.big[name].p99_ms:.2f} ms with {million:,}", flush=True)  # fmt: skip
    return result
