"""Database upkeep while serving: purge expired rows in small batches, checkpoint, back up.

No Flask here: `flask db purge` and `flask db backup` (maintenance_cli.py) call these, and
tests call them directly. Every batch is its own short IMMEDIATE transaction, so a running
server's writers wait at most one batch (well inside the busy timeout) and never see `database
is locked`.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import Expression, Model, fn

from models import (
    AccessToken,
    AuthorizationCode,
    Client,
    DeviceCode,
    InitialAccessToken,
    RefreshToken,
    ShownOnce,
    ThrottleEvent,
    TokenFamily,
    UserSession,
    db,
    utcnow,
)

# Rows kept this long past their end, so a late replay of a code or a rotated refresh token
# is still recognised (and revokes its family) for a while after it stopped working.
GRACE = timedelta(days=1)
# Throttle counters only look back minutes; a day is far beyond any window in use.
THROTTLE_KEEP = timedelta(days=1)
# A client that registered itself and has not been used for this long is forgotten.
UNVETTED_IDLE = timedelta(days=30)


@dataclass(frozen=True)
class Rule:
    """Which rows of one table are garbage at `now`."""

    model: type[Model]
    garbage: Callable[[datetime], Expression]
    label: str = ""  # how `db purge` names what it deleted; the table name by default

    @property
    def name(self) -> str:
        return self.label or self.model._meta.table_name


def _exists(model: type[Model], condition: Expression) -> Expression:
    return fn.EXISTS(model.select(model._meta.primary_key).where(condition))


def _family_garbage(now: datetime) -> Expression:
    # Past its absolute lifetime, or revoked a day ago, a family is a husk. Its tokens go
    # with it (the rules below): without their family they were already dead.
    return (TokenFamily.expires_at < now - GRACE) | (TokenFamily.revoked_at < now - GRACE)


def _orphan(model: type[Model]) -> Expression:
    """Tokens whose family is gone (purged, or its client or user deleted): dead already."""
    return ~_exists(TokenFamily, TokenFamily.id == model.family_id)


def _session_garbage(now: datetime) -> Expression:
    return (UserSession.expires_at < now) | (UserSession.revoked_at < now - GRACE)


def _idle_unvetted_client(now: datetime) -> Expression:
    """Unvetted, and for UNVETTED_IDLE: not created or changed, no code, device code or token
    issued, and no grant still live. Anyone can make these; nobody should have to clean up."""
    since = now - UNVETTED_IDLE
    mine = Client.id
    used = [
        _exists(model, (model.client == mine) & (model.created_at > since))
        for model in (AuthorizationCode, DeviceCode, TokenFamily)
    ]
    live = _exists(
        TokenFamily,
        (TokenFamily.client == mine)
        & TokenFamily.revoked_at.is_null()
        & (TokenFamily.expires_at > now),
    )
    idle = (Client.created_at < since) & (Client.updated_at < since)
    unused = ~used[0] & ~used[1] & ~used[2]
    return (Client.vetted == False) & idle & unused & ~live  # noqa: E712


# Order matters: families before their tokens, so the tokens they leave go in the same run.
RULES: list[Rule] = [
    Rule(AuthorizationCode, lambda now: AuthorizationCode.expires_at < now - GRACE),
    Rule(DeviceCode, lambda now: DeviceCode.expires_at < now - GRACE),
    Rule(TokenFamily, _family_garbage),
    Rule(AccessToken, lambda now: (AccessToken.expires_at < now) | _orphan(AccessToken)),
    Rule(
        RefreshToken,
        lambda now: (RefreshToken.expires_at < now - GRACE) | _orphan(RefreshToken),
    ),
    Rule(UserSession, _session_garbage),
    # A new secret not shown before its row expired (the admin never followed the redirect).
    Rule(ShownOnce, lambda now: ShownOnce.expires_at < now),
    Rule(InitialAccessToken, lambda now: InitialAccessToken.expires_at < now - GRACE),
    Rule(ThrottleEvent, lambda now: ThrottleEvent.created_at < now - THROTTLE_KEEP),
    # Last: its codes and families cascade with it (their tokens go in the next run).
    Rule(Client, _idle_unvetted_client, "unvetted clients unused for 30 days"),
]


def purge_table(rule: Rule, now: datetime, batch_size: int, pause: float = 0.0) -> int:
    """Delete `rule`'s garbage, walking the table once in key order; return the count.

    Each step reads the next `batch_size` keys (outside the write lock), then deletes the
    garbage among them in its own short IMMEDIATE transaction: a write lock never covers more
    than `batch_size` rows, however few of them are garbage. So no table needs an index on its
    expiry for this; the grant tables have none (migrations.sql, block 7).
    """
    model = rule.model
    key = model._meta.primary_key
    total, last = 0, None
    while True:
        window = model.select(key).order_by(key).limit(batch_size)
        if last is not None:
            window = window.where(key > last)
        keys = [k for (k,) in window.tuples()]
        if not keys:
            return total
        with db.atomic("IMMEDIATE"):
            in_window = (key >= keys[0]) & (key <= keys[-1])
            total += model.delete().where(in_window & rule.garbage(now)).execute()
        last = keys[-1]
        if pause:
            time.sleep(pause)  # let waiting writers in between batches


def purge(now: datetime | None = None, batch_size: int = 500, pause: float = 0.0) -> dict[str, int]:
    """Purge every table's expired rows; return {table or rule label: rows deleted}."""
    now = now or utcnow()
    return {rule.name: purge_table(rule, now, batch_size, pause) for rule in RULES}


def checkpoint() -> tuple[int, int, int]:
    """Checkpoint the WAL into the database and truncate it: (busy, wal pages, checkpointed).

    `busy` is 1 when readers kept part of the WAL in use; journal_size_limit (models.PRAGMAS)
    still bounds the file, and the next checkpoint finishes the job.
    """
    return tuple(db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())


def backup(source: str, dest: str) -> int:
    """Copy the live database to `dest` with SQLite's online backup API; return its size.

    The copy is a single file (rollback journal, not WAL), mode 0600, written to a new file
    created exclusively beside `dest` (mkstemp: O_EXCL, never through a symlink), checked with
    `PRAGMA integrity_check`, then renamed over `dest`; a symlink at `dest` is replaced, never
    followed.
    """
    directory, name = os.path.split(os.path.abspath(dest))
    fd, partial = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".partial")
    os.close(fd)
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out)  # one step: a consistent snapshot, writers keep going under WAL
                out.execute("PRAGMA journal_mode=DELETE")
                (result,) = out.execute("PRAGMA integrity_check").fetchone()
            finally:
                out.close()
        finally:
            src.close()
        if result != "ok":
            raise RuntimeError(f"backup failed its integrity check: {result}")
        os.replace(partial, dest)
    except BaseException:
        for leftover in (partial, partial + "-journal"):
            if os.path.lexists(leftover):
                os.remove(leftover)
        raise
    return os.path.getsize(dest)
