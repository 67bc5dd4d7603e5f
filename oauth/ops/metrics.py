"""Request metrics in Prometheus text format, summed over every gunicorn worker.

Each worker counts in memory (a lock, a few dict updates per request) and a background thread
writes a snapshot to `METRICS_DIR/<master pid>-<pid>.json` once a second when something
changed. `/metrics` sums the snapshots of the workers of the current master, so the numbers
are the server's, not one worker's, and lag at most a second. Counters of a worker that died
stay in its file, so totals never go backwards while the master lives.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
import weakref
from collections import defaultdict
from pathlib import Path

from flask import Flask, Response, current_app, g, request

# Latency buckets in seconds (Prometheus `le` bounds); +Inf is implied.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GRANT_TYPES = {
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
FLUSH_SECONDS = 1.0


class Registry:
    """One process's counters, and their snapshot file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[str, list[float]] = {}  # endpoint -> bucket counts..., sum, count
        self.tokens: dict[str, int] = defaultdict(int)
        self.dirty = False

    def observe(self, endpoint: str, method: str, status: int, seconds: float | None) -> None:
        with self.lock:
            self.requests[(endpoint, method, str(status))] += 1
            if seconds is not None:
                row = self.latency.setdefault(endpoint, [0.0] * (len(BUCKETS) + 3))
                row[bisect.bisect_left(BUCKETS, seconds)] += 1
                row[-2] += seconds
                row[-1] += 1
            self.dirty = True
        _Flusher.watch(self)

    def issued(self, grant_type: str) -> None:
        with self.lock:
            self.tokens[grant_type] += 1
            self.dirty = True

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "requests": [[*key, n] for key, n in self.requests.items()],
                "latency": {k: list(v) for k, v in self.latency.items()},
                "tokens": dict(self.tokens),
            }

    def path(self) -> Path:
        return self.directory / f"{os.getppid()}-{os.getpid()}.json"

    def flush(self) -> None:
        """Write this process's snapshot atomically (rename over the old one)."""
        if not self.dirty:
            return
        self.dirty = False  # before the snapshot: a request counted meanwhile marks it again
        try:
            target = self.path()
            partial = target.with_suffix(".tmp")
            partial.write_text(json.dumps(self.snapshot()))
            os.replace(partial, target)
        except OSError:
            self.dirty = True
            raise

    def collect(self) -> dict:
        """The sum of every snapshot of this master's workers (this one freshly flushed)."""
        self.flush()
        total = {"requests": defaultdict(int), "latency": {}, "tokens": defaultdict(int)}
        prefix = f"{os.getppid()}-"
        for path in self.directory.glob("*.json"):
            if not path.name.startswith(prefix):
                _remove_if_orphaned(path)
                continue
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being replaced right now; its numbers come back on the next scrape
            for endpoint, method, status, n in data["requests"]:
                total["requests"][(endpoint, method, status)] += n
            for endpoint, row in data["latency"].items():
                acc = total["latency"].setdefault(endpoint, [0.0] * len(row))
                for i, value in enumerate(row):
                    acc[i] += value
            for grant, n in data["tokens"].items():
                total["tokens"][grant] += n
        return total


class _Flusher:
    """One daemon thread per process writing every live registry's snapshot each second.

    Started lazily on the first request, so it runs in the gunicorn worker (after the fork).
    """

    registries: weakref.WeakSet[Registry] = weakref.WeakSet()
    pid = 0

    @classmethod
    def watch(cls, registry: Registry) -> None:
        if registry not in cls.registries:
            cls.registries.add(registry)
        if cls.pid != os.getpid():
            cls.pid = os.getpid()
            threading.Thread(target=cls.loop, name="metrics-flush", daemon=True).start()

    @classmethod
    def loop(cls) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            for registry in list(cls.registries):
                try:
                    registry.flush()
                except FileNotFoundError:
                    cls.registries.discard(registry)  # its directory is gone (a finished test)
                except OSError:
                    pass  # a full disk, say: the next round retries


def _remove_if_orphaned(path: Path) -> None:
    """Delete the snapshot of a previous server run (its master process is gone)."""
    try:
        os.kill(int(path.name.split("-", 1)[0]), 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
    except (ValueError, PermissionError):
        pass


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _bound(value: float) -> str:
    return f"{value:g}"


def render(total: dict) -> str:
    """Prometheus text exposition format 0.0.4."""
    lines = [
        "# HELP gatehouse_http_requests_total HTTP requests answered, by endpoint and status.",
        "# TYPE gatehouse_http_requests_total counter",
    ]
    for (endpoint, method, status), n in sorted(total["requests"].items()):
        labels = f'endpoint="{_label(endpoint)}",method="{method}",status="{status}"'
        lines.append(f"gatehouse_http_requests_total{{{labels}}} {n}")
    lines += [
        "# HELP gatehouse_http_request_duration_seconds Time to answer a request, by endpoint.",
        "# TYPE gatehouse_http_request_duration_seconds histogram",
    ]
    for endpoint, row in sorted(total["latency"].items()):
        name = "gatehouse_http_request_duration_seconds"
        label = f'endpoint="{_label(endpoint)}"'
        cumulative = 0
        for bound, count in zip((*map(_bound, BUCKETS), "+Inf"), row[:-2], strict=True):
            cumulative += int(count)
            lines.append(f'{name}_bucket{{{label},le="{bound}"}} {cumulative}')
        lines.append(f"{name}_sum{{{label}}} {row[-2]:.6f}")
        lines.append(f"{name}_count{{{label}}} {int(row[-1])}")
    lines += [
        "# HELP gatehouse_tokens_issued_total Successful token responses, by grant type.",
        "# TYPE gatehouse_tokens_issued_total counter",
    ]
    for grant, n in sorted(total["tokens"].items()):
        lines.append(f'gatehouse_tokens_issued_total{{grant_type="{_label(grant)}"}} {n}')
    return "\n".join(lines) + "\n"


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _after(response: Response) -> Response:
    registry: Registry = current_app.extensions["gatehouse_metrics"]
    started = g.get("metrics_started")
    seconds = time.perf_counter() - started if started is not None else None
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
    method = request.method if request.method in METHODS else "OTHER"
    registry.observe(endpoint, method, response.status_code, seconds)
    if endpoint == "token.token" and response.status_code == 200:
        grant = request.form.get("grant_type", "")
        registry.issued(grant if grant in GRANT_TYPES else "other")
    return response


def init_app(app: Flask) -> None:
    """Count every request of `app`; snapshots go to METRICS_DIR (default: beside the DB)."""
    directory = Path(app.config.get("METRICS_DIR") or f"{app.config['DATABASE']}-metrics")
    directory.mkdir(parents=True, exist_ok=True)
    app.extensions["gatehouse_metrics"] = Registry(directory)
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_after)


def exposition(app: Flask) -> str:
    """The current metrics of the whole server, as Prometheus text."""
    return render(app.extensions["gatehouse_metrics"].collect())
