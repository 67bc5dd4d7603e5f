"""Node.js clients in tests/interop/node/, driven from pytest over JSON lines.

`install()` runs `npm ci` once per lock file (the packages are pinned in package-lock.json);
`run_script()` starts `node SCRIPT` and answers what it asks for on stdout, one JSON object a
line: each {"event": NAME, ...} goes to `handlers[NAME]`, whose answer (if not None) is written
back as one JSON line on stdin; {"event": "result", ...} ends the conversation.

Without node the tests skip locally and fail in CI (CI=true): CI must run them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT

NODE_DIR = ROOT / "tests" / "interop" / "node"
STAMP = NODE_DIR / "node_modules" / ".gatehouse-lock"
TIMEOUT = 180  # seconds a script may take before it is killed (a hang, not a slow machine)


def install() -> None:
    """`npm ci` when node_modules does not match package-lock.json; skip or fail without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = "node" if node is None else "npm"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{missing} is not installed; .ci/run installs it with apt-get")
        pytest.skip(f"{missing} is not installed (apt-get install nodejs npm)")
    lock = (NODE_DIR / "package-lock.json").read_bytes()
    if STAMP.exists() and STAMP.read_bytes() == lock:
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:  # e.g. no route to the registry: never a silent skip
        pytest.fail(f"npm ci failed in {NODE_DIR.relative_to(ROOT)}:\n{done.stderr[-3000:]}")
    STAMP.write_bytes(lock)


def run_script(
    script: str,
    env: dict[str, str],
    handlers: dict[str, Callable[[dict], dict | None]],
    log_path: Path,
) -> dict:
    """Run `node SCRIPT` with `env` added, serve its requests, return its result event."""
    with open(log_path, "w") as stderr:
        process = subprocess.Popen(
            ["node", script],
            cwd=NODE_DIR,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            message = json.loads(line)
            event = message.pop("event")
            if event == "result":
                return message
            answer = handlers[event](message)
            if answer is not None:
                process.stdin.write(json.dumps(answer) + "\n")
                process.stdin.flush()
        process.wait()
        raise AssertionError(
            f"node {script} exited {process.returncode} without a result:\n"
            + log_path.read_text(errors="replace")[-4000:]
        )
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()
