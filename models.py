"""Database handle, one model per table of migrations.sql, and small query helpers (no Flask).

Over 250 lines: one class per table (DESIGN keeps the tables and their queries together, so
the schema reads in one place beside migrations.sql); each class is short.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import (
    BooleanField,
    Database,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
)

SQLITE_FILES = ("", "-wal", "-shm", "-journal")  # the database and SQLite's files beside it


def private_files(*paths: str, mode: int = 0o600) -> None:
    """Take group and other access away from existing `paths` we own (umask or not)."""
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue
        if info.st_uid == os.geteuid() and info.st_mode & 0o777 != mode:
            os.chmod(path, mode)


def private_database(path: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644 minus the umask).

    SQLite gives `-wal`, `-shm` and `-journal` the database file's mode; older files are
    tightened here too. The database holds the signing keys and every token hash.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    private_files(*(path + suffix for suffix in SQLITE_FILES))


class PrivateSqliteDatabase(SqliteDatabase):
    """A SqliteDatabase whose files are private to this user (see private_database)."""

    def _connect(self):
        private_database(self.database)
        return super()._connect()


# Deferred: create_app() calls oauth.dialect.open_database(GATEHOUSE_DATABASE): a SQLite file
# (PrivateSqliteDatabase with PRAGMAS) or PostgreSQL. No connection at import time, so
# gunicorn workers each open their own after the fork.
db = DatabaseProxy()

PRAGMAS = {
    "journal_mode": "wal",  # readers don't block the single writer
    "foreign_keys": 1,  # SQLite's default is off, per connection
    "busy_timeout": 5000,  # ms to wait for the write lock instead of failing
    "synchronous": "full",  # WAL + FULL: an acknowledged revocation survives power loss
    "journal_size_limit": 64 * 1024 * 1024,  # keep the WAL file bounded after checkpoints
}


_STATEMENTS: dict[str, str] = {}  # hand-written SQL -> in the current engine's placeholders


def use_database(database: Database) -> None:
    """Point `db` at `database`; oauth.dialect.open_database builds it from the setting."""
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    db.initialize(database)
    _STATEMENTS.clear()
    _INSERTS.clear()


def is_postgresql() -> bool:
    """Whether `db` is a PostgreSQL database (how the engines differ: oauth/dialect.py)."""
    return isinstance(db.obj, PostgresqlDatabase)


def engine() -> str:
    """The engine's name, "sqlite" or "postgresql": the key of a statement written per engine."""
    return "postgresql" if is_postgresql() else "sqlite"


def execute(sql: str, params: Any = ()) -> Any:
    """Run a hand-written statement, written with `?` placeholders, on either engine.

    `?` is sqlite3's placeholder and `%s` psycopg's (Peewee's `db.param`); psycopg reads any
    `%` as the start of one, so a literal `%` is doubled there. Converted once per statement.
    """
    database = db.obj  # the proxy's target: skips the proxy's attribute lookup on hot paths
    statement = _STATEMENTS.get(sql)
    if statement is None:
        param = database.param
        statement = sql if param == "?" else sql.replace("%", "%%").replace("?", param)
        _STATEMENTS[sql] = statement
    return database.execute_sql(statement, params)


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


class JSONField(TextField):
    """A TEXT column holding JSON."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db


class User(BaseModel):
    username = TextField(unique=True)
    sub = TextField(unique=True)
    email = TextField(null=True)
    email_verified = BooleanField(default=False)
    name = TextField(null=True)
    password_hash = TextField(null=True)
    is_admin = BooleanField(default=False)
    must_change_password = BooleanField(default=False)  # after an administrator's reset
    claims = JSONField(default=dict)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "user"

    @classmethod
    def by_username(cls, username: str) -> User | None:
        return cls.get_or_none(cls.username == username)


class UserSession(BaseModel):
    sid_hash = TextField(unique=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    auth_time = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    user_agent = TextField(default="")  # as sent at sign-in, cut to 512 characters
    ip = TextField(default="")
    last_seen_at = DateTimeField(null=True)  # updated at most once a minute

    class Meta:
        table_name = "user_session"


class PersonalAccessToken(BaseModel):
    user = ForeignKeyField(User, backref="personal_tokens", on_delete="CASCADE")
    token_hash = TextField(unique=True)
    name = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True)

    class Meta:
        table_name = "personal_access_token"


class Client(BaseModel):
    client_id = TextField(unique=True)
    name = TextField()
    client_type = TextField()  # "confidential" | "public"
    token_endpoint_auth_method = TextField()
    redirect_uris = JSONField(default=list)
    post_logout_redirect_uris = JSONField(default=list)
    grant_types = JSONField(default=lambda: ["authorization_code", "refresh_token"])
    scope = TextField(default="")
    logo_uri = TextField(null=True)
    client_uri = TextField(null=True)
    tos_uri = TextField(null=True)
    policy_uri = TextField(null=True)
    contacts = JSONField(default=list)
    software_id = TextField(null=True)
    software_version = TextField(null=True)
    application_type = TextField(default="web")  # OIDC Registration §2: web | native
    application_type_declared = BooleanField(default=False)  # False: the client left it out
    registration = TextField(default="admin")  # admin | dynamic | metadata_document | mock
    vetted = BooleanField(default=False)  # created or approved by an administrator
    registration_token_hash = TextField(null=True, unique=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "oauth_client"

    @classmethod
    def by_client_id(cls, client_id: str) -> Client | None:
        return first_raw(cls, "SELECT * FROM oauth_client WHERE client_id = ?", client_id)

    @property
    def is_public(self) -> bool:
        return self.client_type == "public"


class ClientSecret(BaseModel):
    client = ForeignKeyField(Client, backref="secrets", on_delete="CASCADE")
    prefix = TextField(unique=True)
    secret_hash = TextField()
    last6 = TextField()
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)

    class Meta:
        table_name = "client_secret"

    @classmethod
    def by_prefix(cls, prefix: str) -> ClientSecret | None:
        """The secret with this public prefix (every client authentication looks one up)."""
        return first_raw(cls, "SELECT * FROM client_secret WHERE prefix = ?", prefix)


class Resource(BaseModel):
    uri = TextField(unique=True)
    name = TextField(default="")
    scopes = TextField(default="")
    owner = ForeignKeyField(Client, null=True, backref="resources", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    token_format = TextField(null=True)  # "jwt" or "opaque"; None follows the global default

    class Meta:
        table_name = "resource"

    @classmethod
    def by_uri(cls, uri: str) -> Resource | None:
        return cls.get_or_none(cls.uri == uri)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class TokenFamily(BaseModel):
    client = ForeignKeyField(Client, backref="families", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, backref="families", on_delete="CASCADE")
    client_secret = ForeignKeyField(ClientSecret, null=True, on_delete="CASCADE")
    grant_type = TextField()
    scope = TextField(default="")
    audience = TextField()
    nonce = TextField(null=True)
    auth_time = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "token_family"

    def revoke(self, now: datetime | None = None) -> None:
        """Revoke this family and every access and refresh token in it."""
        now = now or utcnow()
        revoke_families([self.id], now)


class AuthorizationCode(BaseModel):
    code_hash = TextField(unique=True)
    client = ForeignKeyField(Client, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    redirect_uri = TextField(null=True)
    scope = TextField(default="")
    resource = TextField(null=True)
    audience = TextField()
    code_challenge = TextField()
    code_challenge_method = TextField()
    nonce = TextField(null=True)
    auth_time = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
    family = ForeignKeyField(TokenFamily, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "authorization_code"


class AccessToken(BaseModel):
    token_hash = TextField(unique=True)
    family = ForeignKeyField(TokenFamily, backref="access_tokens", on_delete="CASCADE")
    client = ForeignKeyField(Client, on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="CASCADE")
    scope = TextField(default="")
    audience = TextField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "access_token"

    def is_active(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or utcnow())


class RefreshToken(BaseModel):
    token_hash = TextField(unique=True)
    family = ForeignKeyField(TokenFamily, backref="refresh_tokens", on_delete="CASCADE")
    scope = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    rotated_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "refresh_token"


class Consent(BaseModel):
    user = ForeignKeyField(User, on_delete="CASCADE")
    client = ForeignKeyField(Client, on_delete="CASCADE")
    audience = TextField()
    scope = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "consent"
        indexes = ((("user", "client", "audience"), True),)


class DeviceCode(BaseModel):
    device_code_hash = TextField(unique=True)
    user_code_hash = TextField(unique=True)
    client = ForeignKeyField(Client, on_delete="CASCADE")
    scope = TextField(default="")
    resource = TextField(null=True)
    audience = TextField()
    status = TextField(default="pending")  # pending | approved | denied | used
    user = ForeignKeyField(User, null=True, on_delete="CASCADE")
    interval = IntegerField(default=5)
    last_polled_at = DateTimeField(null=True)
    auth_time = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    family = ForeignKeyField(TokenFamily, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "device_code"


class SigningKey(BaseModel):
    kid = TextField(unique=True)
    alg = TextField(default="RS256")
    private_pem = TextField()
    public_jwk = JSONField()
    created_at = DateTimeField(default=utcnow)
    retired_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True)

    class Meta:
        table_name = "signing_key"


class InitialAccessToken(BaseModel):
    token_hash = TextField(unique=True)
    created_by = ForeignKeyField(User, null=True, column_name="created_by", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)

    class Meta:
        table_name = "initial_access_token"


class ThrottleEvent(BaseModel):
    bucket = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "throttle_event"


class AuditEvent(BaseModel):
    created_at = DateTimeField(default=utcnow)
    actor = TextField()
    action = TextField()
    target_type = TextField(default="")
    target = TextField(default="")
    changes = JSONField(default=dict)
    ip = TextField(default="")
    success = BooleanField(default=True)

    class Meta:
        table_name = "audit_event"


class MockForcedError(BaseModel):
    endpoint = TextField()
    status = IntegerField()
    error = TextField()
    error_description = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "mock_forced_error"


class ShownOnce(BaseModel):
    """A value to show once on a page after a redirect (a new secret), as ciphertext."""

    key_hash = TextField(unique=True)
    user_session = ForeignKeyField(UserSession, on_delete="CASCADE")
    client = ForeignKeyField(Client, on_delete="CASCADE")
    ciphertext = TextField()
    expires_at = DateTimeField()

    class Meta:
        table_name = "shown_once"


MODELS = [
    User,
    UserSession,
    PersonalAccessToken,
    Client,
    ClientSecret,
    Resource,
    TokenFamily,
    AuthorizationCode,
    AccessToken,
    RefreshToken,
    Consent,
    DeviceCode,
    SigningKey,
    InitialAccessToken,
    ThrottleEvent,
    AuditEvent,
    MockForcedError,
    ShownOnce,
]


# -- query helpers -------------------------------------------------------------------------

# Hot paths (every token, introspection and bearer request) run fixed, parameterised SQL
# instead of building a Peewee query per request: compiling a select of a 20-column model or
# a 3-4 model join cost 0.3-1 ms of CPU, several times the query itself. sqlite3 keeps the
# prepared statements per connection; Peewee still converts the columns (dates, JSON).

_INSERTS: dict[tuple[type[Model], tuple[str, ...]], str] = {}
_COLUMNS: dict[tuple[type[Model], str], list[tuple[str, Any]]] = {}


def first_raw(model: type[Model], sql: str, *params: Any) -> Any:
    """The first `model` row that fixed statement `sql` returns, or None.

    The same instance `model.raw(sql, ...)` would give (fields converted, extra columns as
    plain attributes), at a third of its cost: how each column converts is worked out once
    per statement, not per row.
    """
    cursor = execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    columns = _COLUMNS.get((model, sql))
    if columns is None or len(columns) != len(row):
        fields = model._meta.columns  # column name -> field
        columns = [
            (fields[name].name, fields[name].python_value) if name in fields else (name, None)
            for name, *_ in cursor.description
        ]
        _COLUMNS[(model, sql)] = columns
    data = {
        name: value if convert is None or value is None else convert(value)
        for (name, convert), value in zip(columns, row, strict=True)
    }
    instance = model(__no_default__=1, **data)
    instance._dirty.clear()
    return instance


def by_id(model: type[Model], pk: int | None) -> Any:
    """The `model` row with primary key `pk` (None for None): a cheap replacement for lazy FKs."""
    if pk is None:
        return None
    table = model._meta.table_name  # a model's own name, never input
    return first_raw(model, f'SELECT * FROM "{table}" WHERE id = ?', pk)  # noqa: S608


def insert(model: type[Model], **values: Any) -> Any:
    """INSERT one row with exactly these field values; the new instance, id set, no re-read."""
    names = tuple(values)
    sql = _INSERTS.get((model, names))
    if sql is None:
        columns = ", ".join(model._meta.fields[name].column_name for name in names)
        marks = ", ".join("?" * len(names))
        # Table and column names come from the model, never from input.
        sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'  # noqa: S608
        # sqlite3 reports the new id as lastrowid; psycopg only through RETURNING.
        sql += " RETURNING id" if is_postgresql() else ""
        _INSERTS[(model, names)] = sql
    params = [model._meta.fields[name].db_value(value) for name, value in values.items()]
    row = model(**values)
    cursor = execute(sql, params)
    row.id = cursor.fetchone()[0] if is_postgresql() else cursor.lastrowid
    row._dirty.clear()
    return row


def revoke_families(family_ids: list[int], now: datetime | None = None) -> None:
    """Mark families and all their access and refresh tokens revoked (call inside atomic)."""
    if not family_ids:
        return
    now = now or utcnow()
    (
        TokenFamily.update(revoked_at=now)
        .where(TokenFamily.id.in_(family_ids), TokenFamily.revoked_at.is_null())
        .execute()
    )
    (
        AccessToken.update(revoked_at=now)
        .where(AccessToken.family.in_(family_ids), AccessToken.revoked_at.is_null())
        .execute()
    )
    (
        RefreshToken.update(revoked_at=now)
        .where(RefreshToken.family.in_(family_ids), RefreshToken.revoked_at.is_null())
        .execute()
    )


def count_recent(bucket: str, window: timedelta, now: datetime | None = None) -> int:
    """How many throttle events `bucket` has had within `window`."""
    since = ThrottleEvent.created_at.db_value((now or utcnow()) - window)
    # Fixed SQL (see the note above first_raw): every client authentication counts two buckets,
    # and building this as a Peewee query cost more than the rest of an introspection.
    sql = "SELECT count(*) FROM throttle_event WHERE bucket = ? AND created_at > ?"
    return execute(sql, (bucket, since)).fetchone()[0]


def record_event(bucket: str, now: datetime | None = None) -> None:
    """Count one throttle event for `bucket`."""
    ThrottleEvent.create(bucket=bucket, created_at=now or utcnow())


def audit(
    actor: str,
    action: str,
    target_type: str = "",
    target: str = "",
    changes: dict | None = None,
    ip: str = "",
    success: bool = True,
) -> AuditEvent:
    """Record an audit event. `changes` maps field -> [old, new] and must hold no secrets."""
    return AuditEvent.create(
        actor=actor,
        action=action,
        target_type=target_type,
        target=target,
        changes=changes or {},
        ip=ip,
        success=success,
    )
