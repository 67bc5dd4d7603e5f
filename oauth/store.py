"""The hot paths' SQL, in one place: fixed, parameterised statements over the grant tables.

Every token, introspection and bearer request runs these instead of building a Peewee query
(compiling one cost more than running it; see models.first_raw). They are written for SQLite
and PostgreSQL alike: placeholders are written `?` (models.execute gives the engine's own),
the `user` table is quoted, and claims are one `UPDATE ... RETURNING` (SQLite >= 3.35,
PostgreSQL), so a code, a refresh token or a device code is claimed exactly once without a
read first.

Tokens carry only what differs per token; their client, user, audience and revocation come
from their family (migrations.sql, block 7). A token whose family is gone finds no row here.
No Flask: the grants and rules call these.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models import (
    AccessToken,
    AuthorizationCode,
    DeviceCode,
    RefreshToken,
    ThrottleEvent,
    TokenFamily,
    engine,
    execute,
    first_raw,
    insert,
    loaded,
    utc_millis,
    utcnow,
)


def _ms(when: datetime | None) -> int | None:
    """A naive UTC datetime as the grant tables store it (models.UtcMillisField), without
    the field's lookup and type checks: a grant converts eight of these."""
    return None if when is None else utc_millis(when)


# -- authorization codes (RFC 6749 §4.1.2: single use) -------------------------------------

# Marks the code used, only if nobody used it first, and returns it: one statement claims it.
# The same statement reserves the id of the family the code will issue (issue.py inserts it
# with that id), so a replay of the code finds what to revoke without a second write.
# SQLite takes the next rowid inside the transaction's write lock; PostgreSQL draws it from
# the identity column's sequence, as an INSERT would.
NEXT_FAMILY_ID = {
    "sqlite": "(SELECT coalesce(max(id), 0) + 1 FROM token_family)",
    "postgresql": "nextval(pg_get_serial_sequence('token_family', 'id'))",
}
CLAIM_CODE = {
    engine_name: "UPDATE authorization_code SET used_at = ?, family_id = "  # noqa: S608 - constants
    f"{next_id} WHERE code_hash = ? AND used_at IS NULL RETURNING *"
    for engine_name, next_id in NEXT_FAMILY_ID.items()
}
CODE_BY_HASH = "SELECT * FROM authorization_code WHERE code_hash = ?"


def claim_code(digest: bytes, now: datetime) -> AuthorizationCode | None:
    """The unused code with this digest, now marked used, its `family_id` reserved for the
    family it issues; None if unknown or already used.

    Call inside a transaction: a request that then fails its checks rolls the claim back.
    """
    return first_raw(AuthorizationCode, CLAIM_CODE[engine()], _ms(now), digest)


def find_code(digest: bytes) -> AuthorizationCode | None:
    return first_raw(AuthorizationCode, CODE_BY_HASH, digest)


# -- refresh tokens (OAuth 2.1 §4.3.1: rotation, reuse detection) ----------------------------

CLAIM_REFRESH = (
    "UPDATE refresh_token SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL"
    " RETURNING *"
)
REFRESH_BY_HASH = "SELECT * FROM refresh_token WHERE token_hash = ?"
FAMILY_BY_ID = "SELECT * FROM token_family WHERE id = ?"


def claim_refresh_token(digest: bytes, now: datetime) -> RefreshToken | None:
    """The unrotated refresh token with this digest, now marked rotated (`.family` loaded);
    None if unknown, already rotated, or its family is gone."""
    row = first_raw(RefreshToken, CLAIM_REFRESH, _ms(now), digest)
    return _with_family(row)


def find_refresh_token(digest: bytes) -> RefreshToken | None:
    """The refresh token with this digest, rotated or not (`.family` loaded), or None."""
    return _with_family(first_raw(RefreshToken, REFRESH_BY_HASH, digest))


def _with_family(row: RefreshToken | None) -> RefreshToken | None:
    if row is None:
        return None
    row.family = first_raw(TokenFamily, FAMILY_BY_ID, row.family_id)
    return row if row.family is not None else None


# -- device codes (RFC 8628 §3.5: tokens exactly once) ---------------------------------------

CLAIM_DEVICE_CODE = (
    "UPDATE device_code SET status = 'used' WHERE device_code_hash = ? AND status = 'approved'"
    " RETURNING *"
)
LINK_DEVICE_CODE = "UPDATE device_code SET family_id = ? WHERE device_code_hash = ?"


def claim_device_code(digest: bytes) -> DeviceCode | None:
    """The approved device code with this digest, now marked used; None if it was not."""
    return first_raw(DeviceCode, CLAIM_DEVICE_CODE, digest)


def link_device_code(digest: bytes, family_id: int) -> None:
    execute(LINK_DEVICE_CODE, (family_id, digest))


# -- access tokens ------------------------------------------------------------------------

# The token and what it reads from its family. `revoked_at` is the token's own or its
# family's, so `is_live` needs nothing else.
ACCESS_COLUMNS = """
t.token_hash, t.family_id, t.scope, t.created_at, t.expires_at,
COALESCE(t.revoked_at, f.revoked_at) AS revoked_at, f.client_id, f.user_id, f.audience
"""
BEARER_SQL = f"""
SELECT {ACCESS_COLUMNS}
FROM access_token t JOIN token_family f ON f.id = t.family_id
WHERE t.token_hash = ?
"""  # noqa: S608 - built from constants, no input
# Introspection also needs the client's client_id, the user, the audience's owner and
# whether the caller owns any resource (RFC 7662 §4, rules/introspection.py).
INTROSPECT_SQL = f"""
SELECT {ACCESS_COLUMNS}, c.client_id AS client_identifier, u.sub, u.username,
       r.owner_id, EXISTS (SELECT 1 FROM resource WHERE owner_id = ?) AS caller_owns
FROM access_token t
JOIN token_family f ON f.id = t.family_id
JOIN oauth_client c ON c.id = f.client_id
LEFT JOIN "user" u ON u.id = f.user_id
LEFT JOIN resource r ON r.uri = f.audience
WHERE t.token_hash = ?
"""  # noqa: S608 - built from constants, no input
REVOKE_ACCESS = """
UPDATE access_token SET revoked_at = ?
WHERE token_hash = ? AND revoked_at IS NULL
  AND family_id IN (SELECT id FROM token_family WHERE client_id = ?)
"""


def is_live(row: AccessToken, now: datetime) -> bool:
    """Whether an access token row from this module is neither revoked nor expired."""
    return row.revoked_at is None and row.expires_at > now


def find_access_token(digest: bytes) -> AccessToken | None:
    """The access token with this digest, its family's client_id, user_id and audience
    read with it (plain attributes), or None."""
    return first_raw(AccessToken, BEARER_SQL, digest)


def introspection_row(digest: bytes, caller_id: int) -> AccessToken | None:
    """find_access_token's row plus client_identifier, sub, username, owner_id, caller_owns."""
    return first_raw(AccessToken, INTROSPECT_SQL, caller_id, digest)


def revoke_access_token(digest: bytes, client_id: int, now: datetime) -> int:
    """Revoke one access token if it was issued to `client_id` (RFC 7009 §2.1)."""
    cursor = execute(REVOKE_ACCESS, (_ms(now), digest, client_id))
    return cursor.rowcount


# -- a new grant: its family and tokens (issue.py) -----------------------------------------

FAMILY_COLUMNS = (
    "client_id, user_id, client_secret_id, grant_type, scope, audience, nonce, auth_time,"
    " created_at, expires_at"
)
# The id is the one a code's claim reserved, or, when none was (NULL), the next one: SQLite
# numbers a NULL rowid itself, PostgreSQL draws it from the identity column's sequence.
NEW_FAMILY = {
    "sqlite": f"INSERT INTO token_family (id, {FAMILY_COLUMNS})"  # noqa: S608 - constants
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "postgresql": f"INSERT INTO token_family (id, {FAMILY_COLUMNS})"  # noqa: S608 - constants
    f" VALUES (coalesce(?, {NEXT_FAMILY_ID['postgresql']}), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " RETURNING id",
}


def new_family(
    family_id: int | None,
    client_id: int,
    user_id: int | None,
    client_secret_id: int | None,
    grant_type: str,
    scope: str,
    audience: str,
    nonce: str | None,
    auth_time: datetime | None,
    now: datetime,
    expires_at: datetime,
) -> TokenFamily:
    """Store a new token family (one fixed INSERT) and return it; `family_id` is an id reserved
    for it (a code's claim), or None for the next one."""
    when = (_ms(auth_time), _ms(now), _ms(expires_at))
    params = (family_id, client_id, user_id, client_secret_id, grant_type, scope, audience, nonce)
    name = engine()
    cursor = execute(NEW_FAMILY[name], (*params, *when))
    if family_id is None:  # sqlite3 reports the new id as lastrowid; psycopg only by RETURNING
        family_id = cursor.lastrowid if name == "sqlite" else cursor.fetchone()[0]
    return loaded(
        TokenFamily,
        {
            "id": family_id,
            "client": client_id,
            "user": user_id,
            "client_secret": client_secret_id,
            "grant_type": grant_type,
            "scope": scope,
            "audience": audience,
            "nonce": nonce,
            "auth_time": auth_time,
            "created_at": now,
            "expires_at": expires_at,
            "revoked_at": None,
        },
    )


NEW_TOKEN = {
    model: f"INSERT INTO {model._meta.table_name}"  # noqa: S608 - a model's own name
    " (token_hash, family_id, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?)"
    for model in (AccessToken, RefreshToken)
}


def new_token(
    model: type[AccessToken | RefreshToken],
    digest: bytes,
    family_id: int,
    scope: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Store a new access or refresh token of family `family_id` (one fixed INSERT)."""
    execute(NEW_TOKEN[model], (digest, family_id, scope, _ms(now), _ms(expires_at)))


# -- throttle counters (rules/throttle.py) --------------------------------------------------


COUNT_RECENT = "(SELECT count(*) FROM throttle_event WHERE bucket = ? AND created_at > ?)"
_COUNT_EACH: dict[int, str] = {}  # number of buckets -> one SELECT counting each of them


def count_recent_each(
    buckets: list[str], window: timedelta, now: datetime | None = None
) -> list[int]:
    """How many throttle events each of `buckets` has had within `window`, in their order.

    Every client authentication counts two buckets: one statement, one indexed count each.
    """
    since = ThrottleEvent.created_at.db_value((now or utcnow()) - window)
    sql = _COUNT_EACH.get(len(buckets))
    if sql is None:
        sql = _COUNT_EACH[len(buckets)] = "SELECT " + ", ".join([COUNT_RECENT] * len(buckets))
    params = [value for bucket in buckets for value in (bucket, since)]
    return list(execute(sql, params).fetchone())


def count_recent(bucket: str, window: timedelta, now: datetime | None = None) -> int:
    """How many throttle events `bucket` has had within `window`."""
    return count_recent_each([bucket], window, now)[0]


def record_event(bucket: str, now: datetime | None = None) -> None:
    """Count one throttle event for `bucket`."""
    insert(ThrottleEvent, bucket=bucket, created_at=now or utcnow())
