"""What `make run` does on a fresh machine: migrate, bootstrap the first admin, serve.

The first `flask bootstrap` creates `admin` with a random password printed once, with the issuer
and the admin page URL; later runs print no password. With no GATEHOUSE_ISSUER, a loopback
GATEHOUSE_BIND sets the issuer, so the printed URLs point at the port gunicorn listens on.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import subprocess
import sys

import pytest

from app import create_app
from models import AuditEvent, User, db
from oauth.manage import users as accounts
from oauth.ops.instance import load_or_create_secret
from oauth.ops.migrations import upgrade
from oauth.settings import DEFAULTS, loopback_bind_issuer
from tests.helpers import ROOT
from tests.helpers.common import login

PASSWORD = re.compile(r"password: (\S+)")


def bootstrap(app) -> str:
    with app.app_context():  # `flask` pushes one for every command; the test runner doesn't
        result = app.test_cli_runner().invoke(args=["bootstrap"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def fresh(config, monkeypatch):
    """An app built from a config without ISSUER, as `make run` builds it."""
    monkeypatch.delenv("GATEHOUSE_ISSUER", raising=False)
    monkeypatch.delenv("GATEHOUSE_BIND", raising=False)

    def build(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        upgrade(config["DATABASE"])
        return create_app(config)

    yield build
    db.close()


def test_first_run_prints_the_admin_password_once_and_it_signs_in(fresh):
    app = fresh()
    first = bootstrap(app)
    password = PASSWORD.search(first).group(1)
    assert "username: admin" in first and "shown once" in first
    assert "change it at http://127.0.0.1:8000/account/password" in first  # how, not just "do"
    assert "flask --app app users passwd admin" in first
    assert "Gatehouse issuer: http://127.0.0.1:8000\n" in first
    assert "Admin pages:      http://127.0.0.1:8000/admin/apps" in first
    second = bootstrap(app)
    assert "password" not in second and "Created" not in second
    assert "Gatehouse issuer: http://127.0.0.1:8000" in second
    with db.connection_context():
        assert [(u.username, u.is_admin) for u in User.select()] == [("admin", True)]
    client = app.test_client()
    assert login(client, "admin", password).headers["Location"] == "/"
    form = {
        "name": "First",
        "client_type": "confidential",
        "token_endpoint_auth_method": "",
        "redirect_uris": "https://app.example.com/cb",
        "grant_types": ["authorization_code"],
    }
    created = client.post("/admin/apps/new", data=form, follow_redirects=True)
    assert created.status_code == 200 and "New client secret" in created.get_data(as_text=True)


def test_the_first_admin_is_audited_without_the_password(fresh):
    password = PASSWORD.search(bootstrap(fresh())).group(1)
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.action == "user.create")
    assert (event.actor, event.target) == ("cli", "admin")
    assert event.changes["is_admin"] == [None, True]
    assert password not in str(event.changes)


def test_no_admin_is_created_when_users_exist(fresh):
    app = fresh()
    with db.connection_context():
        accounts.create_user("alice", password="correct horse battery")
    assert "password" not in bootstrap(app)
    with db.connection_context():
        assert User.select().count() == 1


def test_a_loopback_bind_sets_the_printed_urls(fresh):
    output = bootstrap(fresh(GATEHOUSE_BIND="127.0.0.1:9123"))
    assert "Gatehouse issuer: http://127.0.0.1:9123\n" in output
    assert "Admin pages:      http://127.0.0.1:9123/admin/apps" in output


def test_an_explicit_issuer_wins_over_the_bind(fresh):
    app = fresh(GATEHOUSE_BIND="127.0.0.1:9123", GATEHOUSE_ISSUER="https://id.example.com")
    assert app.config["ISSUER"] == "https://id.example.com"


@pytest.mark.parametrize(
    ("bind", "issuer"),
    [
        ("127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("localhost:9000", "http://localhost:9000"),
        ("[::1]:9000", "http://[::1]:9000"),
        ("127.0.0.1", None),  # no port: gunicorn's default, leave the issuer alone
        ("0.0.0.0:8000", None),  # not loopback: the issuer must be configured
        ("10.0.0.5:8000", None),
        ("unix:/run/gatehouse.sock", None),
        ("127.0.0.1:port", None),
    ],
)
def test_loopback_bind_issuer(bind, issuer):
    assert loopback_bind_issuer(bind) == issuer


def test_the_default_bind_gives_the_default_issuer():
    assert loopback_bind_issuer(DEFAULTS["BIND"]) == DEFAULTS["ISSUER"]


# -- the secret key ------------------------------------------------------------------------


def test_secret_key_is_generated_once_with_mode_0600(tmp_path):
    key = load_or_create_secret(str(tmp_path))
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert load_or_create_secret(str(tmp_path)) == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temp files left


def test_a_worker_starting_meanwhile_never_reads_a_half_written_key(tmp_path, monkeypatch):
    """gunicorn workers build the app at the same moment: one loads the key while another is
    still generating it, and both must end up with the same whole key."""
    generate = secrets.token_hex
    racer: list[str] = []

    def token_hex_while_another_worker_loads(nbytes: int) -> str:
        monkeypatch.setattr(secrets, "token_hex", generate)  # the other worker's own key
        racer.append(load_or_create_secret(str(tmp_path)))
        return generate(nbytes)

    monkeypatch.setattr(secrets, "token_hex", token_hex_while_another_worker_loads)
    key = load_or_create_secret(str(tmp_path))
    assert racer == [key] and len(key) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_no_database_connection_at_import_or_app_creation(tmp_path):
    """gunicorn forks after loading: each worker must open its own connection, later."""
    code = (
        "import app, models\n"
        "assert models.db.obj is None\n"  # no database chosen yet, so none opened
        "app.create_app()\n"
        "assert models.db.is_closed()\n"
    )
    env = {**os.environ, "GATEHOUSE_DATABASE": str(tmp_path / "g.sqlite3")}
    env["GATEHOUSE_SECRET_KEY"] = "k" * 64
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    assert not (tmp_path / "g.sqlite3").exists()


# -- the recipes around it -----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_migrates_bootstraps_then_serves():
    result = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()

    def step(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    assert step("flask --app app db upgrade") < step("flask --app app bootstrap")
    assert step("flask --app app bootstrap") < step(
        "gunicorn -c gunicorn.conf.py 'app:create_app()'"
    )


def test_procfile_migrates_on_release_and_serves_gunicorn():
    lines = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert lines["release"] == "flask --app app db upgrade"
    assert lines["web"] == "gunicorn -c gunicorn.conf.py 'app:create_app()'"


@pytest.fixture
def bare_machine(tmp_path):
    """A PATH with bash's helpers and stubs: `apt-get` and `make` log their arguments (and
    the CI variable they saw, in ci.log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    log = tmp_path / "calls.log"

    def stub(name: str, exit_code: int = 0) -> None:
        script = (
            f'#!/bin/bash\necho "{name} $*" >> {log}\necho "$CI" >> {tmp_path / "ci.log"}\n'
            f"exit {exit_code}\n"
        )
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)

    def run(*present: str, make_exit: int = 0) -> tuple[int, list[str]]:
        stub("apt-get")
        for tool in present:
            stub(tool, make_exit if tool == "make" else 0)
        env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
        result = subprocess.run([str(bin_dir / "bash"), str(ROOT / ".ci" / "run")], env=env)
        return result.returncode, log.read_text().splitlines() if log.exists() else []

    return run


def test_ci_installs_what_is_missing_then_runs_make_test(bare_machine):
    code, calls = bare_machine("make", "wrk", "node", "npm", "initdb")
    assert code == 0
    assert calls[0] == "apt-get update -qq"
    assert calls[1] == "apt-get install -y -qq chromium"
    assert calls[-1] == "make test"


def test_ci_on_a_machine_with_everything_only_runs_make_test(bare_machine):
    assert bare_machine("make", "chromium", "wrk", "node", "npm", "initdb") == (0, ["make test"])


def test_ci_installs_node_and_npm_for_the_node_interop_tests(bare_machine, tmp_path):
    code, calls = bare_machine("make", "chromium", "wrk", "initdb")
    assert code == 0
    assert calls == ["apt-get update -qq", "apt-get install -y -qq nodejs npm", "make test"]
    # CI is set, so the Node.js tests fail instead of skipping if node is still missing.
    assert (tmp_path / "ci.log").read_text().splitlines()[-1] == "true"


@pytest.mark.parametrize("make_exit", [1, 2, 5])
def test_ci_fails_when_make_test_fails(bare_machine, make_exit):
    """Exit 5 is pytest's "no tests collected": a CI run that tested nothing must fail."""
    code, calls = bare_machine(
        "make", "chromium", "wrk", "node", "npm", "initdb", make_exit=make_exit
    )
    assert calls == ["make test"] and code == make_exit


def test_ci_installs_make_when_the_machine_has_none(bare_machine):
    _, calls = bare_machine("chromium", "wrk", "node", "npm", "initdb")
    assert calls[:2] == ["apt-get update -qq", "apt-get install -y -qq make"]


@pytest.mark.parametrize("present", ["initdb", "pg_ctlcluster"])
def test_ci_keeps_an_installed_postgresql(bare_machine, present):
    """initdb on PATH, or Debian's pg_ctlcluster (its initdb lives off PATH)."""
    assert bare_machine("make", "chromium", "wrk", "node", "npm", present) == (0, ["make test"])


def test_ci_installs_postgresql_for_the_second_half_of_the_tests(bare_machine):
    code, calls = bare_machine("make", "chromium", "wrk", "node", "npm")
    assert code == 0
    assert calls == ["apt-get update -qq", "apt-get install -y -qq postgresql", "make test"]
