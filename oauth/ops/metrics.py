"""Request metrics for Prometheus, through `prometheus_client`, summed over every gunicorn worker.

Under gunicorn, `gunicorn.conf.py` sets `PROMETHEUS_MULTIPROC_DIR` (from METRICS_DIR) before
any worker imports `prometheus_client`, so every worker counts into its own memory-mapped files
there and `/metrics` sums all of them: the server's numbers, not one worker's. A dead worker's
files stay, so totals never go backwards while the server runs; the directory is emptied when
the server starts. Without that variable (tests, `flask run`) one process counts in memory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

from oauth import constants
from oauth.ops.logs import STARTED_KEY

# Latency buckets in seconds (Prometheus `le` bounds); +Inf is implied.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GRANT_TYPES = set(constants.GRANT_TYPES)  # label values; anything else counts as "other"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """One app's metrics, and the registry `/metrics` reads them from."""

    def __init__(self, multiprocess_dir: str | None) -> None:
        own = CollectorRegistry()
        self.requests = Counter(
            "gatehouse_http_requests_total",
            "HTTP requests answered, by endpoint and status.",
            ["endpoint", "method", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "gatehouse_http_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=BUCKETS,
            registry=own,
        )
        self.tokens = Counter(
            "gatehouse_tokens_issued_total",
            "Successful token responses, by grant type.",
            ["grant_type"],
            registry=own,
        )
        if multiprocess_dir is None:
            self.registry = own
        else:  # every worker's files, this one's included
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry, path=multiprocess_dir)
        # labels() validates and locks on each call; a request only needs a dict lookup.
        self._children: dict[tuple, Any] = {}  # (metric, label values) -> its child

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, endpoint: str, method: str, status: int, seconds: float | None) -> None:
        self._child(self.requests, endpoint, method, str(status)).inc()
        if seconds is not None:
            self._child(self.latency, endpoint).observe(seconds)

    def issued(self, grant_type: str) -> None:
        self._child(self.tokens, grant_type).inc()


def multiprocess_dir() -> str | None:
    """The directory every worker counts into, or None when this process counts alone."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and values.ValueClass is values.MutexValue:
        # prometheus_client picks its value class once, when it is first imported.
        raise RuntimeError(f"{MULTIPROC_ENV} was set after prometheus_client was imported")
    return directory or None


def reset_directory(directory: str) -> None:
    """Create `directory`, or empty it of a previous run's counters (gunicorn's `on_starting`).

    The prometheus_client docs: wipe it between runs, never while the server runs. Only its
    `*.db` files go, in case METRICS_DIR names a directory that also holds other things.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)


def init_app(app: Flask) -> None:
    """Count every request of `app` (summed over gunicorn's workers; see the module docstring).

    The time is taken from when the outermost middleware saw the request (oauth/ops/logs.py).
    """
    disable_created_metrics()  # no `_created` samples: multiprocess mode has none either
    metrics = app.extensions["gatehouse_metrics"] = Metrics(multiprocess_dir())

    @app.after_request
    def count(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        started = req.environ.get(STARTED_KEY)
        seconds = time.perf_counter() - started if started is not None else None
        rule, method, status = req.url_rule, req.method, response.status_code
        endpoint = rule.endpoint if rule is not None else "unmatched"
        metrics.observe(endpoint, method if method in METHODS else "OTHER", status, seconds)
        if endpoint == "token.token" and status == 200:
            grant = req.form.get("grant_type", "")
            metrics.issued(grant if grant in GRANT_TYPES else "other")
        return response


def exposition(app: Flask) -> bytes:
    """The current metrics of the whole server, as Prometheus text (format 0.0.4)."""
    return generate_latest(app.extensions["gatehouse_metrics"].registry)
