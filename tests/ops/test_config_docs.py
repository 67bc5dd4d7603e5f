"""The README's configuration table is the settings reader's table (oauth/settings.py): the same
names, the same defaults, each meaning opening with the reader's one line of help; and every
setting the code reads is in it."""

from __future__ import annotations

import re
import runpy

import pytest

from models import PRAGMAS
from oauth.settings import BY_NAME, DEFAULTS, SETTINGS, Setting
from tests.helpers import ROOT

# Settings read from the Flask config or the environment (`config["X"]`, `config.get("X")`,
# `_seconds("X")` in oauth/tokens.py, `os.environ.get("GATEHOUSE_X")`).
READS = re.compile(
    r"""config(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"|_seconds\("([A-Z0-9_]+)"\)"""
    r"""|environ(?:\.get\(|\[)\s*"GATEHOUSE_([A-Z0-9_]+)\""""
)
# Flask's own keys that create_app() sets itself or that only tests flip.
NOT_SETTINGS = {"WTF_CSRF_ENABLED", "TESTING"}


def config_table() -> dict[str, tuple[str, str]]:
    """{name without GATEHOUSE_: (default cell, meaning cell)} from the README's table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`GATEHOUSE_"):
            (name,) = re.findall(r"`GATEHOUSE_([A-Z0-9_]+)`", cells[0])
            rows[name] = (cells[1], "|".join(cells[2:]))
    return rows


def read_by_code() -> set[str]:
    sources = [ROOT / "app.py", ROOT / "models.py", ROOT / "gunicorn.conf.py"]
    sources += sorted((ROOT / "oauth").rglob("*.py"))
    found = set()
    for path in sources:
        for match in READS.finditer(path.read_text()):
            found.add(next(group for group in match.groups() if group))
    return found - NOT_SETTINGS


def documented_default(setting: Setting) -> str:
    """How the table writes a default: `3600`, `open`, off, empty, or the `shown` text."""
    if setting.shown:
        return setting.shown
    if setting.default is False:
        return "off"
    if setting.default == "":
        return "empty"
    return f"`{setting.default}`"


def test_the_table_and_the_reader_name_the_same_settings():
    assert list(config_table()) == [setting.name for setting in SETTINGS]


def test_every_setting_the_code_reads_is_in_the_reader():
    assert read_by_code() - set(BY_NAME) == set()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_documented_default_and_meaning_match_the_reader(setting):
    default, meaning = config_table()[setting.name]
    assert default.startswith(documented_default(setting)), default
    assert meaning.startswith(setting.help), meaning


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_the_help_states_the_range_or_choices(setting):
    if setting.kind == "int":
        assert f"{setting.low} to {setting.high}" in setting.help
    for choice in setting.choices:
        assert f"`{choice}`" in setting.help


def test_gunicorn_conf_uses_the_reader_defaults(monkeypatch):
    for name in BY_NAME:
        monkeypatch.delenv(f"GATEHOUSE_{name}", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["bind"] == DEFAULTS["BIND"]
    assert (conf["workers"], conf["threads"]) == (DEFAULTS["WORKERS"], DEFAULTS["THREADS"])
    assert conf["accesslog"] == DEFAULTS["ACCESS_LOG"]


def test_default_busy_timeout_is_the_pragma():
    assert DEFAULTS["BUSY_TIMEOUT_MS"] == PRAGMAS["busy_timeout"]
