"""`db copy URL`: this SQLite instance, every row of every model, into an empty PostgreSQL database.

The way from one host to several (README "Running on several hosts"). The target is migrated
to the current schema first (the same migrations.sql blocks, in their PostgreSQL form) and
must then hold no rows. The copy goes through the Peewee models, not through SQL text: each
row is read with the source's field conversions (SQLite's TEXT timestamps and 0/1 booleans
become Python values) and written with the target's (TIMESTAMP, BOOLEAN), so nothing is
translated by hand. The source is read in one read transaction (one consistent snapshot,
while the instance keeps serving) and the target written in one transaction: the copy is
all there or not there. Rows keep their ids, so the target's identity sequences are moved
past them before the end, and the row counts of both sides must agree or nothing is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import psycopg
from peewee import AutoField, Database, DatabaseError, Model, chunked, sort_models

from models import MODELS, CacheVersion
from oauth.dialect import PostgresDatabase, is_postgresql_url, url_problem
from oauth.ops.migrations import current_version, newest_version, upgrade

BATCH = 500  # rows per INSERT: few round trips, bounded memory
VERSION_TABLE = "gatehouse_schema_version"
# PostgreSQL only, like the whole target side: an identity column keeps counting from its own
# sequence, which the explicit ids did not move. The next id after MAX(id), or 1 when empty.
RESET_IDENTITY_SQL = (
    "SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({column}), 0) + 1, false)"
    " FROM {table}"
)


class CopyError(Exception):
    """Why nothing was copied: one line for the person who ran the command."""


def table_of(model: type[Model]) -> str:
    return model._meta.table_name


def count_rows(database: Database, models: Iterable[type[Model]]) -> dict[str, int]:
    """Rows per table of `models` in `database`."""
    return {table_of(m): m.select().count(database) for m in sorted(models, key=table_of)}


def mismatches(source: dict[str, int], target: dict[str, int]) -> list[str]:
    """The tables whose row counts differ between the two sides."""
    return [table for table in source if source[table] != target.get(table)]


def check_target(url: str) -> None:
    """Refuse anything but a postgresql:// URL naming a database without other tables."""
    if not is_postgresql_url(url):
        raise CopyError(f"the target must be a postgresql:// URL, not {url!r}")
    problem = url_problem(url)
    if problem:
        raise CopyError(f"the target URL {problem}")


def foreign_tables(target: Database) -> list[str]:
    """Tables in the target's schema that are not Gatehouse's (the target must be empty)."""
    ours = {table_of(m) for m in MODELS} | {VERSION_TABLE}
    cursor = target.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    return sorted(name for (name,) in cursor.fetchall() if name not in ours)


def prepare_target(source_path: str, url: str, target: Database) -> None:
    """Check both sides, then migrate the target to the current schema; raise CopyError."""
    newest = newest_version()
    if current_version(source_path) != newest:
        raise CopyError("this instance's schema is not current: run `db upgrade` first")
    others = foreign_tables(target)
    if others:
        raise CopyError(f"the target database is not empty: it has other tables ({others[0]}, ...)")
    upgrade(url)
    if current_version(url) != newest:
        raise CopyError(f"the target's schema is version {current_version(url)}, not {newest}")
    # cache_version's one row comes with the schema (migrations 9, 10); it holds no data.
    data = [model for model in MODELS if model is not CacheVersion]
    full = {table: n for table, n in count_rows(target, data).items() if n}
    if full:
        table, n = next(iter(full.items()))
        why = f"the target database is not empty: {table} has {n} rows; copy into a new database"
        raise CopyError(why)


def rows_of(model: type[Model], source: Database) -> Iterator[tuple]:
    """Every row of `model` in id order, converted to Python values by its fields."""
    fields = model._meta.sorted_fields
    query = model.select(*fields).order_by(model._meta.primary_key).tuples()
    return query.iterator(source)


def reset_identity(model: type[Model], target: Database) -> None:
    key = model._meta.primary_key
    if isinstance(key, AutoField):
        sql = RESET_IDENTITY_SQL.format(column=f'"{key.column_name}"', table=f'"{table_of(model)}"')
        target.execute_sql(sql, (f'"{table_of(model)}"', key.column_name))


def copy(source: Database, source_path: str, url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Copy every model's rows from `source` (SQLite, open) into the PostgreSQL `url`.

    Returns the row counts per table of (source, target). Raises CopyError, leaving the
    target as it was (apart from the migrations) when anything goes wrong.
    """
    check_target(url)
    target = PostgresDatabase(url, lock_timeout_ms=30_000)
    try:
        return _copy(source, source_path, url, target)
    except (DatabaseError, psycopg.Error) as exc:  # unreachable, refused, a constraint, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CopyError(f"nothing was copied: {reason}") from exc
    finally:
        target.close()


def _copy(
    source: Database, source_path: str, url: str, target: Database
) -> tuple[dict[str, int], dict[str, int]]:
    prepare_target(source_path, url, target)
    models = sort_models(MODELS)  # parents before the rows that point at them
    with source.atomic(), target.atomic():  # one snapshot read, one transaction written
        for model in models:
            if model is CacheVersion:  # the target's own one-row counters (migrations 9, 10): its
                continue  # triggers bumped them while the rows were copied, as caches need
            fields = model._meta.sorted_fields
            for batch in chunked(rows_of(model, source), BATCH):
                model.insert_many(batch, fields=fields).execute(target)
            reset_identity(model, target)
        before = count_rows(source, models)
        after = count_rows(target, models)
        different = mismatches(before, after)
        if different:  # raised inside the transaction: it rolls back
            table = different[0]
            raise CopyError(
                f"row counts differ for {table}: {before[table]} here, "
                f"{after.get(table)} copied; nothing was kept"
            )
    return before, after
