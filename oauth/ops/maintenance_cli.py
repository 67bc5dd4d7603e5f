"""`flask --app app db ...`: the schema (upgrade, status) and upkeep (purge, backup)."""

from __future__ import annotations

import sqlite3

import click
from flask import current_app

from models import db, private_database
from oauth.ops import maintenance
from oauth.ops.migrations import newest_version, schema_version, upgrade


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
    path = current_app.config["DATABASE"]
    newest = newest_version()
    private_database(path)
    conn = sqlite3.connect(path)
    try:
        version = schema_version(conn)
    finally:
        conn.close()
    state = "up to date" if version == newest else f"{newest - version} pending"
    click.echo(f"database: {path}\nschema version: {version} of {newest} ({state})")


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
    """Delete expired codes, tokens, device codes, sessions, throttle events, and unvetted
    clients unused for 30 days; checkpoint the WAL.

    Safe while serving: each batch is its own short write transaction.
    """
    with db.connection_context():
        counts = maintenance.purge(batch_size=batch_size, pause=pause)
        busy, wal_pages, done = maintenance.checkpoint()
    for table, count in counts.items():
        click.echo(f"{table}: {count} deleted")
    state = "complete" if not busy else f"partial, {done} of {wal_pages} pages (readers active)"
    click.echo(f"WAL checkpoint: {state}")


@db_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def db_backup(path: str) -> None:
    """Copy the database to PATH with SQLite's online backup API (safe while serving)."""
    source = db.database  # the file create_app() initialised, as configured
    size = maintenance.backup(source, path)
    click.echo(f"backed up {source} to {path} ({size} bytes, integrity ok)")
