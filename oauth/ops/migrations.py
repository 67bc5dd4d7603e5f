"""The migration runner: migrations.sql's `-- migrate: N` blocks over the schema version.

The schema lives in migrations.sql (append-only blocks); `flask --app app db upgrade` and the
tests apply it here, with the plain driver (sqlite3 or psycopg; no Flask, no Peewee). Where
the engines' SQL differs, a block carries both forms under `-- sqlite:` and `-- postgresql:`
lines and `for_engine` picks one; nothing is rewritten. The version is PRAGMA user_version on
SQLite and the one row of gatehouse_schema_version on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from models import private_database
from oauth.dialect import is_postgresql_url

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations.sql"  # beside app.py
ENGINES = ("sqlite", "postgresql")

_BLOCK = re.compile(r"^-- migrate: (\d+)\s*$", re.MULTILINE)
_FORM = re.compile(r"^-- (sqlite|postgresql):\s*$", re.MULTILINE)

# PostgreSQL's version row. `one` keeps the table to a single row.
VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS gatehouse_schema_version (
  one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  version INTEGER NOT NULL
);
INSERT INTO gatehouse_schema_version (version) VALUES (0) ON CONFLICT DO NOTHING;
"""


class MigrationError(ValueError):
    """migrations.sql is malformed (a block with one engine's form but not the other's)."""


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


def for_engine(number: int, sql: str, engine: str) -> str:
    """Block `number` as `engine` runs it: its shared statements, then that engine's form."""
    parts = _FORM.split(sql)
    forms: dict[str, str] = {}
    for name, form in zip(parts[1::2], parts[2::2], strict=True):
        if name in forms:
            raise MigrationError(f"block {number} has two `-- {name}:` forms")
        forms[name] = form
    if forms and set(forms) != set(ENGINES):
        missing = sorted(set(ENGINES) - set(forms))[0]
        raise MigrationError(f"block {number} has no `-- {missing}:` form")
    return parts[0] + forms.get(engine, "")


def schema_version(conn: sqlite3.Connection | psycopg.Connection) -> int:
    if isinstance(conn, sqlite3.Connection):
        return conn.execute("PRAGMA user_version").fetchone()[0]
    exists = conn.execute("SELECT to_regclass('gatehouse_schema_version')").fetchone()[0]
    if exists is None:  # a database no upgrade has touched yet
        return 0
    return conn.execute("SELECT version FROM gatehouse_schema_version").fetchone()[0]


def apply_migrations(path: str, text: str) -> list[int]:
    """Apply every block above PRAGMA user_version; return the numbers applied.

    Each block runs in its own BEGIN IMMEDIATE ... COMMIT inside the script, because
    sqlite3.executescript() commits any open transaction before it runs.
    """
    blocks = [(n, for_engine(n, sql, "sqlite")) for n, sql in parse_migrations(text)]
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
        for number, sql in blocks:
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


def apply_postgresql(url: str, text: str) -> list[int]:
    """Apply every block above gatehouse_schema_version on PostgreSQL; return those applied.

    PostgreSQL's DDL is transactional: each block and its version bump commit together or not
    at all. The version row is locked first, so hosts upgrading at once apply each block once.
    """
    blocks = [(n, for_engine(n, sql, "postgresql")) for n, sql in parse_migrations(text)]
    applied = []
    with psycopg.connect(url, autocommit=True) as conn:
        if schema_version(conn) >= max(n for n, _ in blocks):
            return []  # up to date: every host's start, and every test, reads only
        conn.execute(VERSION_TABLE)
        for number, sql in blocks:
            with conn.transaction():
                conn.execute("LOCK TABLE gatehouse_schema_version IN EXCLUSIVE MODE")
                if number <= schema_version(conn):
                    continue
                conn.execute(sql)  # no parameters: several statements in one round trip
                conn.execute("UPDATE gatehouse_schema_version SET version = %s", (number,))
            applied.append(number)
    return applied


def newest_version() -> int:
    """The number of the last block in migrations.sql."""
    return max(n for n, _ in parse_migrations(MIGRATIONS.read_text()))


def current_version(target: str) -> int:
    """The schema version of the database `target` (GATEHOUSE_DATABASE: a path or a URL)."""
    if is_postgresql_url(target):
        with psycopg.connect(target) as conn:
            return schema_version(conn)
    private_database(target)
    conn = sqlite3.connect(target)
    try:
        return schema_version(conn)
    finally:
        conn.close()


def upgrade(target: str) -> list[int]:
    """Apply pending migrations to the database `target` (a SQLite path or a postgresql:// URL)."""
    if is_postgresql_url(target):
        return apply_postgresql(target, MIGRATIONS.read_text())
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    return apply_migrations(target, MIGRATIONS.read_text())
