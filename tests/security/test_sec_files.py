"""Secrets at rest (issue 9 §5): the database, its -wal, -shm and -writer, the secret key and
backups are 0600 and the instance folder 0700 whatever the umask; a backup is a new file created
beside its target and renamed into place, never written through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app import create_app
from models import User, db
from oauth.ops import maintenance
from oauth.ops.instance import load_or_create_secret
from oauth.ops.migrations import upgrade

pytestmark = pytest.mark.sqlite_only  # files on disk; PostgreSQL keeps its own
UMASKS = [0o022, 0o000]


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=UMASKS, ids=lambda u: f"umask{u:03o}")
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_database_wal_and_shm_are_0600(umask, config):
    upgrade(config["DATABASE"])
    create_app(config)
    suffixes = ("", "-wal", "-shm", "-writer")
    with db.connection_context():
        User.create(username="alice", sub="sub-alice")  # a write: -wal and -shm exist now
        with db.atomic("IMMEDIATE"):  # a write transaction: it queued on -writer
            pass
        modes = {suffix: mode(config["DATABASE"] + suffix) for suffix in suffixes}
    db.close()
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600, "-writer": 0o600}


def test_a_worker_creating_the_database_makes_it_0600(umask, config):
    """No migration ran first: the first connection creates the file."""
    create_app(config)
    with db.connection_context():
        db.execute_sql("CREATE TABLE t (x)")
    db.close()
    assert mode(config["DATABASE"]) == 0o600


def test_older_loose_database_files_are_tightened(config):
    upgrade(config["DATABASE"])
    os.chmod(config["DATABASE"], 0o644)
    upgrade(config["DATABASE"])
    assert mode(config["DATABASE"]) == 0o600


def test_secret_key_is_0600(umask, tmp_path):
    load_or_create_secret(str(tmp_path))
    assert mode(tmp_path / "secret_key") == 0o600


def test_instance_folder_is_0700(umask, config):
    app = create_app(config)
    os.chmod(app.instance_path, 0o755)  # noqa: S103 - as an older Gatehouse, or a loose umask, left it
    app = create_app(config)
    assert mode(app.instance_path) == 0o700


def test_backup_is_0600(umask, app, tmp_path, config):
    dest = tmp_path / "backup.sqlite3"
    maintenance.backup(config["DATABASE"], str(dest))
    assert mode(dest) == 0o600
    assert [p.name for p in tmp_path.iterdir() if "backup" in p.name] == ["backup.sqlite3"]


def test_backup_never_follows_a_dangling_symlink_at_partial(app, tmp_path, config):
    dest = tmp_path / "backup.sqlite3"
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    Path(f"{dest}.partial").symlink_to(target)
    maintenance.backup(config["DATABASE"], str(dest))
    assert not target.exists()
    assert dest.is_file() and not dest.is_symlink()


def test_backup_replaces_a_symlink_at_the_destination_without_following_it(
    runner, app, tmp_path, config
):
    dest = tmp_path / "backup.sqlite3"
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    dest.symlink_to(target)
    result = runner.invoke(args=["db", "backup", str(dest)])
    assert result.exit_code == 0, result.output
    assert not target.exists()
    assert dest.is_file() and not dest.is_symlink() and mode(dest) == 0o600


def test_a_failed_backup_leaves_nothing_behind(app, tmp_path, config, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        maintenance.backup(config["DATABASE"], str(tmp_path / "b.sqlite3"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".b.sqlite3", "b.sqlite3"))]
