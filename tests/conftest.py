"""Shared fixtures: a fresh app and database per test, data rows, a live gunicorn, a browser.

Fixtures only; the helpers they and the tests use are in tests/helpers/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from app import create_app
from models import Client, db
from oauth.manage import users as accounts
from oauth.ops.migrations import upgrade
from oauth.rules import client_id_metadata as cimd
from tests.helpers import ROOT, postgresql
from tests.helpers.cimd import start_doc_server
from tests.helpers.common import make_client
from tests.helpers.live import LiveServer, running

# CI machines are small and busy: a property test is judged by its examples, not by how fast
# a loaded machine generates them.
settings.register_profile("gatehouse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gatehouse")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """In-process tests hash with cheap scrypt parameters; production keeps the default."""
    previous = accounts.PASSWORD_METHOD
    accounts.PASSWORD_METHOD = "scrypt:1024:8:1"
    yield
    accounts.PASSWORD_METHOD = previous


# -- the engine matrix ------------------------------------------------------------------------
# These suites touch the database: each of their tests that builds an app (the `config`
# fixture) or a live server runs on SQLite and on PostgreSQL. Browser, interop and pure-rule
# tests run once, on SQLite. A test about SQLite itself (its files, PRAGMAs, sqlite3) is
# marked `sqlite_only`.
DATABASE_SUITES = (
    "tests/endpoints/",
    "tests/grants/",
    "tests/manage/",
    "tests/mock/",
    "tests/security/",
    "tests/live/test_live_concurrency.py",
    "tests/ops/test_busy.py",
    "tests/ops/test_migrations.py",
    "tests/ops/test_purge_backup.py",
)


def pytest_configure(config) -> None:
    if os.environ.get("CI") and postgresql.server_url() is None:
        raise pytest.UsageError(postgresql.why_skipped() + ", and CI never skips it")


def pytest_generate_tests(metafunc) -> None:
    if "engine" not in metafunc.fixturenames or postgresql.server_url() is None:
        return
    chosen = metafunc.definition.iter_markers("parametrize")
    if any("engine" in mark.args[0] for mark in chosen):
        return  # the test names its engine itself
    path = Path(metafunc.definition.path).relative_to(ROOT).as_posix()
    if path.startswith(DATABASE_SUITES) and not metafunc.definition.get_closest_marker(
        "sqlite_only"
    ):
        metafunc.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


def pytest_terminal_summary(terminalreporter) -> None:
    if postgresql.server_url() is None:
        terminalreporter.write_line(postgresql.why_skipped(), yellow=True)


@pytest.fixture
def engine(request) -> str:
    """The database engine of this test: "sqlite", or "postgresql" in the matrix suites."""
    engine = getattr(request, "param", "sqlite")
    if engine == "postgresql" and postgresql.server_url() is None:
        pytest.skip(postgresql.why_skipped())  # a test only about PostgreSQL
    return engine


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[str]:
    """This pytest process's migrated database on the test server, dropped at the end."""
    server = postgresql.server_url()
    url = postgresql.create_database(server, f"{postgresql.PREFIX}{os.getpid()}")
    upgrade(url)
    yield url
    postgresql.drop_database(url)


@pytest.fixture
def config(tmp_path: Path, engine: str, request) -> dict:
    """Test config; tests override keys before `app` is built (`config["MOCK"] = True`)."""
    database = str(tmp_path / "test.sqlite3")
    if engine == "postgresql":
        database = request.getfixturevalue("postgresql_database")
        postgresql.reset(database)
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE": database,
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture
def app(config: dict):
    upgrade(config["DATABASE"])
    app = create_app(config)
    yield app
    db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def user(app):
    with db.connection_context():
        return accounts.create_user(
            "alice", password="correct horse battery", email="alice@example.com", name="Alice"
        )


@pytest.fixture
def admin(app):
    with db.connection_context():
        return accounts.create_user("root", password="admin password 123", is_admin=True)


@pytest.fixture
def oauth_client(app) -> tuple[Client, str]:
    """A confidential client_secret_basic client: (client, secret)."""
    return make_client()


@pytest.fixture
def public_client(app) -> Client:
    return make_client(name="Public App", public=True)[0]


@pytest.fixture
def live_server(tmp_path: Path, engine: str) -> Iterator[LiveServer]:
    """Gatehouse under gunicorn with 4 workers, fresh database, torn down after the test."""
    with postgresql.database_for(engine) as database, running(tmp_path, database=database) as live:
        yield live


# -- browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skips with a reason when unavailable."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium at /usr/bin/chromium (CI installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request, tmp_path):
    """A fresh browser context and page; saves a screenshot when the test fails."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def watched(page):
    """The page, collecting console errors (CSP violations show up there) and script errors.

    "Failed to load resource" is how Chromium logs a 4xx page; the wrong-code and used-code
    pages are 400 on purpose, so those lines are not problems.
    """
    problems: list[str] = []

    def console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.problems = problems
    return page


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


@pytest.fixture
def doc_server(tmp_path):
    """A local HTTPS server of client ID metadata documents (tests.helpers.cimd)."""
    server = start_doc_server(tmp_path)
    cimd.clear_cache()
    yield server
    server.shutdown()
    server.server_close()
    cimd.clear_cache()
