"""migrations.sql and models.py agree; the runner is versioned and idempotent."""

import sqlite3

import pytest

from models import MODELS, db
from oauth.ops.migrations import MIGRATIONS, parse_migrations, upgrade


def test_block_numbers_run_one_to_n():
    numbers = [n for n, _ in parse_migrations(MIGRATIONS.read_text())]
    assert numbers == list(range(1, len(numbers) + 1))


def test_upgrade_twice_is_a_noop(tmp_path):
    path = str(tmp_path / "m.sqlite3")
    first = upgrade(path)
    assert first and upgrade(path) == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == first[-1]
    conn.close()


def test_every_model_matches_its_table(app):
    with db.connection_context():
        tables = set(db.get_tables())
        for model in MODELS:
            table = model._meta.table_name
            assert table in tables, f"{model.__name__}: no table {table}"
            columns = {c.name for c in db.get_columns(table)}
            fields = {f.column_name for f in model._meta.sorted_fields}
            assert fields == columns, f"{model.__name__} differs from table {table}"


def test_failing_block_leaves_nothing_behind(tmp_path):
    from oauth.ops.migrations import apply_migrations

    path = str(tmp_path / "bad.sqlite3")
    text = "-- migrate: 1\nCREATE TABLE a (id INTEGER);\n-- migrate: 2\nCREATE TABLE b (x);\nNOPE;"
    with pytest.raises(sqlite3.Error):
        apply_migrations(path, text)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"a"}
    conn.close()


def test_pragmas_are_applied(app):
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
