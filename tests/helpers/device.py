"""The device flow (RFC 8628) against a live server: a seeded server and a person's approval."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from tests.helpers.live import LiveServer, running

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def approve_over_http(base_url: str, user_code: str, decision: str = "allow") -> str:
    """Sign alice in and decide on `user_code` the way a browser does (CSRF on); the outcome."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = CSRF.search(http.get("/login").text).group(1)
        form = {"username": "alice", "password": "correct horse battery", "csrf_token": token}
        assert http.post("/login", data=form).status_code == 302
        token = CSRF.search(http.get("/oauth2/device", params={"user_code": user_code}).text)
        confirm = http.post(
            "/oauth2/device", data={"user_code": user_code, "csrf_token": token.group(1)}
        )
        token = CSRF.search(confirm.text).group(1)
        form = {"user_code": user_code, "decision": decision, "csrf_token": token}
        done = http.post("/oauth2/device", data=form)
        return re.search(r'data-outcome="(\w+)"', done.text).group(1)


@contextlib.contextmanager
def serve_device(tmp: Path, workers: int) -> Iterator[LiveServer]:
    """A live server (CSRF on, as in production) with alice and a public device-flow client
    that may refresh; its client_id is in `.extra["client_id"]`. Stopped when the block ends."""
    with running(tmp, workers=workers) as live:
        live.flask("users", "create", "alice", "--password", "correct horse battery")
        created = live.flask(
            "clients", "create", "--name", "Living Room TV", "--public",
            "--grant-type", DEVICE_GRANT, "--grant-type", "refresh_token", "--json",
        )  # fmt: skip
        live.extra["client_id"] = json.loads(created)["client_id"]
        yield live
