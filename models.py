"""Database handle, one model per table of migrations.sql, and small query helpers (no Flask).

Over 250 lines: one class per table (DESIGN keeps the tables and their queries together, so
the schema reads in one place beside migrations.sql); each class is short.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee
from peewee import (
    AutoField,
    BlobField,
    BooleanField,
    Database,
    DatabaseProxy,
    DateTimeField,
    Field,
    ForeignKeyField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
    TimestampField,
)

# The database and the files beside it: SQLite's, and the write queue's (oauth/dialect.py).
SQLITE_FILES = ("", "-wal", "-shm", "-journal", "-writer")


def private_files(*paths: str, mode: int = 0o600) -> None:
    """Take group and other access away from existing `paths` we own (umask or not)."""
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue
        if info.st_uid == os.geteuid() and info.st_mode & 0o777 != mode:
            os.chmod(path, mode)


def is_sqlite_file(path: str) -> bool:
    """Whether SQLite's `path` names a file by its path (not `:memory:` or a `file:` URI)."""
    return path != ":memory:" and not path.startswith("file:")


def private_database(path: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644 minus the umask).

    SQLite gives `-wal`, `-shm` and `-journal` the database file's mode; older files are
    tightened here too. The database holds the signing keys and every token hash.

    An existing file is never opened here: closing any descriptor of a file drops every
    POSIX lock this process holds on it, including the SHARED lock by which this process's
    other connections keep another process from deleting the WAL and the -shm under them.
    """
    if not is_sqlite_file(path):
        return
    with contextlib.suppress(FileExistsError):  # then chmod below, by name: no descriptor
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
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


def placeholders(sql: str, param: str) -> str:
    """`sql`, written with `?` placeholders, in the style of a driver whose placeholder is
    `param`: `?` for sqlite3, `%s` for psycopg, which reads any `%` as the start of one (so a
    literal `%` is doubled there)."""
    return sql if param == "?" else sql.replace("%", "%%").replace("?", param)


def execute(sql: str, params: Any = ()) -> Any:
    """Run a hand-written statement, written with `?` placeholders, on either engine.

    Converted to the engine's placeholders (Peewee's `db.param`) once per statement. Run on
    the driver's connection: Peewee's `execute_sql` adds a debug log line and a cursor of its
    own around it (a code exchange runs six of these). Driver errors still come out as
    Peewee's (IntegrityError, OperationalError), as from `execute_sql`.
    """
    database = db.obj  # the proxy's target: skips the proxy's attribute lookup on hot paths
    statement = _STATEMENTS.get(sql)
    if statement is None:
        statement = _STATEMENTS[sql] = placeholders(sql, database.param)
    with peewee.__exception_wrapper__:
        return database.connection().execute(statement, params)


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


class JSONField(TextField):
    """A TEXT column holding JSON."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


EPOCH = datetime(1970, 1, 1)  # naive UTC, like every datetime here
ONE_MS, HALF_MS = timedelta(milliseconds=1), timedelta(microseconds=500)


def utc_millis(value: datetime) -> int:
    """A naive UTC datetime as UtcMillisField stores it: milliseconds since the epoch."""
    return (value - EPOCH + HALF_MS) // ONE_MS


class UtcMillisField(TimestampField):
    """A naive UTC datetime stored as integer milliseconds since the Unix epoch (block 7).

    Milliseconds, not seconds: 6 bytes instead of 4 in SQLite, and what happened first within
    a second stays first (a refresh token's rotation and its reuse, a grace of N seconds).
    No default: a missing value is NULL, never "now" (TimestampField's own default).
    Every grant converts several of these each way: plain timedelta arithmetic does it at a
    fifth of the cost of TimestampField's time tuples, with the same result (to the nearest
    millisecond).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", None)
        super().__init__(utc=True, resolution=1000, **kwargs)

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            return utc_millis(value)
        return super().db_value(value)

    def python_value(self, value: Any) -> Any:
        if type(value) is int:
            return EPOCH + value * ONE_MS
        return super().python_value(value)


class DigestField(BlobField):
    """A secret's SHA-256 digest as 32 bytes (crypto.sha256): the key of a grant table."""

    def python_value(self, value: Any) -> bytes | None:
        return None if value is None else bytes(value)


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
    id_token_signed_response_alg = TextField(default="RS256")  # OIDC Registration §2: or ES256
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


class CacheVersion(BaseModel):
    """One row of change counters, each bumped by triggers in the same transaction as any
    change to its tables: `client_version` for clients and secrets (migrations.sql block 9),
    `resource_version` for resources and `signing_key_version` for signing keys (block 10),
    `throttle_version` for new throttle events (block 11)."""

    client_version = IntegerField()
    resource_version = IntegerField(default=0)
    signing_key_version = IntegerField(default=0)
    throttle_version = IntegerField(default=0)

    class Meta:
        table_name = "cache_version"


CLIENT_VERSION_SQL = "SELECT client_version FROM cache_version WHERE id = 1"
RESOURCE_VERSION_SQL = "SELECT resource_version FROM cache_version WHERE id = 1"
SIGNING_KEY_VERSION_SQL = "SELECT signing_key_version FROM cache_version WHERE id = 1"
# Client authentication reads both of its counters at once (the client cache, the throttle).
CLIENT_AUTH_VERSIONS_SQL = "SELECT client_version, throttle_version FROM cache_version WHERE id = 1"


def cache_versions(sql: str) -> tuple[int, ...]:
    """The counters of the cache_version row that `sql` (one of the statements above) reads.

    Every cached answer (clients, discovery, the JWKS, passed throttle checks) reads one of
    these per request, through `execute` like every other hot-path statement. No parameters,
    so the statement is the same on both engines.
    """
    return execute(sql).fetchone()


CLIENT_CACHE_MAX = 10_000  # clients per process; past that the cache starts over


class CachedClient:
    """A client row and the secrets of it looked up so far, as of one client version."""

    __slots__ = ("client", "secrets")

    def __init__(self, client: Client) -> None:
        self.client = client
        self.secrets: dict[str, ClientSecret] = {}

    @classmethod
    def load(cls, client_id: str) -> CachedClient | None:
        """Straight from the database, kept by nobody."""
        client = Client.by_client_id(client_id)
        return cls(client) if client is not None else None

    def secret(self, prefix: str) -> ClientSecret | None:
        """This client's secret with `prefix`, or None (another client's secret is None too)."""
        row = self.secrets.get(prefix)
        if row is None:
            row = ClientSecret.by_prefix(prefix)
            if row is None or row.client_id != self.client.id:
                return None  # never kept: unknown prefixes must not fill the memory
            self.secrets[prefix] = row
        return row


class VersionMemory:
    """What one process remembers as of one cache_version counter: a fresh, empty container
    (from `empty()`) for each new (database, version), and past `limit` entries.

    A counter never goes back, so what was stored under an unchanged version is still true.
    The pair is replaced as a whole, never changed in place, so threads see one or the other.
    """

    def __init__(self, empty: Callable[[], Any], limit: int) -> None:
        self.empty, self.limit = empty, limit
        self._state: tuple[tuple[str | None, int] | None, Any] = (None, empty())

    def at(self, database: str | None, version: int) -> Any:
        """The container for `version` of `database`."""
        label, state = (database, version), self._state
        if state[0] != label or len(state[1]) >= self.limit:
            state = self._state = (label, self.empty())
        return state[1]


class ClientCache:
    """One process's clients and secrets, dropped whenever `cache_version.client_version` changed.

    Exact, not a TTL: each lookup first reads the version (one indexed row), then the rows it
    misses, so a cached row is never older than the version it is filed under; the version
    never goes back, so an unchanged version means unchanged rows. Inside a transaction the
    cache is bypassed: its own uncommitted bump could be rolled back and the number reused.
    The rows are shared between requests: read them, never change or save them.
    """

    def __init__(self) -> None:
        self._clients = VersionMemory(dict, CLIENT_CACHE_MAX)  # client_id -> CachedClient

    def lookup(self, client_id: str, version: int | None = None) -> CachedClient | None:
        """The client, from the cache if it holds `version` (read here when not given: a
        caller that has just read the cache_version row passes its client_version)."""
        database = db.obj  # the proxy's target: one attribute lookup instead of three
        if database.in_transaction():  # every transaction here is Peewee's atomic()
            return CachedClient.load(client_id)
        if version is None:
            (version,) = cache_versions(CLIENT_VERSION_SQL)
        clients: dict[str, CachedClient] = self._clients.at(database.database, version)
        entry = clients.get(client_id)
        if entry is None:
            entry = CachedClient.load(client_id)
            if entry is None:
                return None  # never kept, like unknown secrets
            clients[client_id] = entry
        return entry


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
    """A grant: what one code, device code or client_credentials request issued.

    Its tokens carry only what differs per token; client, user, audience and revocation are
    read here (store.py joins it), so revoking a family is one UPDATE of this row.
    """

    client = ForeignKeyField(Client, backref="families", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, backref="families", on_delete="CASCADE")
    client_secret = ForeignKeyField(ClientSecret, null=True, on_delete="CASCADE")
    grant_type = TextField()
    scope = TextField(default="")
    audience = TextField()
    nonce = TextField(null=True)
    auth_time = UtcMillisField(null=True)
    created_at = UtcMillisField(default=utcnow)
    expires_at = UtcMillisField()
    revoked_at = UtcMillisField(null=True)

    class Meta:
        table_name = "token_family"

    def revoke(self, now: datetime | None = None) -> None:
        """Revoke this family and so every access and refresh token in it."""
        revoke_families([self.id], now or utcnow())


class AuthorizationCode(BaseModel):
    code_hash = DigestField(primary_key=True)
    client = ForeignKeyField(Client, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    redirect_uri = TextField(null=True)
    scope = TextField(default="")
    resource = TextField(null=True)
    audience = TextField()
    code_challenge = TextField()
    code_challenge_method = TextField()
    nonce = TextField(null=True)
    auth_time = UtcMillisField()
    created_at = UtcMillisField(default=utcnow)
    expires_at = UtcMillisField()
    used_at = UtcMillisField(null=True)
    family_id = IntegerField(null=True)  # no REFERENCES (migrations.sql, block 7)

    class Meta:
        table_name = "authorization_code"


class AccessToken(BaseModel):
    """An access token; its client, user and audience are its family's (store.py joins)."""

    token_hash = DigestField(primary_key=True)
    family_id = IntegerField()  # no REFERENCES (migrations.sql, block 7)
    scope = TextField(default="")
    created_at = UtcMillisField(default=utcnow)
    expires_at = UtcMillisField()
    revoked_at = UtcMillisField(null=True)  # this token alone; the family's counts too

    class Meta:
        table_name = "access_token"


class RefreshToken(BaseModel):
    token_hash = DigestField(primary_key=True)
    family_id = IntegerField()  # no REFERENCES (migrations.sql, block 7)
    scope = TextField(default="")
    created_at = UtcMillisField(default=utcnow)
    expires_at = UtcMillisField()
    rotated_at = UtcMillisField(null=True)

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
    device_code_hash = DigestField(primary_key=True)
    user_code_hash = DigestField(unique=True)
    client = ForeignKeyField(Client, on_delete="CASCADE")
    scope = TextField(default="")
    resource = TextField(null=True)
    audience = TextField()
    status = TextField(default="pending")  # pending | approved | denied | used
    user = ForeignKeyField(User, null=True, on_delete="CASCADE")
    interval = IntegerField(default=5)
    last_polled_at = UtcMillisField(null=True)
    auth_time = UtcMillisField(null=True)
    created_at = UtcMillisField(default=utcnow)
    expires_at = UtcMillisField()
    family_id = IntegerField(null=True)  # no REFERENCES (migrations.sql, block 7)

    class Meta:
        table_name = "device_code"


class SigningKey(BaseModel):
    kid = TextField(unique=True)
    alg = TextField(default="RS256")  # RS256 | ES256, one active key each
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
    CacheVersion,
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

_INSERTS: dict[tuple[type[Model], tuple[str, ...]], tuple[str, list[tuple[Field, bool]]]] = {}
PLAIN = (int, str, type(None))  # what both drivers take for integer and text columns as is
_COLUMNS: dict[tuple[type[Model], str], list[tuple[str, Any, bool]]] = {}


def first_raw(model: type[Model], sql: str, *params: Any) -> Any:
    """The first `model` row that fixed statement `sql` (a SELECT or `... RETURNING`) returns.

    The same instance `model.raw(sql, ...)` would give (fields converted, extra columns as
    plain attributes), at a fifth of its cost: how each column converts is worked out once
    per statement, not per row, and the instance is filled in one step (`loaded`).
    """
    cursor = execute(sql, params)
    rows = cursor.fetchall()  # to the end: an UPDATE ... RETURNING finishes its statement
    if not rows:
        return None
    row = rows[0]
    columns = _COLUMNS.get((model, sql))
    if columns is None or len(columns) != len(row):
        fields = model._meta.columns  # column name -> field
        columns = [
            (fields[name].name, _converter(fields[name]), True)
            if name in fields
            else (name, None, False)
            for name, *_ in cursor.description
        ]
        _COLUMNS[(model, sql)] = columns
    data, extra = {}, {}
    for (name, convert, is_field), value in zip(columns, row, strict=True):
        if convert is not None and value is not None:
            value = convert(value)
        (data if is_field else extra)[name] = value
    return loaded(model, data, extra)


def _converter(field: Field) -> Any:
    """How a column's value from the driver becomes the field's Python value; None when the
    driver's value already is it (integers and text come back as int and str on both engines)."""
    if isinstance(field, ForeignKeyField):
        field = field.rel_field
    if type(field) in (AutoField, IntegerField, TextField):
        return None
    return field.python_value


def loaded(model: type[Model], data: dict[str, Any], extra: dict[str, Any] | None = None) -> Any:
    """A `model` instance as Peewee leaves a row it read: `data` maps field names to Python
    values (a foreign key's id under the field's name), `extra` holds plain attributes.

    What `Model.__init__` ends up with, without its attribute-by-attribute assignment (the
    largest cost of a row on the hot paths). Nothing is dirty: `save()` writes nothing.
    """
    instance = model.__new__(model)
    instance.__data__ = data
    instance._dirty = set()
    instance.__rel__ = {}
    if extra:
        instance.__dict__.update(extra)
    return instance


def by_id(model: type[Model], pk: int | None) -> Any:
    """The `model` row with primary key `pk` (None for None): a cheap replacement for lazy FKs."""
    if pk is None:
        return None
    table = model._meta.table_name  # a model's own name, never input
    return first_raw(model, f'SELECT * FROM "{table}" WHERE id = ?', pk)  # noqa: S608


def insert(model: type[Model], **values: Any) -> Any:
    """INSERT one row with exactly these field values; the new instance (its id set), no re-read.

    A related row may be given as an instance or as its id, as to `Model.create`.
    """
    names = tuple(values)
    plan = _INSERTS.get((model, names))
    if plan is None:
        fields = [model._meta.fields[name] for name in names]
        columns = ", ".join(field.column_name for field in fields)
        marks = ", ".join("?" * len(names))
        # Table and column names come from the model, never from input.
        sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'  # noqa: S608
        # sqlite3 reports the new id as lastrowid; psycopg only through RETURNING.
        if model._meta.auto_increment and is_postgresql():  # the grant tables have no id
            sql += " RETURNING id"
        plain = [_converter(field) is None for field in fields]
        plan = _INSERTS[(model, names)] = (sql, list(zip(fields, plain, strict=True)))
    sql, fields = plan
    data, related, params = model._meta.get_default_dict(), {}, []
    for (field, plain), value in zip(fields, values.values(), strict=True):
        if isinstance(value, Model):  # a foreign key given as its row: store its id
            related[field.name] = value
            value = getattr(value, field.rel_field.name)
        data[field.name] = value
        # An int or str for an integer or text column goes to the driver as it is.
        params.append(value if plain and type(value) in PLAIN else field.db_value(value))
    cursor = execute(sql, params)
    row = loaded(model, data)
    row.__rel__ = related
    if model._meta.auto_increment:  # a rowid table; the grant tables are keyed by a digest
        row.id = cursor.fetchone()[0] if is_postgresql() else cursor.lastrowid
        row._dirty.clear()
    return row


def revoke_families(family_ids: list[int], now: datetime | None = None) -> None:
    """Revoke families, and so every access and refresh token in them (call inside atomic).

    Tokens read their validity from their family (oauth/store.py joins it): one UPDATE of
    the family rows, however many tokens they have.
    """
    if not family_ids:
        return
    (
        TokenFamily.update(revoked_at=now or utcnow())
        .where(TokenFamily.id.in_(family_ids), TokenFamily.revoked_at.is_null())
        .execute()
    )


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
