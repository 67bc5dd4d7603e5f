"""Start gunicorn (Gatehouse or the floor app) on loopback with the production config; RSS.

A run's databases are SQLite files in bench/out, or databases named `gatehouse_bench_*` on the
PostgreSQL server given with `--postgresql` (created afresh, left for inspection).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from oauth.dialect import is_postgresql_url
from tests.helpers.postgresql import create_database

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"  # databases, pools and logs of a run (git-ignored)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh(name: str) -> Path:
    """An unused path for a database in bench/out (old files, WAL, metrics removed)."""
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob(name + "*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    return OUT / name


def fresh_database(name: str, postgresql: str | None = None) -> str:
    """A new, empty database for `name`: `bench/out/NAME.sqlite3`, or on the PostgreSQL server
    `postgresql` (a URL of a role that may create databases) `gatehouse_bench_NAME`."""
    if postgresql is None:
        return str(fresh(name + ".sqlite3"))
    return create_database(postgresql, "gatehouse_bench_" + re.sub(r"\W", "_", name))


@dataclass
class Server:
    """A running gunicorn master and where it listens."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def worker_pids(self) -> list[int]:
        """The master's worker processes (direct children)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def memory(self) -> list[dict[str, int]]:
        """RSS and PSS (shared pages split among sharers) of each worker, in kB."""
        out = []
        for pid in self.worker_pids():
            rss = pss = 0
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
            out.append({"pid": pid, "rss_kb": rss, "pss_kb": pss})
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    app: str,
    database: Path | str,
    log_path: Path,
    workers: int,
    threads: int,
    health: str,
    port: int | None = None,
) -> Server:
    """Serve `app` (a gunicorn app spec) on 127.0.0.1; wait until `health` answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEHOUSE_ISSUER": url,
        "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_DATABASE": str(database),
        "GATEHOUSE_SECRET_KEY": secrets.token_hex(16),
        "GATEHOUSE_WORKERS": str(workers),
        "GATEHOUSE_THREADS": str(threads),
    }
    if is_postgresql_url(str(database)):  # beside the run's other files, not in instance/
        name = urlsplit(str(database)).path.lstrip("/")
        env["GATEHOUSE_METRICS_DIR"] = str(OUT / f"{name}-metrics")
    log = open(log_path, "w")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(url, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        try:
            with urllib.request.urlopen(url + health, timeout=1) as response:
                if response.status == 200 and len(server.worker_pids()) == workers:
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not start; see {log_path}")
