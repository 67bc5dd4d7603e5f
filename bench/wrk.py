"""Run wrk (bounded in time, loopback only) with bench/lua/pool.lua and parse its JSON line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("lua") / "pool.lua"


@dataclass
class Result:
    """One measured point: throughput, latency percentiles and failures."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx responses

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Target:
    """What to load: method, path, fixed headers, and an optional pool file of bodies/tokens."""

    method: str
    path: str
    headers: dict[str, str]
    pool: Path | None = None
    vary: str = "body"  # what each pool line is: "body", "bearer" (token) or "path"
    single_use: bool = False  # each pool line works once (codes, refresh tokens)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return path


def run(base_url: str, target: Target, concurrency: int, seconds: float) -> Result:
    """Load `target` with `concurrency` connections for `seconds`; return the measured point."""
    assert base_url.startswith("http://127.0.0.1:"), "benchmarks target loopback only"
    threads = min(concurrency, 2)
    env = {
        **os.environ,
        "BENCH_THREADS": str(threads),
        "BENCH_METHOD": target.method,
        "BENCH_PATH": target.path,
        "BENCH_VARY": target.vary,
        "BENCH_HEADERS": "|".join(f"{k}: {v}" for k, v in target.headers.items()),
        "BENCH_POOL": str(target.pool or ""),
    }
    command = [
        require_wrk(),
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        base_url + target.path,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    line = next(x for x in reversed(out.splitlines()) if x.startswith("{"))
    data = json.loads(line)
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
    )
