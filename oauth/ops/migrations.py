"""The migration runner: migrations.sql's `-- migrate: N` blocks over PRAGMA user_version.

The schema lives in migrations.sql (append-only blocks); `flask --app app db upgrade` and the
tests apply it here, with plain sqlite3 (no Flask, no Peewee).
"""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from models import private_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations.sql"  # beside app.py

_BLOCK = re.compile(r"^-- migrate: (\d+)\s*$", re.MULTILINE)


def parse_migrations(text: str) -> list[tuple[int, str]]:
    """Split migrations.sql into (number, sql) blocks, in file order."""
    parts = _BLOCK.split(text)
    return [(int(parts[i]), parts[i + 1]) for i in range(1, len(parts), 2)]


def unhex(value: str | None) -> bytes | None:
    """Hex text -> bytes (SQLite 3.40 has no unhex()): block 7 moves digests to blobs."""
    return None if value is None else bytes.fromhex(value)


def ms_since_epoch(value: str | None) -> int | None:
    """Stored naive-UTC ISO text -> integer milliseconds since the epoch (block 7).

    The same integer models.UtcMillisField writes for that datetime.
    """
    if value is None:
        return None
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def apply_migrations(path: str, text: str) -> list[int]:
    """Apply every block above PRAGMA user_version; return the numbers applied.

    Each block runs in its own BEGIN IMMEDIATE ... COMMIT inside the script, because
    sqlite3.executescript() commits any open transaction before it runs.
    """
    applied = []
    private_database(path)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    # The data-moving functions blocks may call (see migrations.sql, block 7).
    conn.create_function("unhex", 1, unhex, deterministic=True)
    conn.create_function("ms_since_epoch", 1, ms_since_epoch, deterministic=True)
    try:
        conn.execute("PRAGMA journal_mode=wal")
        # Off (SQLite's default, said out loud): a block that rebuilds a table drops the old
        # one, and with foreign keys on that would cascade into its children.
        conn.execute("PRAGMA foreign_keys=OFF")
        for number, sql in parse_migrations(text):
            if number <= schema_version(conn):
                continue
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied.append(number)
    finally:
        conn.close()
    return applied


def newest_version() -> int:
    """The number of the last block in migrations.sql."""
    return max(n for n, _ in parse_migrations(MIGRATIONS.read_text()))


def upgrade(path: str) -> list[int]:
    """Apply pending migrations to the database at `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return apply_migrations(path, MIGRATIONS.read_text())
