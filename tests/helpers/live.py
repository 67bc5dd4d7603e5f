"""Gatehouse under gunicorn on a free loopback port: the one starter every live test uses.

`start_live_server` (or `running`, which also stops it) takes what the tests vary: the number of
workers and threads and any GATEHOUSE_* setting; `restart` brings a killed server back on the
same port, database and secret key. The `live_server` fixture in conftest.py is built on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from oauth.dialect import is_postgresql_url
from oauth.ops.migrations import upgrade
from tests.helpers import ROOT

PASSWORD = "correct horse battery"
REDIRECT_URI = "http://127.0.0.1:9999/callback"
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]


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


def _wait_until_ready(server: LiveServer, poll: float = 0.1) -> LiveServer:
    """Return `server` once /healthz answers 200; stop it and raise if it exits or takes 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            server.stop()
            raise RuntimeError("gunicorn exited:\n" + server.log())
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(poll)
    server.stop()
    raise RuntimeError("gunicorn did not start:\n" + server.log())


def start_live_server(
    tmp: Path, workers: int = 4, threads: int = 1, database: str | None = None, **env_extra: str
) -> LiveServer:
    """Migrate a fresh database and start gunicorn on a free loopback port; wait until ready.

    `database` is a SQLite file in `tmp` unless given (a postgresql:// URL: the caller made
    it, tests.helpers.postgresql.fresh_database). `env_extra` adds or overrides settings
    (GATEHOUSE_MOCK="1", ...). The ResourceWarning of the log file handed to gunicorn is
    silenced: filterwarnings=error would turn it into a failure.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = database or str(tmp / "live.sqlite3")
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
    if is_postgresql_url(database) and "GATEHOUSE_METRICS_DIR" not in env_extra:
        # Counters in this server's folder, as SQLite's are beside its file in `tmp`; the
        # default would be the repository's instance/<database name>-metrics.
        env["GATEHOUSE_METRICS_DIR"] = str(tmp / "metrics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        upgrade(database)
        log_path = tmp / "gunicorn.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed by LiveServer.stop()
        process = subprocess.Popen(
            GUNICORN, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return _wait_until_ready(LiveServer(url, database, env, process, log_path, log))


@contextlib.contextmanager
def running(
    tmp: Path, workers: int = 4, threads: int = 1, database: str | None = None, **env: str
) -> Iterator[LiveServer]:
    """start_live_server, stopped when the block ends (for fixtures of any scope)."""
    server = start_live_server(tmp, workers=workers, threads=threads, database=database, **env)
    try:
        yield server
    finally:
        server.stop()


def worker_pids(server: LiveServer) -> list[int]:
    """The gunicorn master's worker processes."""
    pid = server.process.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def kill_all(server: LiveServer) -> None:
    """SIGKILL the master and every worker at once: no graceful shutdown, no cleanup."""
    pids = worker_pids(server)
    os.kill(server.process.pid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.wait()


def restart(server: LiveServer) -> LiveServer:
    """A new gunicorn on the same port, database and secret key; wait until it answers."""
    log = open(server.log_path, "a")  # noqa: SIM115 - gunicorn writes to it until stopped
    with log:
        process = subprocess.Popen(
            GUNICORN, cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT
        )
    again = LiveServer(server.url, server.database, server.env, process, server.log_path)
    return _wait_until_ready(again, poll=0.2)


def add_user_and_client(server: LiveServer, *grant_types: str, name: str = "Reliability") -> dict:
    """alice (PASSWORD) and a confidential client_secret_basic client; returns its JSON."""
    server.flask("users", "create", "alice", "--password", PASSWORD, "--email", "a@example.com")
    grants = [arg for g in grant_types for arg in ("--grant-type", g)]
    out = server.flask(
        "clients", "create", "--name", name, "--redirect-uri", REDIRECT_URI,
        *grants, "--json",
    )  # fmt: skip
    return json.loads(out)
