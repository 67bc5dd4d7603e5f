"""Migration 7 moves a populated version-6 database to the lean grant tables, and the grants
stored before it still behave exactly as they did: live tokens work, revoked ones stay revoked,
a rotated refresh token is still caught as reuse, a used code still revokes what it issued."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import psycopg
import pytest

from models import AccessToken, Client, DeviceCode, RefreshToken, TokenFamily, db, utcnow
from oauth import crypto
from oauth.grants.device_code import user_code_hash
from oauth.ops.migrations import MIGRATIONS, apply_migrations, apply_postgresql, parse_migrations
from oauth.rules.id_token import epoch
from tests.helpers import ISSUER, postgresql
from tests.helpers.common import basic, pkce_pair
from tests.helpers.tokens import REDIRECT_URI, redeem, refresh

NOW = utcnow()
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def blocks_up_to(version: int) -> str:
    """migrations.sql as it was at `version` (its blocks are append-only)."""
    return "".join(
        f"-- migrate: {n}\n{sql}"
        for n, sql in parse_migrations(MIGRATIONS.read_text())
        if n <= version
    )


def iso(when: datetime | None) -> str | None:
    """How version 6 stored a time (Peewee's DateTimeField text)."""
    return None if when is None else str(when)


class Version6:
    """Rows written the way version 6 wrote them: hex digests, ISO text times."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.plain: dict[str, str] = {}  # name -> plaintext of a stored secret

    def row(self, table: str, **values) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - test names
        return self.conn.execute(sql, list(values.values())).lastrowid

    def secret(self, name: str, kind: str) -> str:
        value, digest = crypto.new_secret(kind)  # version 6: 64 hex characters
        self.plain[name] = value
        return digest

    def family(self, client: int, user: int, revoked_at: datetime | None = None) -> int:
        return self.row(
            "token_family", client_id=client, user_id=user, grant_type="authorization_code",
            scope="openid profile", audience=ISSUER, auth_time=iso(NOW - HOUR),
            created_at=iso(NOW - HOUR), expires_at=iso(NOW + 30 * DAY), revoked_at=iso(revoked_at),
        )  # fmt: skip

    def access(self, name: str, family: int, client: int, user: int, revoked_at=None) -> None:
        self.row(
            "access_token", token_hash=self.secret(name, crypto.ACCESS_TOKEN), family_id=family,
            client_id=client, user_id=user, scope="openid profile", audience=ISSUER,
            created_at=iso(NOW - HOUR), expires_at=iso(NOW + HOUR), revoked_at=iso(revoked_at),
        )  # fmt: skip

    def refresh(self, name: str, family: int, rotated_at=None, revoked_at=None) -> None:
        self.row(
            "refresh_token", token_hash=self.secret(name, crypto.REFRESH_TOKEN),
            family_id=family, scope="openid profile", created_at=iso(NOW - HOUR),
            expires_at=iso(NOW + DAY), rotated_at=iso(rotated_at), revoked_at=iso(revoked_at),
        )  # fmt: skip

    def code(self, name: str, client: int, user: int, challenge: str, **extra) -> None:
        self.row(
            "authorization_code", code_hash=self.secret(name, crypto.AUTHORIZATION_CODE),
            client_id=client, user_id=user, redirect_uri=REDIRECT_URI, scope="openid profile",
            audience=ISSUER, code_challenge=challenge, code_challenge_method="S256",
            auth_time=iso(NOW - HOUR), created_at=iso(NOW), expires_at=iso(NOW + HOUR), **extra,
        )  # fmt: skip


@pytest.fixture
def old(config) -> dict:
    """A version-6 database with users, a client and its secret, codes, families, access and
    refresh tokens (live, rotated, revoked) and a device code; `app` then upgrades it."""
    path = config["DATABASE"]
    assert apply_migrations(path, blocks_up_to(6)) == [1, 2, 3, 4, 5, 6]
    conn = sqlite3.connect(path, isolation_level=None)
    v6 = Version6(conn)
    conn.execute("BEGIN")
    user = v6.row("user", username="alice", sub="sub-alice", created_at=iso(NOW),
                  updated_at=iso(NOW))  # fmt: skip
    client = v6.row(
        "oauth_client", client_id="old-app", name="Old App", client_type="confidential",
        token_endpoint_auth_method="client_secret_basic",
        redirect_uris=f'["{REDIRECT_URI}"]', vetted=1, created_at=iso(NOW), updated_at=iso(NOW),
    )  # fmt: skip
    secret, prefix, digest = crypto.new_client_secret()
    v6.row("client_secret", client_id=client, prefix=prefix, secret_hash=digest,
           last6=secret[-6:], created_at=iso(NOW))  # fmt: skip
    live = v6.family(client, user)
    v6.access("live_access", live, client, user)
    v6.access("revoked_access", live, client, user, revoked_at=NOW - HOUR)  # RFC 7009, alone
    v6.refresh("rotated_refresh", live, rotated_at=NOW - HOUR)
    v6.refresh("live_refresh", live)
    dead = v6.family(client, user, revoked_at=NOW - HOUR)  # version 6 revoked its tokens too
    v6.access("dead_access", dead, client, user, revoked_at=NOW - HOUR)
    v6.refresh("dead_refresh", dead, revoked_at=NOW - HOUR)
    issued = v6.family(client, user)
    v6.access("issued_access", issued, client, user)
    verifier, challenge = pkce_pair()
    v6.code("unused_code", client, user, challenge)
    v6.code("used_code", client, user, challenge, used_at=iso(NOW - HOUR), family_id=issued)
    v6.row(
        "device_code", device_code_hash=v6.secret("device_code", crypto.DEVICE_CODE),
        user_code_hash=crypto.sha256_hex("BCDFGHJK"), client_id=client, audience=ISSUER,
        created_at=iso(NOW), expires_at=iso(NOW + HOUR),
    )  # fmt: skip
    conn.execute("COMMIT")
    conn.close()
    return {**v6.plain, "secret": secret, "verifier": verifier, "live": live, "issued": issued}


def introspect(http, old: dict, name: str) -> dict:
    response = http.post(
        "/oauth2/introspect", data={"token": old[name]}, headers=basic("old-app", old["secret"])
    )
    assert response.status_code == 200
    return response.get_json()


def old_client(old: dict) -> tuple[Client, str]:
    """The client stored before the upgrade, and its secret."""
    with db.connection_context():
        return Client.by_client_id("old-app"), old["secret"]


def test_the_upgrade_moves_every_row(old, app):
    with db.connection_context():
        assert db.execute_sql("PRAGMA user_version").fetchone()[0] >= 7
        assert TokenFamily.select().count() == 3
        assert AccessToken.select().count() == 4 and RefreshToken.select().count() == 3
        row = AccessToken.get_by_id(crypto.sha256(old["live_access"]))
        assert len(row.token_hash) == 32
        # ISO text -> milliseconds: the same instant, to the millisecond
        assert abs(row.expires_at - (NOW + HOUR)) < timedelta(milliseconds=1)
        device = DeviceCode.get(DeviceCode.user_code_hash == user_code_hash("BCDFGHJK"))
        assert device.device_code_hash == crypto.sha256(old["device_code"])
        assert db.execute_sql("PRAGMA foreign_key_check").fetchall() == []


def test_old_access_tokens_introspect_as_before(old, client):
    body = introspect(client, old, "live_access")
    assert body["active"] is True and body["client_id"] == "old-app"
    assert body["sub"] == "sub-alice" and body["aud"] == ISSUER
    assert body["scope"] == "openid profile"
    assert abs(body["exp"] - epoch(NOW + HOUR)) <= 1  # the same instant (ms rounding aside)
    for revoked in ("revoked_access", "dead_access"):
        assert introspect(client, old, revoked) == {"active": False}


def test_old_refresh_tokens_rotate_and_revoked_ones_stay_revoked(old, client):
    c, s = old_client(old)
    fresh = refresh(client, c, s, old["live_refresh"])
    assert fresh.status_code == 200, fresh.get_json()
    assert introspect(client, old | {"new": fresh.get_json()["access_token"]}, "new")["active"]
    dead = refresh(client, c, s, old["dead_refresh"])
    assert dead.status_code == 400 and dead.get_json()["error"] == "invalid_grant"


def test_an_old_rotated_refresh_token_is_still_reuse(old, client):
    c, s = old_client(old)
    reused = refresh(client, c, s, old["rotated_refresh"])
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    assert introspect(client, old, "live_access") == {"active": False}  # the family is revoked
    assert refresh(client, c, s, old["live_refresh"]).get_json()["error"] == "invalid_grant"


def test_old_codes_redeem_once_and_a_replay_revokes_what_it_issued(old, client):
    c, s = old_client(old)
    assert redeem(client, c, s, old["unused_code"], old["verifier"]).status_code == 200
    replay = redeem(client, c, s, old["used_code"], old["verifier"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert introspect(client, old, "issued_access") == {"active": False}
    assert introspect(client, old, "live_access")["active"] is True  # other grants untouched


def test_block_7_moves_rows_on_postgresql_too():
    """The PostgreSQL form of block 7 changes the same tables in place: hex digests become
    bytea keys, TIMESTAMPs integer milliseconds, and the rows keep their families."""
    server = postgresql.server_url()
    if server is None:
        pytest.skip(postgresql.why_skipped())
    text = MIGRATIONS.read_text()
    url = postgresql.create_database(server)
    try:
        assert apply_postgresql(url, text[: text.index("-- migrate: 7\n")]) == [1, 2, 3, 4, 5, 6]
        now = "2026-12-06 04:00:00.123456"
        with psycopg.connect(url, autocommit=True) as conn:
            run = conn.execute
            user = run(
                'INSERT INTO "user" (username, sub, created_at, updated_at)'
                " VALUES ('alice', 'alice-sub', %s, %s) RETURNING id",
                (now, now),
            ).fetchone()[0]
            client = run(
                "INSERT INTO oauth_client (client_id, name, client_type,"
                " token_endpoint_auth_method, created_at, updated_at)"
                " VALUES ('app', 'App', 'public', 'none', %s, %s) RETURNING id",
                (now, now),
            ).fetchone()[0]
            family = run(
                "INSERT INTO token_family (client_id, user_id, grant_type, audience, auth_time,"
                " created_at, expires_at) VALUES (%s, %s, 'authorization_code', 'aud', %s, %s, %s)"
                " RETURNING id",
                (client, user, now, now, now),
            ).fetchone()[0]
            run(
                "INSERT INTO access_token (token_hash, family_id, client_id, user_id, audience,"
                " created_at, expires_at) VALUES (%s, %s, %s, %s, 'aud', %s, %s)",
                (crypto.sha256_hex("at"), family, client, user, now, now),
            )
            run(
                "INSERT INTO refresh_token (token_hash, family_id, created_at, expires_at,"
                " rotated_at) VALUES (%s, %s, %s, %s, %s)",
                (crypto.sha256_hex("rt"), family, now, now, now),
            )
        assert apply_postgresql(url, text)[0] == 7
        millis = 1_796_529_600_123  # 2026-12-06 04:00:00.123 UTC
        with psycopg.connect(url, autocommit=True) as conn:
            access = conn.execute("SELECT token_hash, family_id, created_at FROM access_token")
            assert access.fetchall() == [(crypto.sha256("at"), family, millis)]
            rotated = conn.execute("SELECT token_hash, rotated_at FROM refresh_token").fetchall()
            assert rotated == [(crypto.sha256("rt"), millis)]
            times = conn.execute("SELECT auth_time, expires_at FROM token_family").fetchall()
            assert times == [(millis, millis)]
    finally:
        postgresql.drop_database(url)
