"""Rows the benchmark needs, written straight into a migrated Gatehouse database.

Codes and refresh tokens are single-use, so each measured point gets its own pool, minted
beforehand with raw `executemany` in one transaction (a million rows take seconds). Plaintexts
are derived from a seed so pools can be rebuilt without keeping them. The database is a SQLite
file or a PostgreSQL URL (`Connection`: one SQL text for both, `?` placeholders).
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from models import placeholders
from oauth import crypto
from oauth.dialect import is_postgresql_url
from oauth.rules import pkce

REDIRECT_URI = "http://127.0.0.1:9/callback"
VERIFIER = "bench-verifier-" + "v" * 40  # one PKCE pair for every minted code
SCOPE = "profile"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ms(when: datetime) -> int:
    """How the grant tables store a time (models.UtcMillisField): integer ms, UTC."""
    return round(when.replace(tzinfo=UTC).timestamp() * 1000)


def secret(kind: str, label: str, n: int) -> str:
    """A deterministic, well-formed `<kind>_<43 chars>` secret for row `n` of pool `label`."""
    digest = hashlib.sha256(f"{label}:{n}".encode()).digest()
    return f"{kind}_{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


@dataclass
class Setup:
    """The client and user every pool belongs to, and how to authenticate as the client."""

    client_pk: int
    client_id: str
    client_secret: str
    secret_pk: int
    user_pk: int
    issuer: str

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


class Connection:
    """A plain driver connection (sqlite3 or psycopg) in autocommit; statements use `?`."""

    def __init__(self, database: Path | str) -> None:
        self.postgresql = is_postgresql_url(str(database))
        if self.postgresql:
            self.raw: sqlite3.Connection | psycopg.Connection = psycopg.connect(
                str(database), autocommit=True
            )
        else:
            self.raw = sqlite3.connect(database, isolation_level=None)
            self.raw.execute("PRAGMA journal_mode=wal")
            self.raw.execute("PRAGMA foreign_keys=ON")

    def _sql(self, sql: str) -> str:
        return placeholders(sql, "%s" if self.postgresql else "?")

    def execute(self, sql: str, params: tuple = ()):
        return self.raw.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[tuple]) -> None:
        self.raw.cursor().executemany(self._sql(sql), rows)

    def insert(self, sql: str, params: tuple) -> int:
        """INSERT one row; its new id (psycopg reports it only through RETURNING)."""
        if self.postgresql:
            return self.execute(sql + " RETURNING id", params).fetchone()[0]
        return self.execute(sql, params).lastrowid

    def ids_written(self, table: str) -> None:
        """After rows with explicit ids: PostgreSQL's identity sequence must start past them."""
        if self.postgresql:  # `table` is one of the schema's names, never input
            sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"  # noqa: S608
            self.execute(sql)

    def close(self) -> None:
        self.raw.close()


def connect(database: Path | str) -> Connection:
    return Connection(database)


def _client_rows(conn: Connection, client_id: str, id_token_alg: str) -> tuple[int, str, int]:
    """A vetted confidential client (all three grants) and its secret: (pk, secret, secret pk)."""
    now = str(_now())
    value, prefix, digest = crypto.new_client_secret()
    client_pk = conn.insert(
        "INSERT INTO oauth_client (client_id, name, client_type, token_endpoint_auth_method,"
        " redirect_uris, grant_types, scope, vetted, id_token_signed_response_alg,"
        " created_at, updated_at)"
        " VALUES (?, 'Bench', 'confidential', 'client_secret_basic', ?, ?, '', ?, ?, ?, ?)",
        (
            client_id,
            f'["{REDIRECT_URI}"]',
            '["authorization_code", "refresh_token", "client_credentials"]',
            True,
            id_token_alg,
            now,
            now,
        ),
    )
    secret_pk = conn.insert(
        "INSERT INTO client_secret (client_id, prefix, secret_hash, last6, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (client_pk, prefix, digest, value[-6:], now),
    )
    return client_pk, value, secret_pk


def base_rows(conn: Connection, issuer: str) -> Setup:
    """A vetted confidential client (all three grants) with a secret, and a user."""
    now = str(_now())
    conn.execute("BEGIN")
    client_pk, value, secret_pk = _client_rows(conn, "bench-client", "RS256")
    user_pk = conn.insert(
        'INSERT INTO "user" (username, sub, email, name, created_at, updated_at)'
        " VALUES ('bench', 'bench-sub', 'bench@example.com', 'Bench', ?, ?)",
        (now, now),
    )
    conn.execute("COMMIT")
    return Setup(client_pk, "bench-client", value, secret_pk, user_pk, issuer)


def es256_client(conn: Connection, setup: Setup) -> Setup:
    """A second client like the first whose id_tokens are ES256 (same user and issuer)."""
    conn.execute("BEGIN")
    client_pk, value, secret_pk = _client_rows(conn, "bench-client-es256", "ES256")
    conn.execute("COMMIT")
    return Setup(client_pk, "bench-client-es256", value, secret_pk, setup.user_pk, setup.issuer)


def mint_codes(
    conn: Connection, setup: Setup, label: str, count: int, scope: str = SCOPE
) -> list[str]:
    """`count` fresh authorization codes; returns their token-request bodies."""
    now = _now()
    challenge = pkce.s256(VERIFIER)
    rows, bodies = [], []
    for n in range(count):
        code = secret(crypto.AUTHORIZATION_CODE, label, n)
        expires = _ms(now + timedelta(hours=2))
        rows.append(
            (crypto.sha256(code), setup.client_pk, setup.user_pk, REDIRECT_URI, scope,
             setup.issuer, challenge, _ms(now), _ms(now), expires)
        )  # fmt: skip
        bodies.append(
            urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": VERIFIER,
                }
            )
        )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO authorization_code (code_hash, client_id, user_id, redirect_uri, scope,"
        " audience, code_challenge, code_challenge_method, auth_time, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'S256', ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    return bodies


def mint_grants(
    conn: Connection, setup: Setup, label: str, count: int, refresh: bool = True
) -> tuple[list[str], list[str]]:
    """`count` token families, each with one access token (and one refresh token).

    Returns (access tokens, refresh tokens) in plaintext. Rows get explicit ids so the
    tokens can point at their families without a round trip per row.
    """
    now = _now()
    (start,) = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM token_family").fetchone()
    families, access_rows, refresh_rows, access, refreshes = [], [], [], [], []
    for n in range(count):
        fid = start + n
        families.append(
            (fid, setup.client_pk, setup.user_pk, setup.secret_pk, SCOPE, setup.issuer,
             _ms(now), _ms(now), _ms(now + timedelta(days=90)))
        )  # fmt: skip
        token = secret(crypto.ACCESS_TOKEN, label, n)
        access.append(token)
        access_rows.append(
            (crypto.sha256(token), fid, SCOPE, _ms(now), _ms(now + timedelta(days=1)))
        )  # fmt: skip
        if refresh:
            token = secret(crypto.REFRESH_TOKEN, label, n)
            refreshes.append(token)
            expires = _ms(now + timedelta(days=30))
            refresh_rows.append((crypto.sha256(token), fid, SCOPE, _ms(now), expires))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO token_family (id, client_id, user_id, client_secret_id, grant_type, scope,"
        " audience, auth_time, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, 'authorization_code', ?, ?, ?, ?, ?)",
        families,
    )
    conn.executemany(
        "INSERT INTO access_token (token_hash, family_id, scope, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        access_rows,
    )
    conn.executemany(
        "INSERT INTO refresh_token (token_hash, family_id, scope, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        refresh_rows,
    )
    conn.ids_written("token_family")
    conn.execute("COMMIT")
    return access, refreshes


def write_pool(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path
