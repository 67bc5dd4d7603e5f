"""Gatehouse as a mock OpenID Connect provider for your own test suite (a pytest plugin).

Over 250 lines: other projects load this one file by name, so it cannot import helpers from
this repository's tests; the server start-up and its error reporting live here whole.

The ``gatehouse`` fixture starts a real Gatehouse (gunicorn, 2 workers) on a free 127.0.0.1
port in mock mode, with a fresh database, and stops it when the session ends. Anyone signs in
by username alone and consent is approved automatically, so a whole authorization code flow
runs without a browser. Talk to it over HTTP like any OAuth client would; the helpers below
wrap the control API (``/api/v2/mock/``)::

    # conftest.py of your project (or run `pytest -p gatehouse_pytest`)
    pytest_plugins = ["gatehouse_pytest"]

    # test_login.py
    def test_my_app_signs_in(gatehouse):
        app = gatehouse.create_client(redirect_uris=["http://127.0.0.1:5000/callback"])
        gatehouse.create_user("alice", email="alice@example.com", claims={"groups": ["staff"]})
        callback = gatehouse.authorize(my_app_login_url(app["client_id"]), username="alice")
        ...  # hand `callback` (with code, state, iss) to your app and check it signed in

    def test_my_app_survives_a_bad_token_response(gatehouse):
        gatehouse.force_error("token", "invalid_grant", status=400)
        ...  # the next POST /oauth2/token answers invalid_grant; later ones are normal

Gatehouse must be importable from this file's directory (it is the repository root). The
server runs with ``$GATEHOUSE_PYTHON``, else the repository's ``.venv/bin/python``, else the
interpreter running pytest. If the server cannot start, GatehouseStartError names the command
and shows the end of its output. One server serves the whole session, so use distinct usernames
and clients per test; queued forced errors are cleared before each test. For other settings,
``gatehouse_factory(auto_consent=False, GATEHOUSE_MOCK_ANY_CLIENT="1")`` starts another server
for one test.
"""

from __future__ import annotations

import html
import http.cookiejar
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
START_TIMEOUT = 30.0
OUTPUT_TAIL_LINES = 20


class GatehouseError(Exception):
    """The control API refused a request: `status`, `message`, `validations` as it sent them."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.message = body.get("message") or body.get("error_description") or str(body)
        self.validations = body.get("validations", [])
        super().__init__(f"{status}: {self.message} {self.validations or ''}".strip())


class GatehouseStartError(RuntimeError):
    """Gatehouse did not start: the message names the command, its exit status and the end of
    its output (a missing module, a refused setting, a port in use)."""

    def __init__(self, what: str, command: list[str], output: str, status: int | None) -> None:
        tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:]) or "(no output)"
        ended = f"exited with status {status}" if status is not None else "is still running"
        super().__init__(
            f"Gatehouse {what}.\n  command: {shlex.join(command)}\n  in: {ROOT}\n"
            f"  {ended}; the last lines of its output:\n{tail}"
        )
        self.command, self.output, self.status = command, output, status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # let 3xx surface as HTTPError so we can read Location


class Gatehouse:
    """A running Gatehouse: `url` (= `issuer`), the control API helpers, and `stop()`."""

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path, env: dict) -> None:
        self.url = self.issuer = url
        self.process, self.log_path, self.env = process, log_path, env
        self.database = env["GATEHOUSE_DATABASE"]

    # -- control API -------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """Call `/api/v2/mock/<path>` with a JSON body; GatehouseError unless it succeeded."""
        data = json.dumps(body).encode() if body is not None else None
        url = f"{self.url}/api/v2/mock/{path}"
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - ours
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise GatehouseError(exc.code, json.loads(exc.read() or b"{}")) from None

    def create_user(self, username: str, **fields: Any) -> dict[str, Any]:
        """Create or update a user: email, name, email_verified, admin, password, claims."""
        return self.api("PUT", f"users/{urllib.parse.quote(username)}", fields)

    def create_client(self, **fields: Any) -> dict[str, Any]:
        """A new client (apps API fields: name, client_type, redirect_uris, grant_types, scope,
        token_endpoint_auth_method); a confidential one comes with `client_secret`."""
        return self.api("POST", "clients", fields)

    def force_error(
        self, endpoint: str, error: str = "server_error", status: int = 400, description: str = ""
    ) -> dict[str, Any]:
        """Make the next request to `endpoint` (token, authorize, userinfo, introspect, revoke,
        register, device_authorization) answer this error, once."""
        body = {"endpoint": endpoint, "error": error, "status": status}
        body["error_description"] = description
        return self.api("POST", "errors", body)

    def clear_errors(self) -> int:
        return self.api("DELETE", "errors")["deleted"]

    def mint_token(self, username: str, client_id: str, **fields: Any) -> dict[str, Any]:
        """A real access token and signed id_token: scope, audience, claims, expires_in."""
        return self.api("POST", "tokens", {"username": username, "client_id": client_id, **fields})

    # -- the browser's part of the code flow --------------------------------------------------

    def authorize(self, authorization_url: str, username: str, claims: dict | None = None) -> str:
        """Sign in as `username` where `authorization_url` leads and return the redirect back
        to the client (its callback URL with `code`, `state` and `iss`, or an `error`)."""
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )
        url, form, posted_login = authorization_url, None, False
        for _ in range(10):
            status, location, page = _fetch(opener, url, form)
            form = None
            if status in (301, 302, 303, 307, 308):
                url = urllib.parse.urljoin(url, location)
                if not url.startswith(self.url + "/"):
                    return url  # leaving Gatehouse: this is the client's callback
                continue
            if status == 200 and 'id="consent-form"' in page:  # auto-consent is off: Allow
                form = {"csrf_token": _hidden(page, "csrf_token"), "decision": "allow"}
                form["pending"] = _hidden(page, "pending")
                url = f"{self.url}/oauth2/consent"
            elif status == 200 and 'id="login-form"' in page and not posted_login:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
                form = {"csrf_token": _hidden(page, "csrf_token"), "username": username}
                form["next"] = query.get("next", [""])[0]
                form["claims"] = json.dumps(claims) if claims else ""
                url, posted_login = f"{self.url}/login", True
            else:
                raise GatehouseError(status, {"message": f"unexpected page at {url}: {page}"})
        raise GatehouseError(0, {"message": "too many redirects"})

    # -- process ---------------------------------------------------------------------------

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


def _fetch(opener, url: str, form: dict | None) -> tuple[int, str, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(url, data=data, timeout=30) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    if match is None:
        raise GatehouseError(200, {"message": f"no {name} field on the page"})
    return html.unescape(match.group(1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return os.environ.get("GATEHOUSE_PYTHON") or (str(venv) if venv.exists() else sys.executable)


def start_gatehouse(
    directory: Path, workers: int = 2, auto_consent: bool = True, **env: str
) -> Gatehouse:
    """Migrate a database in `directory` and start Gatehouse in mock mode; wait for /healthz.

    Extra keyword arguments become environment variables (`GATEHOUSE_MOCK_ANY_CLIENT="1"`).
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    full_env = {
        **clean,
        "GATEHOUSE_ISSUER": url,
        "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_DATABASE": str(directory / "gatehouse.sqlite3"),
        "GATEHOUSE_SECRET_KEY": secrets.token_hex(32),
        "GATEHOUSE_WORKERS": str(workers),
        "GATEHOUSE_MOCK": "1",
        "GATEHOUSE_MOCK_AUTO_CONSENT": "1" if auto_consent else "0",
        **env,
    }
    python = _python()
    migrate = [python, "-m", "flask", "--app", "app", "db", "upgrade"]
    done = subprocess.run(  # noqa: S603 - fixed arguments, our interpreter
        migrate, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if done.returncode != 0:
        output, status = done.stdout.decode(errors="replace"), done.returncode
        raise GatehouseStartError("could not migrate its database", migrate, output, status)
    serve = [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
    log_path = directory / "gatehouse.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, our interpreter
            serve, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    server = Gatehouse(url, process, log_path, full_env)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            status = process.returncode
            raise GatehouseStartError("exited while starting", serve, server.log(), status)
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    what = f"did not answer {url}/healthz within {START_TIMEOUT:.0f} s"
    raise GatehouseStartError(what, serve, server.log(), process.returncode)


@pytest.fixture(scope="session")
def gatehouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gatehouse]:
    """One Gatehouse for the whole test session (mock mode, auto-consent)."""
    server = start_gatehouse(tmp_path_factory.mktemp("gatehouse"))
    yield server
    server.stop()


@pytest.fixture
def gatehouse_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Start more Gatehouses with other settings, stopped after the test:
    `gatehouse_factory(auto_consent=False, GATEHOUSE_MOCK_ANY_CLIENT="1")`."""
    started: list[Gatehouse] = []

    def start(**kwargs: Any) -> Gatehouse:
        started.append(start_gatehouse(tmp_path_factory.mktemp("gatehouse"), **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def gatehouse(gatehouse_server: Gatehouse) -> Gatehouse:
    """The session's Gatehouse, with no forced errors left over from earlier tests."""
    gatehouse_server.clear_errors()
    return gatehouse_server
