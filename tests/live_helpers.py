"""Helpers for the live-server reliability suites (soak, crash, lock, logs, schemathesis)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
from conftest import ROOT, LiveServer, start_live_server

PASSWORD = "correct horse battery"
REDIRECT_URI = "http://127.0.0.1:9999/callback"


def serve(tmp: Path, workers: int = 4, threads: int = 1, **env: str) -> LiveServer:
    """start_live_server, minus the ResourceWarning of the log file it leaves to gunicorn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return start_live_server(tmp, workers=workers, threads=threads, **env)


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
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    again = LiveServer(server.url, server.database, server.env, process, server.log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + again.log())
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return again
        except httpx.HTTPError:
            time.sleep(0.2)
    again.stop()
    raise RuntimeError("gunicorn did not come back:\n" + again.log())


def add_user_and_client(server: LiveServer, *grant_types: str) -> dict:
    """alice (PASSWORD) and a confidential client_secret_basic client; returns its JSON."""
    server.flask("users", "create", "alice", "--password", PASSWORD, "--email", "a@example.com")
    grants = [arg for g in grant_types for arg in ("--grant-type", g)]
    out = server.flask(
        "clients", "create", "--name", "Reliability", "--redirect-uri", REDIRECT_URI,
        *grants, "--json",
    )  # fmt: skip
    return json.loads(out)
