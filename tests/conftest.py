"""Shared fixtures: a fresh app and database per test, data rows, a live gunicorn, a browser."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, settings

from app import create_app
from models import Client, ClientSecret, db
from oauth import crypto
from oauth.manage import users as accounts
from oauth.ops.migrations import upgrade

# CI machines are small and busy: a property test is judged by its examples, not by how fast
# a loaded machine generates them.
settings.register_profile("gatehouse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gatehouse")

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture
def config(tmp_path: Path) -> dict:
    """Test config; tests override keys before `app` is built (`config["MOCK"] = True`)."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE": str(tmp_path / "test.sqlite3"),
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


def make_client(
    name: str = "Test App",
    redirect_uris: list[str] | None = None,
    public: bool = False,
    auth_method: str = "client_secret_basic",
    grant_types: list[str] | None = None,
    scope: str = "",
    registration: str = "admin",
    vetted: bool | None = None,
) -> tuple[Client, str | None]:
    """Create a client row (and a secret for confidential clients): (client, secret).

    `vetted` defaults to whether an admin registered it, as the real write paths decide.
    """
    with db.connection_context():
        client = Client.create(
            client_id=crypto.new_client_id(),
            name=name,
            client_type="public" if public else "confidential",
            token_endpoint_auth_method="none" if public else auth_method,
            redirect_uris=redirect_uris or ["http://127.0.0.1:9999/callback"],
            grant_types=grant_types or ["authorization_code", "refresh_token"],
            scope=scope,
            registration=registration,
            vetted=registration == "admin" if vetted is None else vetted,
        )
        if public:
            return client, None
        value, prefix, digest = crypto.new_client_secret()
        ClientSecret.create(client=client, prefix=prefix, secret_hash=digest, last6=value[-6:])
        return client, value


@pytest.fixture
def oauth_client(app) -> tuple[Client, str]:
    """A confidential client_secret_basic client: (client, secret)."""
    return make_client()


@pytest.fixture
def public_client(app) -> Client:
    return make_client(name="Public App", public=True)[0]


def login(client, username: str = "alice", password: str = "correct horse battery"):
    """Sign in through the real /login form (CSRF disabled in the default test config)."""
    return client.post("/login", data={"username": username, "password": password})


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    """The single-valued query parameters of a redirect Location."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


# -- live server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A gunicorn process serving Gatehouse on 127.0.0.1 with its own database."""

    url: str
    database: str
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    log_file: IO[str] | None = None
    extra: dict = field(default_factory=dict)

    def flask(self, *args: str, input: str | None = None) -> str:
        """Run `flask --app app ARGS` against this server's database; return stdout."""
        out = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file is not None and not self.log_file.closed:
            self.log_file.close()


def start_live_server(
    tmp: Path, workers: int = 4, threads: int = 1, **env_extra: str
) -> LiveServer:
    """Migrate a fresh database and start gunicorn on a free loopback port; wait until ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = str(tmp / "live.sqlite3")
    env = {
        **os.environ,
        "GATEHOUSE_ISSUER": url,
        "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_DATABASE": database,
        "GATEHOUSE_SECRET_KEY": secrets.token_hex(16),
        "GATEHOUSE_WORKERS": str(workers),
        "GATEHOUSE_THREADS": str(threads),
        **env_extra,
    }
    upgrade(database)
    log_path = tmp / "gunicorn.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed by LiveServer.stop()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(url, database, env, process, log_path, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError("gunicorn exited:\n" + server.log())
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("gunicorn did not start:\n" + server.log())


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """Gatehouse under gunicorn with 4 workers, fresh database, torn down after the test."""
    server = start_live_server(tmp_path)
    yield server
    server.stop()


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
