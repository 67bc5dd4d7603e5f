"""The SQL alone: the floor INSERT's statements and a code exchange's, run through `sqlite3`
with no Flask and no Peewee around them.

`python -m bench.instructions --only "sql: code exchange"` counts what SQLite itself costs
per request, so the rest of an endpoint's cost is known to be Python's (bench/notes.md,
session 6). The statements are the app's own (oauth/store.py, models.py) and the floor's as
Peewee renders them, on the same schemas and the same PRAGMAS.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench import fixtures, floor_app
from bench.server import fresh_database
from models import CLIENT_AUTH_VERSIONS_SQL, PRAGMAS, AccessToken, RefreshToken
from oauth import crypto, store
from oauth.ops.migrations import upgrade

NAMES = ("sql: floor INSERT", "sql: code exchange")
DAY_MS = 86_400_000


def _connect(database: str) -> sqlite3.Connection:
    conn = sqlite3.connect(database, isolation_level=None)
    for name, value in PRAGMAS.items():
        conn.execute(f"PRAGMA {name} = {value}")
    return conn


def floor_insert() -> Callable[[int], None]:
    """BEGIN, the floor's INSERT (as Peewee renders it), COMMIT."""
    database = fresh_database("sql-floor", None)
    floor_app.seed(database)
    now = datetime.now(UTC).replace(tzinfo=None)
    sql, _ = floor_app.Item.insert(key="", audience="", created_at=now).sql()
    conn = _connect(database)

    def call(i: int) -> None:
        conn.execute("BEGIN")
        conn.execute(sql, (os.urandom(32).hex(), "http://127.0.0.1", str(now)))
        conn.execute("COMMIT")

    return call


def code_exchange(count: int) -> Callable[[int], None]:
    """A code exchange's statements: the cache versions, then in one write transaction the
    code's claim, the family, the access token and the refresh token."""
    database = fresh_database("sql-code", None)
    upgrade(database)
    conn = fixtures.connect(database)
    setup = fixtures.base_rows(conn, "http://127.0.0.1:9")
    fixtures.mint_codes(conn, setup, "sql-only", count)
    conn.close()
    digests = [
        crypto.sha256(fixtures.secret(crypto.AUTHORIZATION_CODE, "sql-only", n))
        for n in range(count)
    ]
    family = store.NEW_FAMILY["sqlite"]
    conn = _connect(database)

    def call(i: int) -> None:
        now = int(time.time() * 1000)
        conn.execute(CLIENT_AUTH_VERSIONS_SQL).fetchone()
        conn.execute("BEGIN IMMEDIATE")
        code = conn.execute(store.CLAIM_CODE["sqlite"], (now, digests[i])).fetchone()
        family_id, scope = code[-1], code[4]
        conn.execute(
            family,
            (family_id, setup.client_pk, setup.user_pk, setup.secret_pk, "authorization_code",
             scope, setup.issuer, None, code[10], now, now + 30 * DAY_MS),
        )  # fmt: skip
        for model in (AccessToken, RefreshToken):
            token = (os.urandom(32), family_id, scope, now, now + DAY_MS)
            conn.execute(store.NEW_TOKEN[model], token)
        conn.execute("COMMIT")

    return call


def call_for(name: str, count: int) -> Callable[[int], None]:
    """The call measured as `name` (one of NAMES), set up for `count` requests."""
    return floor_insert() if name == "sql: floor INSERT" else code_exchange(count)
