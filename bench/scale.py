"""p99 of introspection and code exchange with a million stored grants vs an almost empty DB."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from bench import fixtures, server, wrk
from bench.server import OUT, fresh
from bench.wrk import Result, Target
from oauth import crypto
from oauth.ops.migrations import upgrade

CONCURRENCY = 8
CHUNK = 100_000


@dataclass
class Scale:
    """What the big-database run found."""

    million: int
    concurrency: int
    empty: dict[str, Result] = field(default_factory=dict)
    big: dict[str, Result] = field(default_factory=dict)
    size_empty: int = 0
    size_big: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # bytes per table/index (dbstat)


def _size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path.stat().st_size


def _table_sizes(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
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


def run(workers: int, threads: int, million: int, seconds: float) -> Scale:
    """Measure on a small database, add `million` grants, measure again."""
    database = fresh("scale.sqlite3")
    upgrade(str(database))
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
    result = Scale(million, CONCURRENCY)
    result.size_empty = _size(database)

    def targets(phase: str, introspect: Path) -> dict[str, Target]:
        return {
            "introspection": Target("POST", "/oauth2/introspect", auth, introspect),
            "token: authorization_code": Target("POST", "/oauth2/token", auth, pools[phase]),
        }

    print(f"== {million:,} grants: empty database first", flush=True)
    log = OUT / "scale.log"
    result.empty = _serve_and_measure(
        database, port, workers, threads, targets("empty", small), seconds, log
    )
    print(f"   writing {million:,} grants (family + access + refresh token each)", flush=True)
    conn = fixtures.connect(database)
    conn.execute("PRAGMA synchronous=OFF")  # bulk load only; the server keeps its own pragmas
    for start in range(0, million, CHUNK):
        fixtures.mint_grants(conn, setup, f"scale-bulk-{start}", min(CHUNK, million - start))
    conn.close()
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
