"""Helpers for the live-server reliability suites (soak, crash, lock, logs, schemathesis)."""

from __future__ import annotations

import warnings
from pathlib import Path

from tests.conftest import LiveServer, start_live_server


def serve(tmp: Path, workers: int = 4, threads: int = 1, **env: str) -> LiveServer:
    """start_live_server, minus the ResourceWarning of the log file it leaves to gunicorn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return start_live_server(tmp, workers=workers, threads=threads, **env)
