"""examples/device_login.py: the stdlib device-flow client, against a live Gatehouse."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import pytest

from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from tests.helpers import ROOT
from tests.helpers.device import approve_over_http, serve_device

EXAMPLE = ROOT / "examples" / "device_login.py"
USER_CODE = re.compile(r"enter the code: ([A-Z]{4}-[A-Z]{4})")


def load_example():
    spec = importlib.util.spec_from_file_location("device_login", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_device(tmp_path_factory.mktemp("device-example"), workers=2) as live:
        yield live


def run_example(server, decision: str) -> tuple[int, str, str]:
    """Start the example, approve or deny the code it prints, and wait for it to finish."""
    args = [sys.executable, str(EXAMPLE), "--issuer", server.url]
    args += ["--client-id", server.extra["client_id"], "--scope", "openid profile"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in process.stderr:  # the code comes before the first poll
            seen.append(line)
            match = USER_CODE.search(line)
            if match:
                break
        assert match, "".join(seen)
        outcome = approve_over_http(server.url, match.group(1), decision)
        assert outcome == {"allow": "approved", "deny": "denied"}[decision]
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out, "".join(seen) + err


@pytest.mark.live
def test_example_prints_the_tokens_once_approved(server):
    code, out, err = run_example(server, "allow")
    assert code == 0, err
    tokens = json.loads(out)
    assert tokens["token_type"] == "Bearer"
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    assert f"open {server.url}/oauth2/device" in err
    assert "Signed in." in err


@pytest.mark.live
def test_example_reports_a_denial(server):
    code, out, err = run_example(server, "deny")
    assert code == 1 and out == ""
    assert "access_denied" in err


def test_help():
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, check=True
    )
    assert "--client-id" in done.stdout and "device flow" in done.stdout


def test_polls_politely_and_honours_slow_down(monkeypatch):
    """Waits `interval` before every poll and 5 s more after each slow_down (RFC 8628 §3.5)."""
    example = load_example()
    answers = iter(
        [
            (400, {"error": "authorization_pending"}, {}),
            (400, {"error": "slow_down"}, {}),
            (400, {"error": "authorization_pending"}, {}),
            (400, {"error": "slow_down"}, {}),
            (200, {"access_token": "gat_x", "token_type": "Bearer"}, {}),
        ]
    )
    sent, slept = [], []
    monkeypatch.setattr(example, "post", lambda url, form, *a: sent.append(form) or next(answers))
    monkeypatch.setattr(example.time, "sleep", slept.append)
    args = example.argparse.Namespace(client_id="cli", client_secret=None)
    grant = {"device_code": "gdc_x", "interval": 5, "expires_in": 900}
    assert example.poll(args, "http://as/token", grant)["access_token"] == "gat_x"
    assert slept == [5, 5, 10, 10, 15]
    assert all(f == {"grant_type": DEVICE_GRANT, "device_code": "gdc_x"} for f in sent)


@pytest.mark.parametrize("error", ["access_denied", "expired_token", "invalid_grant"])
def test_stops_on_any_other_error(monkeypatch, error):
    example = load_example()
    monkeypatch.setattr(example, "post", lambda *a: (400, {"error": error}, {}))
    monkeypatch.setattr(example.time, "sleep", lambda s: None)
    args = example.argparse.Namespace(client_id="cli", client_secret=None)
    with pytest.raises(example.Failed, match=error):
        example.poll(args, "http://as/token", {"device_code": "d", "expires_in": 900})
