"""Settings mean what they say (issue 9 §3): one strict reader, a bad value stops the start with
one line and exit status 2 (flask commands and gunicorn alike), unknown names are warned about."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import create_app
from oauth.dialect import display
from oauth.settings import SettingsError, metrics_dir, read_settings, unknown_names
from tests.helpers import ROOT
from tests.helpers.live import free_port

KEY = "k" * 64


def run(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    """`python -m ARGS` (or `python -c` for one string) with a clean GATEHOUSE_* environment
    plus `env`. `make run` starts with the same `flask --app app` command."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    full = {
        **clean,
        "GATEHOUSE_DATABASE": str(tmp_path / "g.sqlite3"),
        "GATEHOUSE_SECRET_KEY": KEY,
        **env,
    }
    argv = [sys.executable, "-c", args[0]] if len(args) == 1 else [sys.executable, "-m", *args]
    return subprocess.run(argv, cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


FLASK = ["flask", "--app", "app", "db", "status"]
GUNICORN = ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]


# -- the reproductions ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["off", "OFF", "no", "No", "false", "0"])
def test_mock_off_means_off(value):
    assert read_settings({"GATEHOUSE_MOCK": value})["MOCK"] is False


@pytest.mark.parametrize("value", ["on", "ON", "yes", "true", "True", "1"])
def test_mock_on_means_on(value):
    assert read_settings({"GATEHOUSE_MOCK": value})["MOCK"] is True


def test_mock_off_starts_a_server_without_mock_mode(tmp_path):
    """Through a real process, as `make run` would: `GATEHOUSE_MOCK=off` means off."""
    code = "import app; print(app.create_app().config['MOCK'])"
    result = run(["-c", code][1:], tmp_path, GATEHOUSE_MOCK="off")
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("command", [FLASK, GUNICORN], ids=["flask", "gunicorn"])
@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("ACCESS_TOKEN_TTL", "abc", "must be an integer from 1 to 86400"),
        ("ACCESS_TOKEN_TTL", "0", "must be an integer from 1 to 86400"),
        ("MOCK", "maybe", "must be one of 1/0, true/false, yes/no, on/off"),
        ("MOCK", "", "must be one of 1/0, true/false, yes/no, on/off"),
        ("REGISTRATION", "closed", "must be one of open, admin, off"),
        ("CODE_TTL", "3600", "must be an integer from 1 to 600"),
        ("WORKERS", "2.5", "must be an integer from 1 to 64"),
        ("ISSUER", "", "issuer must be an http(s) URL without query or fragment"),
        ("BIND", "", "must be HOST:PORT (port 1 to 65535), unix:PATH or fd://N"),
        ("BIND", "127.0.0.1:99999", "must be HOST:PORT (port 1 to 65535), unix:PATH or fd://N"),
        ("ISSUER", "ftp://example.com", "issuer must be an http(s) URL without query or fragment"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_status_2(tmp_path, command, name, value, why):
    port = free_port()
    env = {"GATEHOUSE_BIND": f"127.0.0.1:{port}", f"GATEHOUSE_{name}": value}
    result = run(command, tmp_path, **env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"gatehouse: GATEHOUSE_{name}={value}: {why}"]
    assert "Traceback" not in result.stderr and "Listening" not in result.stderr


def test_the_secret_key_is_never_echoed(tmp_path):
    result = run(FLASK, tmp_path, GATEHOUSE_SECRET_KEY="hunter2-too-short")
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert result.stderr.startswith("gatehouse: GATEHOUSE_SECRET_KEY=(hidden): ")


def test_a_misspelled_name_is_warned_about_with_the_nearest_one(tmp_path):
    result = run(FLASK, tmp_path, GATEHOUSE_ACCES_TOKEN_TTL="60")
    assert result.returncode == 0, result.stderr
    assert (
        "gatehouse: warning: GATEHOUSE_ACCES_TOKEN_TTL is not a setting and is ignored; "
        "did you mean GATEHOUSE_ACCESS_TOKEN_TTL?"
    ) in result.stderr.splitlines()


def test_tool_names_are_not_warned_about():
    assert unknown_names({"GATEHOUSE_URL": "x", "GATEHOUSE_SLOW": "1", "HOME": "/"}) == []
    assert len(unknown_names({"GATEHOUSE_MOCKK": "1"})) == 1


def test_typed_overrides_from_tests_are_checked_too(config):
    config["CODE_TTL"] = 601
    with pytest.raises(SettingsError, match="GATEHOUSE_CODE_TTL=601: must be an integer"):
        create_app(config)


# -- GATEHOUSE_DATABASE: a SQLite file or a postgresql:// URL ------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("postgresql://db.example:5432", "must name one database: "),
        ("postgresql://db.example/a/b", "must name one database: "),
        ("postgresql:///gatehouse", "needs a host: "),
        ("postgresql:///gatehouse?host=run/pg", "needs a host: "),
        ("postgresql://db.example:99999/g", "not a valid postgresql:// URL"),
        ("postgres://db.example/gatehouse", "must be a SQLite file path or a postgresql:// URL"),
        ("mysql://db.example/gatehouse", "must be a SQLite file path or a postgresql:// URL"),
    ],
)
def test_a_bad_database_url_is_one_line_and_exit_status_2(tmp_path, value, why):
    result = run(FLASK, tmp_path, GATEHOUSE_DATABASE=value)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"gatehouse: GATEHOUSE_DATABASE={value}: {why}")


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://gatehouse:secret@db.example:5432/gatehouse",
        "postgresql://db.example/gatehouse",
        "postgresql:///gatehouse?host=/run/postgresql",
        "instance/gatehouse.sqlite3",
    ],
)
def test_database_urls_and_paths_are_accepted(value):
    assert read_settings({"GATEHOUSE_DATABASE": value})["DATABASE"] == value


def test_the_database_password_is_never_echoed(tmp_path):
    result = run(FLASK, tmp_path, GATEHOUSE_DATABASE="postgresql://u:hunter2@db.example:5432")
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert result.stderr.startswith("gatehouse: GATEHOUSE_DATABASE=postgresql://u:***@db.example")


@pytest.mark.parametrize("command", [FLASK, GUNICORN], ids=["flask", "gunicorn"])
def test_postgresql_without_a_secret_key_refuses_to_start(tmp_path, command):
    """A key generated per host would split sessions across the hosts sharing the database."""
    env = {"GATEHOUSE_DATABASE": "postgresql://gatehouse@127.0.0.1:1/gatehouse"}
    env["GATEHOUSE_BIND"] = f"127.0.0.1:{free_port()}"
    result = run(command, tmp_path, GATEHOUSE_SECRET_KEY="", **env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("gatehouse: GATEHOUSE_SECRET_KEY=: required with a PostgreSQL database")
    assert "split sessions across hosts" in line


def test_metrics_of_a_postgresql_database_go_in_the_instance_folder():
    """Never into a folder named like the URL (`postgresql:/user@host/...` in the working dir)."""
    config = {"METRICS_DIR": "", "MOCK": False, "DATABASE": "postgresql://u:p@db.example/gh"}
    assert metrics_dir(config, "/srv/instance") == "/srv/instance/gh-metrics"
    assert metrics_dir({**config, "DATABASE": "/d/g.sqlite3"}, "/x") == "/d/g.sqlite3-metrics"
    assert metrics_dir({**config, "METRICS_DIR": "/m"}, "/x") == "/m"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db.example/g", "postgresql://u:***@db.example/g"),
        (
            "postgresql:///g?host=/run/postgresql&password=pw",
            "postgresql:///g?host=/run/postgresql&password=***",
        ),
        ("postgresql://u@db.example/g", "postgresql://u@db.example/g"),
        ("/srv/gatehouse.sqlite3", "/srv/gatehouse.sqlite3"),
    ],
)
def test_database_passwords_are_hidden_wherever_the_url_is_shown(url, shown):
    assert display(url) == shown  # `db status` and every settings error print it this way
