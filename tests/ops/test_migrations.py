"""migrations.sql and models.py agree on both engines; the runner is versioned and idempotent."""

import sqlite3

import psycopg
import pytest

from models import MODELS, db
from oauth.ops.migrations import (
    ENGINES,
    MIGRATIONS,
    MigrationError,
    apply_migrations,
    apply_postgresql,
    current_version,
    for_engine,
    newest_version,
    parse_migrations,
    upgrade,
)
from tests.helpers import postgresql


@pytest.fixture
def empty_database(engine, tmp_path):
    """A database no migration has touched: a new SQLite path, or a new PostgreSQL database."""
    if engine == "sqlite":
        yield str(tmp_path / "m.sqlite3")
        return
    url = postgresql.create_database(postgresql.server_url())
    yield url
    postgresql.drop_database(url)


def test_block_numbers_run_one_to_n():
    numbers = [n for n, _ in parse_migrations(MIGRATIONS.read_text())]
    assert numbers == list(range(1, len(numbers) + 1))


def test_every_block_reads_on_both_engines():
    for number, sql in parse_migrations(MIGRATIONS.read_text()):
        for engine in ENGINES:
            assert for_engine(number, sql, engine).strip(), (number, engine)


def test_each_engine_runs_the_shared_statements_and_its_own_form():
    block = "CREATE TABLE a (x);\n-- sqlite:\nSQLITE ONLY;\n-- postgresql:\nPOSTGRES ONLY;\n"
    assert for_engine(1, block, "sqlite") == "CREATE TABLE a (x);\n\nSQLITE ONLY;\n"
    assert for_engine(1, block, "postgresql") == "CREATE TABLE a (x);\n\nPOSTGRES ONLY;\n"
    assert for_engine(2, "SAME ON BOTH;\n", "postgresql") == "SAME ON BOTH;\n"


def test_a_block_with_only_one_engines_form_is_refused():
    with pytest.raises(MigrationError, match="block 7 has no `-- postgresql:` form"):
        for_engine(7, "-- sqlite:\nCREATE TABLE a (x) WITHOUT ROWID;\n", "sqlite")
    with pytest.raises(MigrationError, match="two `-- sqlite:` forms"):
        for_engine(7, "-- sqlite:\nA;\n-- sqlite:\nB;\n-- postgresql:\nC;\n", "postgresql")


def test_upgrade_twice_is_a_noop(empty_database):
    first = upgrade(empty_database)
    assert first == list(range(1, newest_version() + 1))
    assert upgrade(empty_database) == []
    assert current_version(empty_database) == first[-1]


def test_every_model_matches_its_table(app):
    """Column names and nullability, on the engine of the test."""
    with db.connection_context():
        tables = set(db.get_tables())
        for model in MODELS:
            table = model._meta.table_name
            assert table in tables, f"{model.__name__}: no table {table}"
            columns = {c.name: c.null for c in db.get_columns(table)}
            fields = {f.column_name: f.null for f in model._meta.sorted_fields}
            assert set(fields) == set(columns), f"{model.__name__} differs from table {table}"
            if "id" in columns:  # SQLite reports an INTEGER PRIMARY KEY as nullable; never is
                columns["id"] = False
            assert fields == columns, f"{model.__name__}: nullability differs from {table}"


@pytest.mark.sqlite_only
def test_failing_block_leaves_nothing_behind(tmp_path):
    path = str(tmp_path / "bad.sqlite3")
    text = "-- migrate: 1\nCREATE TABLE a (id INTEGER);\n-- migrate: 2\nCREATE TABLE b (x);\nNOPE;"
    with pytest.raises(sqlite3.Error):
        apply_migrations(path, text)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"a"}
    conn.close()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_failing_block_leaves_nothing_behind_on_postgresql(empty_database):
    text = (
        "-- migrate: 1\nCREATE TABLE a (id INTEGER);\n-- migrate: 2\nCREATE TABLE b (x INT);\nNOPE;"
    )
    with pytest.raises(psycopg.Error):
        apply_postgresql(empty_database, text)
    assert current_version(empty_database) == 1
    with psycopg.connect(empty_database) as conn:
        names = {
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename < 'c'")
        }
    assert names == {"a"}


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_postgresql_keeps_its_version_in_one_row(empty_database):
    upgrade(empty_database)
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute("SELECT version FROM gatehouse_schema_version").fetchall()
    assert rows == [(newest_version(),)]


def test_db_status_and_upgrade_on_each_engine(app, runner):
    newest = newest_version()
    with app.app_context():  # as the `flask` command gives its commands
        assert runner.invoke(args=["db", "upgrade"]).output == "database is up to date\n"
        result = runner.invoke(args=["db", "status"])
    assert result.exit_code == 0, result.output
    assert f"schema version: {newest} of {newest} (up to date)" in result.output


@pytest.mark.sqlite_only
def test_pragmas_are_applied(app):
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
