"""The per-process client cache (models.ClientCache) is exact: whatever changes a client or a
secret, in whichever process, the very next request sees it.

A second `create_app()` on the same database stands for another worker process (two apps
share no cache); a plain sqlite3 connection stands for anything else that writes (the CLI,
another server, an administrator's SQL).
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from app import create_app
from models import CLIENT_VERSION_SQL, Client, ClientCache, ClientSecret, db
from oauth.manage import apps
from oauth.rules import client_auth
from tests.helpers.authorize import REDIRECT, params, sign_in
from tests.helpers.common import basic, make_client

CC = ["client_credentials"]


def token(http, client_id: str, secret: str):
    return http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )


def sql(config: dict, statement: str, *args) -> None:
    """Run `statement` on a connection of its own, as another process would, and commit."""
    conn = sqlite3.connect(config["DATABASE"])
    with conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(statement, args)
    conn.close()


def version() -> int:
    with db.connection_context():
        return db.execute_sql(CLIENT_VERSION_SQL).fetchone()[0]


@pytest.fixture
def machine(app):
    """A vetted client_credentials client: (client, secret)."""
    return make_client("Machine", grant_types=CC)


@pytest.fixture
def other_app(app, config):
    """Another worker: its own app object (and cache) on the same database."""
    return create_app(config)


def test_a_secret_deleted_by_another_process_fails_at_once(client, other_app, machine):
    c, secret = machine
    assert token(client, c.client_id, secret).status_code == 200
    assert token(client, c.client_id, secret).status_code == 200  # now from this app's cache
    with other_app.app_context(), db.connection_context():
        row = ClientSecret.get(ClientSecret.client == c)
        apps.delete_secret(row, actor="root")
    response = token(client, c.client_id, secret)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_a_new_secret_works_in_every_process_at_once(client, other_app, machine):
    c, secret = machine
    assert token(client, c.client_id, secret).status_code == 200
    with other_app.app_context(), db.connection_context():
        _, new = apps.create_secret(Client.get_by_id(c.id), actor="root")
    assert token(client, c.client_id, new).status_code == 200
    assert token(client, c.client_id, secret).status_code == 200  # both, until one is deleted


def test_a_deleted_client_is_invalid_client_at_once(client, config, machine):
    c, secret = machine
    assert token(client, c.client_id, secret).status_code == 200
    sql(config, "DELETE FROM oauth_client WHERE id = ?", c.id)  # cascades to its secrets
    response = token(client, c.client_id, secret)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_the_vetted_flag_is_seen_at_once(client, config, machine):
    c, secret = machine
    assert token(client, c.client_id, secret).status_code == 200
    sql(config, "UPDATE oauth_client SET vetted = 0 WHERE id = ?", c.id)
    assert token(client, c.client_id, secret).get_json()["error"] == "unauthorized_client"
    sql(config, "UPDATE oauth_client SET vetted = 1 WHERE id = ?", c.id)
    assert token(client, c.client_id, secret).status_code == 200


def test_changed_redirect_uris_are_seen_by_the_next_authorize(client, config, user):
    c, _ = make_client("Web")
    sign_in(client)
    first = client.get("/oauth2/authorize", query_string=params(c.client_id))
    assert first.status_code == 200  # the consent page: the redirect URI is registered
    sql(
        config,
        "UPDATE oauth_client SET redirect_uris = ? WHERE id = ?",
        '["https://a.example/cb"]',
        c.id,
    )
    response = client.get("/oauth2/authorize", query_string=params(c.client_id))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "not registered" in response.get_data(as_text=True)
    assert REDIRECT not in Client.get_by_id(c.id).redirect_uris


def test_another_clients_cached_secret_never_authenticates(client, machine):
    c, secret = machine
    other, _ = make_client("Other", grant_types=CC)
    assert token(client, c.client_id, secret).status_code == 200  # c's secret is cached
    response = token(client, other.client_id, secret)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_a_cached_client_is_not_read_again(app, client, machine, monkeypatch):
    c, secret = machine
    assert token(client, c.client_id, secret).status_code == 200
    reads = []
    monkeypatch.setattr(Client, "by_client_id", lambda client_id: reads.append(client_id))
    monkeypatch.setattr(ClientSecret, "by_prefix", lambda prefix: reads.append(prefix))
    assert token(client, c.client_id, secret).status_code == 200
    assert reads == []


# -- the version counter ------------------------------------------------------------------


def test_every_client_or_secret_change_bumps_the_version(app, config, machine):
    c, _ = machine
    changes = [
        ("UPDATE oauth_client SET name = 'Renamed' WHERE id = ?", c.id),
        ("UPDATE client_secret SET last6 = 'abcdef' WHERE client_id = ?", c.id),
        ("DELETE FROM client_secret WHERE client_id = ?", c.id),
        ("DELETE FROM oauth_client WHERE id = ?", c.id),
    ]
    for statement, arg in changes:
        before = version()
        sql(config, statement, arg)
        assert version() > before, statement
    before = version()
    make_client("New")  # a client and its secret: two inserts
    assert version() == before + 2


def test_last_used_at_updates_do_not_bump_the_version(app, config, machine):
    c, secret = machine
    before = version()
    sql(
        config,
        "UPDATE client_secret SET last_used_at = '2000-01-01 00:00:00' WHERE client_id = ?",
        c.id,
    )
    with app.test_client() as http:
        assert token(http, c.client_id, secret).status_code == 200  # touches last_used_at
    with db.connection_context():
        assert ClientSecret.get(ClientSecret.client == c).last_used_at.year > 2000
    assert version() == before


def test_the_secret_trigger_watches_every_column_but_last_used_at(app):
    """A column added to client_secret later must be added to the trigger's list too."""
    with db.connection_context():
        (trigger,) = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'client_secret_updated'"
        ).fetchone()
        columns = {c.name for c in db.get_columns("client_secret")}
    watched = re.search(r"UPDATE OF (.*?) ON client_secret", trigger).group(1)
    assert {name.strip() for name in watched.split(",")} == columns - {"last_used_at"}


def test_a_rolled_back_change_never_stays_in_the_cache(app, config, machine):
    """Inside a transaction the cache is bypassed: a rolled-back bump reuses its number."""
    c, _ = machine
    cache = ClientCache()
    with app.app_context(), db.connection_context():
        assert cache.lookup(c.client_id).client.name == "Machine"
        with db.atomic() as transaction:
            Client.update(name="Ghost").where(Client.id == c.id).execute()
            assert cache.lookup(c.client_id).client.name == "Ghost"  # its own write
            transaction.rollback()
        sql(config, "UPDATE oauth_client SET name = 'Real' WHERE id = ?", c.id)  # same number
        assert cache.lookup(c.client_id).client.name == "Real"


def test_cached_client_is_none_for_unknown_ids(app):
    with app.test_request_context(), db.connection_context():
        assert client_auth.cached_client("nobody") is None
        assert client_auth.cached_client("nobody") is None
