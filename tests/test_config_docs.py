"""The README's configuration table is the truth: every setting the code reads is in it, with
the default that `app.DEFAULTS` and gunicorn.conf.py really use."""

from __future__ import annotations

import re
import runpy

import pytest
from conftest import ROOT

from app import DEFAULTS
from models import PRAGMAS

# Settings read from the Flask config or the environment (`config["X"]`, `config.get("X")`,
# `_seconds("X")` in oauth/tokens.py, `os.environ.get("GATEHOUSE_X")`).
READS = re.compile(
    r"""config(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"|_seconds\("([A-Z0-9_]+)"\)"""
    r"""|environ(?:\.get\(|\[)\s*"GATEHOUSE_([A-Z0-9_]+)\""""
)
# Flask's own keys that create_app() sets itself or that only tests flip.
NOT_SETTINGS = {"WTF_CSRF_ENABLED", "TESTING"}


def config_table() -> dict[str, str]:
    """{name without GATEHOUSE_: default cell} from the README's Configuration table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`GATEHOUSE_"):
            for name in re.findall(r"`GATEHOUSE_([A-Z0-9_]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def read_by_code() -> set[str]:
    sources = [ROOT / "app.py", ROOT / "models.py", ROOT / "gunicorn.conf.py"]
    sources += sorted((ROOT / "oauth").rglob("*.py"))
    found = set()
    for path in sources:
        for match in READS.finditer(path.read_text()):
            found.add(next(group for group in match.groups() if group))
    return found - NOT_SETTINGS


def documented_default(value) -> str:
    """How the table writes a default: `3600`, `open`, off."""
    if value is False:
        return "off"
    if value == "":
        return "empty"
    return f"`{value}`"


def test_every_setting_the_code_reads_is_documented():
    missing = (read_by_code() | set(DEFAULTS)) - set(config_table())
    assert not missing, f"add to the README's configuration table: {sorted(missing)}"


def test_the_table_names_only_real_settings():
    assert set(config_table()) - read_by_code() - set(DEFAULTS) == set()


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_documented_defaults_match_app_defaults(name):
    cell = config_table()[name]
    assert cell.startswith(documented_default(DEFAULTS[name])), (name, cell)


def test_documented_defaults_match_gunicorn_conf(monkeypatch):
    for name in ("BIND", "WORKERS", "THREADS", "ACCESS_LOG"):
        monkeypatch.delenv(f"GATEHOUSE_{name}", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    table = config_table()
    assert table["BIND"].startswith(f"`{conf['bind']}`")
    assert table["WORKERS"].startswith(f"`{conf['workers']}` / `{conf['threads']}`")
    assert table["THREADS"] == table["WORKERS"]
    assert table["ACCESS_LOG"].startswith(f"`{conf['accesslog']}`")


def test_documented_busy_timeout_is_the_pragma():
    assert config_table()["BUSY_TIMEOUT_MS"].startswith(f"`{PRAGMAS['busy_timeout']}`")
