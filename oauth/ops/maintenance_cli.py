"""`flask --app app db ...`: the schema (upgrade, status), upkeep (purge, backup) and the move
to PostgreSQL (copy)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from models import db, is_postgresql
from oauth.dialect import display
from oauth.ops import database_copy, maintenance
from oauth.ops.migrations import current_version, newest_version, upgrade


@click.group("db")
def db_cli() -> None:
    """Database schema and maintenance."""


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the pending blocks of migrations.sql (idempotent)."""
    applied = upgrade(current_app.config["DATABASE"])
    click.echo(f"applied migrations: {applied}" if applied else "database is up to date")


@db_cli.command("status")
def db_status() -> None:
    """Show the schema version and the newest migration."""
    target = current_app.config["DATABASE"]
    newest = newest_version()
    version = current_version(target)
    state = "up to date" if version == newest else f"{newest - version} pending"
    click.echo(f"database: {display(target)}\nschema version: {version} of {newest} ({state})")


@db_cli.command("purge")
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows each write transaction looks at (each table is walked once, in key order).",
)
@click.option("--pause", default=0.01, show_default=True, help="Seconds to yield between batches.")
def db_purge(batch_size: int, pause: float) -> None:
    """Delete expired codes, tokens, device codes, sessions, shown-once secrets, throttle
    events, and unvetted clients unused for 30 days; on SQLite, checkpoint the WAL.

    Safe while serving: each batch is its own short write transaction.
    """
    with db.connection_context():
        counts = maintenance.purge(batch_size=batch_size, pause=pause)
        if not is_postgresql():  # PostgreSQL's autovacuum does the upkeep there
            busy, wal_pages, done = maintenance.checkpoint()
    for table, count in counts.items():
        click.echo(f"{table}: {count} deleted")
    if not is_postgresql():
        state = "complete" if not busy else f"partial, {done} of {wal_pages} pages (readers active)"
        click.echo(f"WAL checkpoint: {state}")


@db_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def db_backup(path: str) -> None:
    """Copy the database to PATH with SQLite's online backup API (safe while serving).

    On PostgreSQL, says to use pg_dump and exits 1: nothing was backed up.
    """
    if is_postgresql():
        click.echo("db backup copies SQLite files; back up PostgreSQL with pg_dump", err=True)
        raise SystemExit(1)
    source = db.database  # the file create_app() initialised, as configured
    size = maintenance.backup(source, path)
    click.echo(f"backed up {source} to {path} ({size} bytes, integrity ok)")


@db_cli.command("copy")
@click.argument("url")
@with_appcontext
def db_copy(url: str) -> None:
    """Copy this SQLite instance (every table: users, clients, secrets, keys, tokens,
    consents, audit, ...) into the empty PostgreSQL database URL, postgresql://...

    Migrates URL to the current schema first and refuses a database that holds anything
    else. Copies in one transaction: on any error no row is kept. Prints each table's row
    count on both sides and fails if they differ. The instance is read as one snapshot, so
    it may keep serving, but what it writes after that is not copied: stop it to switch.
    """
    if is_postgresql():
        click.echo("db copy copies a SQLite instance; this one is already on PostgreSQL", err=True)
        raise SystemExit(1)
    try:
        source, target = database_copy.copy(db.obj, current_app.config["DATABASE"], url)
    except database_copy.CopyError as exc:
        click.echo(f"db copy: {exc}", err=True)
        raise SystemExit(1) from None
    width = max(len(table) for table in source)
    click.echo(f"{'table':<{width}}  {'sqlite':>8}  {'postgresql':>10}")
    for table, count in source.items():
        click.echo(f"{table:<{width}}  {count:>8}  {target[table]:>10}")
    click.echo(f"copied {sum(source.values())} rows to {display(url)}")
