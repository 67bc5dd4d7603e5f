"""PostgreSQL for the test matrix: the server given by GATEHOUSE_TEST_POSTGRESQL, databases on it.

GATEHOUSE_TEST_POSTGRESQL is the URL of a server where the tests may create databases
(`make test` starts a throwaway one with scripts/test-postgresql when PostgreSQL is installed;
.ci/run always does). Each pytest process migrates one database of its own once and empties
its tables before each test (`reset`); `fresh_database` gives a test (or a multi-host live
test) a new migrated database of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from models import MODELS, CacheVersion, placeholders
from oauth.dialect import is_postgresql_url
from oauth.ops.migrations import upgrade

VARIABLE = "GATEHOUSE_TEST_POSTGRESQL"
PREFIX = "gatehouse_test_"


def server_url() -> str | None:
    """The URL of the test server, or None when the PostgreSQL half is not to run."""
    url = os.environ.get(VARIABLE, "").strip()
    return url if url.startswith("postgresql://") else None


def why_skipped() -> str:
    """The one line pytest prints when the PostgreSQL half does not run."""
    value = os.environ.get(VARIABLE, "").strip()
    if value:
        return f"PostgreSQL half skipped: {VARIABLE}={value} is not a postgresql:// URL"
    return (
        f"PostgreSQL half skipped: {VARIABLE} is unset (make test starts a throwaway server "
        "when PostgreSQL is installed: apt-get install postgresql)"
    )


def database_url(server: str, name: str) -> str:
    """`server`'s URL with its database replaced by `name`."""
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path="/" + name))


def create_database(server: str, name: str | None = None) -> str:
    """Create an empty database on `server` (dropping one of that name first); its URL."""
    name = name or PREFIX + secrets.token_hex(4)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server, name)


def drop_database(url: str) -> None:
    """Drop the database `url` names (connections to it are ended first)."""
    forget(url)
    name = urlsplit(url).path.lstrip("/")
    server = os.environ.get(VARIABLE) or database_url(url, "postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fresh_database() -> str:
    """A new migrated database on the test server (the caller drops it: drop_database)."""
    server = server_url()
    if server is None:
        raise RuntimeError(why_skipped())
    url = create_database(server)
    upgrade(url)
    return url


def engines() -> list[str]:
    """The engines a module-scoped fixture runs on: PostgreSQL too when a server is given."""
    return ["sqlite", "postgresql"] if server_url() else ["sqlite"]


@contextlib.contextmanager
def database_for(engine: str) -> Iterator[str | None]:
    """None for SQLite (the live server makes its file), else a fresh database, dropped after."""
    if engine == "sqlite":
        yield None
        return
    url = fresh_database()
    try:
        yield url
    finally:
        drop_database(url)


# Emptying the tables and restarting their ids: DELETE and setval take ~2 ms where TRUNCATE
# takes ~40 (it replaces every table's files), on a connection kept per database.
# cache_version keeps its row and keeps counting: the workers' caches (clients, discovery,
# JWKS; migrations 9, 10) know a database by its name and these numbers, so they must never
# go back to a value they saw.
_NAMES = [model._meta.table_name for model in MODELS if model is not CacheVersion]
_DELETES = " ".join(f'DELETE FROM "{name}";' for name in _NAMES)  # noqa: S608 - model names
_IDS = " ".join(
    f"SELECT setval(pg_get_serial_sequence('\"{model._meta.table_name}\"', 'id'), 1, false);"
    for model in MODELS
    if model._meta.auto_increment
)
RESET = f"BEGIN; {_DELETES} {_IDS} COMMIT;"
_resetters: dict[str, psycopg.Connection] = {}


def reset(url: str) -> None:
    """Empty every table of the models and restart their ids (the schema version stays)."""
    conn = _resetters.get(url)
    if conn is None or conn.closed or conn.broken:
        conn = _resetters[url] = psycopg.connect(url, autocommit=True)
        conn.execute("SET lock_timeout = 10000")  # a connection a test leaked fails loudly
    conn.execute(RESET)


def forget(url: str) -> None:
    """Close the reset connection of `url` (before its database is dropped)."""
    conn = _resetters.pop(url, None)
    if conn is not None:
        conn.close()


def connect(database: str) -> sqlite3.Connection | psycopg.Connection:
    """A plain driver connection to `database` (a SQLite path or a URL), in autocommit: what
    another process sees. run() executes statements written with `?` placeholders on it."""
    if is_postgresql_url(database):
        return psycopg.connect(database, autocommit=True)
    return sqlite3.connect(database, isolation_level=None)


def run(conn: sqlite3.Connection | psycopg.Connection, sql: str, params: tuple = ()):
    """Execute `sql`, written with `?` placeholders, on a connection from connect()."""
    style = "?" if isinstance(conn, sqlite3.Connection) else "%s"
    return conn.execute(placeholders(sql, style), params)
