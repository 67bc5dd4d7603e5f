"""The fixed-SQL helpers of the hot paths give what Peewee's own queries give; the JWKS cache
never serves a key set that is out of date."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import peewee
import pytest
from peewee import TimestampField

from models import (
    AccessToken,
    Client,
    ClientSecret,
    ThrottleEvent,
    TokenFamily,
    User,
    by_id,
    db,
    execute,
    first_raw,
    insert,
    utcnow,
)
from oauth import keys, store
from oauth.store import count_recent, count_recent_each


@pytest.mark.parametrize(
    "model, lookup",
    [
        (Client, lambda c, s, u: Client.by_client_id(c.client_id)),
        (ClientSecret, lambda c, s, u: ClientSecret.by_prefix(s.prefix)),
        (User, lambda c, s, u: by_id(User, u.id)),
    ],
)
def test_fixed_sql_rows_equal_peewee_rows(oauth_client, user, model, lookup):
    client, _ = oauth_client
    with db.connection_context():
        secret = ClientSecret.get(ClientSecret.client == client)
        row = lookup(client, secret, user)
        expected = model.get_by_id(row.id)
        assert row.__data__ == expected.__data__  # same values, converted the same way
        assert not row._dirty


def test_missing_rows_are_none(app):
    with db.connection_context():
        assert Client.by_client_id("nobody") is None
        assert ClientSecret.by_prefix("nothing") is None
        assert by_id(User, None) is None and by_id(User, 10**9) is None


def test_insert_writes_what_peewee_reads_back(oauth_client, user):
    client, _ = oauth_client
    now = utcnow().replace(microsecond=123000)  # the grant tables keep milliseconds
    with db.connection_context(), db.atomic():
        family = insert(
            TokenFamily,
            client=client,
            user=user,
            client_secret=None,
            grant_type="authorization_code",
            scope="openid",
            audience="http://a",
            nonce=None,
            auth_time=now,
            created_at=now,
            expires_at=now + timedelta(days=1),
        )
        token = insert(
            AccessToken,
            token_hash=b"h" * 32,
            family_id=family.id,
            scope="openid",
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
    with db.connection_context():
        stored = AccessToken.get_by_id(token.token_hash)
        assert stored.family_id == family.id and stored.token_hash == b"h" * 32
        assert stored.expires_at == now + timedelta(hours=1) and stored.revoked_at is None
        assert TokenFamily.get_by_id(family.id).auth_time == now


def test_fixed_sql_errors_are_peewees_errors(oauth_client):
    """`execute` runs on the driver's connection, yet callers catch Peewee's errors (a
    duplicate row, a locked database answered 503) as they do from Peewee's own queries."""
    client, _ = oauth_client
    bad_row = "INSERT INTO oauth_client (id, client_id) SELECT id, client_id FROM oauth_client"
    with db.connection_context():
        with pytest.raises(peewee.IntegrityError):
            execute(bad_row)  # its id is taken and it has no name
        with pytest.raises(peewee.OperationalError):
            execute("SELECT * FROM no_such_table")
        assert execute("SELECT count(*) FROM oauth_client").fetchone() == (1,)


def test_extra_columns_become_attributes(oauth_client):
    client, _ = oauth_client
    with db.connection_context():
        row = first_raw(
            Client, "SELECT *, 41 + 1 AS answer FROM oauth_client WHERE id = ?", client.id
        )
        assert row.answer == 42 and row.client_id == client.client_id


def kids(client) -> set[str]:
    response = client.get("/oauth2/jwks")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return {key["kid"] for key in response.get_json()["keys"]}


def test_jwks_follows_a_rotation_by_another_process(app, client, config):
    """The cached JWK Set is rebuilt when the keys change, whoever changed them."""
    first = kids(client)
    assert len(first) == 2 and kids(client) == first  # RS256 + ES256, served from the cache
    with db.connection_context():
        (ec,) = keys.rotate(timedelta(hours=1), ("ES256",))
    assert kids(client) == first | {ec.kid}  # the new EC key is published at once
    with db.connection_context():
        (rsa,) = keys.rotate(timedelta(hours=1), ("RS256",))
    assert kids(client) == first | {ec.kid, rsa.kid}
    # Another process retires every published key by expiring it (its own connection).
    conn = sqlite3.connect(config["DATABASE"])
    with conn:
        conn.execute(
            "UPDATE signing_key SET expires_at = ? WHERE kid NOT IN (?, ?)",
            (str(utcnow() - timedelta(seconds=1)), ec.kid, rsa.kid),
        )
    conn.close()
    assert kids(client) == {ec.kid, rsa.kid}


def test_jwks_drops_a_retired_key_when_it_expires(app, client, monkeypatch):
    """No write happens when a retired key's publication ends: time alone changes the set."""
    with db.connection_context():
        old = {keys.active_key(alg).kid for alg in keys.ALGS}
        new = {key.kid for key in keys.rotate(timedelta(minutes=10))}
    assert kids(client) == old | new
    later = utcnow() + timedelta(minutes=11)
    monkeypatch.setattr(keys, "utcnow", lambda: later)
    assert kids(client) == new


def test_count_recent_counts_what_peewee_counts(app):
    now = utcnow()
    with db.connection_context():
        for seconds in (1, 59, 61, 600):
            ThrottleEvent.create(bucket="b", created_at=now - timedelta(seconds=seconds))
        ThrottleEvent.create(bucket="other", created_at=now)
        since = now - timedelta(minutes=1)
        expected = (
            ThrottleEvent.select()
            .where(ThrottleEvent.bucket == "b", ThrottleEvent.created_at > since)
            .count()
        )
        assert count_recent("b", timedelta(minutes=1), now) == expected == 2
        assert count_recent("b", timedelta(hours=1), now) == 4
        assert count_recent("nobody", timedelta(hours=1), now) == 0
        # One statement for several buckets, each counted as alone, in the order given.
        each = count_recent_each(["b", "other", "nobody", "b"], timedelta(minutes=1), now)
        assert each == [2, 1, 0, 2]


def test_millisecond_timestamps_convert_as_peewee_converts():
    """UtcMillisField's arithmetic gives what TimestampField's time tuples give."""
    ours, peewee = AccessToken.created_at, TimestampField(utc=True, resolution=1000)
    moments = [
        datetime(1970, 1, 1),
        datetime(1969, 12, 31, 23, 59, 59, 999000),
        datetime(2026, 12, 6, 7, 30, 1, 123000),
        datetime(2038, 1, 19, 3, 14, 8),
        datetime(9999, 12, 31, 23, 59, 59, 999000),
    ]
    for moment in moments:
        stored = ours.db_value(moment)
        assert stored == peewee.db_value(moment) and type(stored) is int
        assert store._ms(moment) == stored  # the hot paths' own conversion
        assert ours.python_value(stored) == peewee.python_value(stored) == moment
    assert ours.db_value(datetime(2026, 1, 1, 0, 0, 0, 1499)) == peewee.db_value(
        datetime(2026, 1, 1, 0, 0, 0, 1499)
    )  # to the nearest millisecond
    assert ours.db_value(None) is None and ours.python_value(None) is None
    assert store._ms(None) is None
