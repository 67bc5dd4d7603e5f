"""The floor: the fastest this stack (Flask + Peewee + SQLite or PostgreSQL + gunicorn) answers on
this machine.

Three routes, served by gunicorn with Gatehouse's own `gunicorn.conf.py` and `models.PRAGMAS`
(or, for a `postgresql://` GATEHOUSE_DATABASE, Peewee's PostgreSQL database on the same psycopg
driver), one connection per worker thread opened lazily after the fork and kept across
requests, exactly as `app.py` does:

- `GET /floor/json`: a bare JSON response (what metadata and JWKS are compared with);
- `GET /floor/select?key=K`: one indexed Peewee SELECT on a 64-hex unique column (introspection,
  `/api/v2/users/me`);
- `POST /floor/insert`: one Peewee INSERT of a row shaped like a token (the token grants).

`bench/run.py` seeds the database and serves it with
`gunicorn -c gunicorn.conf.py 'bench.floor_app:create_app()'`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from peewee import (
    Database,
    DatabaseProxy,
    DateTimeField,
    Model,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
)

from models import PRAGMAS
from oauth.dialect import is_postgresql_url

db = DatabaseProxy()
SEED_ROWS = 10_000


class Item(Model):
    """A row shaped like an access token: a unique SHA-256 hex key and a few text columns."""

    key = TextField(unique=True)
    audience = TextField()
    created_at = DateTimeField()

    class Meta:
        database = db
        table_name = "floor_item"


def key_for(n: int) -> str:
    """The key of seeded row `n` (the load driver asks for these)."""
    return hashlib.sha256(f"floor-{n}".encode()).hexdigest()


def open_floor(database: str) -> Database:
    """Point the floor at a SQLite file (Gatehouse's PRAGMAS) or a PostgreSQL URL."""
    if is_postgresql_url(database):
        db.initialize(PostgresqlDatabase(database, prefer_psycopg3=True))
    else:
        db.initialize(SqliteDatabase(database, pragmas=PRAGMAS))
    return db


def seed(database: str, rows: int = SEED_ROWS) -> None:
    """Create the table and `rows` rows (run once, before gunicorn starts)."""
    open_floor(database)
    with db.connection_context():
        db.create_tables([Item])
        if Item.select().count() == 0:
            now = datetime.now(UTC).replace(tzinfo=None)
            data = [(key_for(n), "http://127.0.0.1", now) for n in range(rows)]
            with db.atomic():
                for start in range(0, rows, 1000):
                    batch = data[start : start + 1000]
                    fields = [Item.key, Item.audience, Item.created_at]
                    Item.insert_many(batch, fields=fields).execute()


def create_app() -> Flask:
    """The floor app, configured from GATEHOUSE_DATABASE like Gatehouse itself."""
    app = Flask(__name__)
    open_floor(os.environ["GATEHOUSE_DATABASE"])

    @app.before_request
    def connect() -> None:
        db.connect(reuse_if_open=True)  # kept open across requests, as in app.py

    @app.get("/floor/json")
    def floor_json():
        return jsonify({"issuer": "http://127.0.0.1", "ok": True})

    @app.get("/floor/select")
    def floor_select():
        row = Item.get_or_none(Item.key == request.args.get("key", ""))
        if row is None:
            return jsonify({"active": False}), 404
        return jsonify({"active": True, "aud": row.audience})

    @app.post("/floor/insert")
    def floor_insert():
        now = datetime.now(UTC).replace(tzinfo=None)
        with db.atomic():
            Item.create(key=secrets.token_hex(32), audience="http://127.0.0.1", created_at=now)
        return jsonify({"ok": True})

    return app
