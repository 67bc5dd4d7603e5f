"""Logs: a request id on every response and in the log line, ISO-8601 UTC times, the text and
JSON formats for access and application lines, and never a query string."""

from __future__ import annotations

import json
import logging
import re
import runpy
import sys

import httpx
import pytest

from app import create_app
from oauth.ops import logs
from tests.helpers import ROOT
from tests.helpers.live import start_live_server

ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
NEW_ID = re.compile(r"[0-9a-f]{16}")
CANARY = "canary-query-7d1e"


@pytest.fixture
def web(config):
    return create_app(config).test_client()


def proxied(config, trusted: int):
    config["TRUSTED_PROXIES"] = trusted
    return create_app(config).test_client()


# -- X-Request-Id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/login", 200),  # a page
        ("GET", "/healthz", 200),  # JSON
        ("GET", "/no/such/page", 404),  # an error page
        ("POST", "/oauth2/token", 400),  # an RFC 6749 error
        ("DELETE", "/oauth2/token", 405),
    ],
)
def test_every_response_carries_a_fresh_request_id(web, method, path, status):
    first, second = web.open(path, method=method), web.open(path, method=method)
    assert first.status_code == status
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(NEW_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]


def test_a_callers_request_id_is_never_reflected_without_a_trusted_proxy(config):
    web = proxied(config, trusted=0)
    response = web.get("/healthz", headers={"X-Request-Id": "chosen-by-the-caller"})
    assert NEW_ID.fullmatch(response.headers["X-Request-Id"])
    assert response.headers.getlist("X-Request-Id") == [response.headers["X-Request-Id"]]


def test_a_trusted_proxys_safe_request_id_is_reused(config):
    web = proxied(config, trusted=1)
    sent = "7f1c9a52-5e0b-4c4e-9d0b-1a2b3c4d5e6f"  # a UUID, as nginx's $request_id or similar
    assert web.get("/healthz", headers={"X-Request-Id": sent}).headers["X-Request-Id"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        "a b",  # would split a text line
        'x" "status": 200',  # would forge a JSON field
        "one,two",  # two headers folded into one
        "-leading-dash",
        "a" * 65,  # not short
        "code=" + CANARY,
        "",
    ],
)
def test_an_unsafe_request_id_is_replaced_even_from_a_trusted_proxy(config, sent):
    web = proxied(config, trusted=1)
    got = web.get("/healthz", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    assert NEW_ID.fullmatch(got)


def test_a_script_on_another_origin_may_read_the_request_id(web):
    response = web.post("/oauth2/token", headers={"Origin": "https://spa.example"})
    exposed = response.headers["Access-Control-Expose-Headers"].split(", ")
    assert "X-Request-Id" in exposed


# -- formatters -----------------------------------------------------------------------------


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("app", logging.WARNING, __file__, 1, message, args, exc_info)


def test_app_lines_carry_time_level_and_the_request_id_in_both_formats(config):
    app = create_app(config)
    with app.test_request_context("/x", environ_base={logs.ENVIRON_KEY: "abc123"}):
        text = logs.TextFormatter().format(record("busy: %s", "POST /oauth2/token"))
        entry = json.loads(logs.JsonFormatter().format(record("busy: %s", "POST /oauth2/token")))
    assert re.fullmatch(ISO_UTC + r" \[\d+\] \[WARNING\] \[abc123\] busy: POST /oauth2/token", text)
    assert re.fullmatch(ISO_UTC, entry.pop("time"))
    assert entry == {"level": "WARNING", "logger": "app", "pid": entry["pid"],
                     "request_id": "abc123", "message": "busy: POST /oauth2/token"}  # fmt: skip


def test_outside_a_request_there_is_no_request_id():
    assert "request_id" not in json.loads(logs.JsonFormatter().format(record("booting")))
    assert re.fullmatch(ISO_UTC + r" \[\d+\] \[WARNING\] booting", logs.TextFormatter().format(
        record("booting")))  # fmt: skip


def test_a_traceback_stays_inside_its_one_json_line():
    try:
        raise ValueError("broken")
    except ValueError:
        line = logs.JsonFormatter().format(record("failed", exc_info=sys.exc_info()))
    assert "\n" not in line
    assert "ValueError: broken" in json.loads(line)["exception"]


@pytest.mark.parametrize("log_format, cls", [("text", logs.TextLogger), ("json", logs.JsonLogger)])
def test_gunicorn_conf_picks_the_logger_of_the_format(monkeypatch, log_format, cls):
    monkeypatch.setenv("GATEHOUSE_LOG_FORMAT", log_format)
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logger_class"] is cls


# -- live: what gunicorn writes ---------------------------------------------------------------


def run_mock_server(tmp_path, log_format: str) -> tuple[dict[str, str], str]:
    """A mock-mode server in `log_format`: a JSON request, then an authorize request whose
    query carries a canary and makes mock mode log a warning. Their X-Request-Ids, the log."""
    server = start_live_server(
        tmp_path,
        workers=1,
        GATEHOUSE_LOG_FORMAT=log_format,
        GATEHOUSE_MOCK="1",
        GATEHOUSE_MOCK_ANY_CLIENT="1",
    )
    query = {"client_id": "adopt-me", "redirect_uri": "http://127.0.0.1:5000/cb",
             "response_type": "code", "state": CANARY, "code": CANARY}  # fmt: skip
    try:
        ids = {
            "healthz": httpx.get(server.url + "/healthz"),
            "authorize": httpx.get(server.url + "/oauth2/authorize", params=query),
        }
    finally:
        server.stop()
    return {name: response.headers["X-Request-Id"] for name, response in ids.items()}, server.log()


def test_text_log_lines_have_time_and_request_id(tmp_path):
    ids, log = run_mock_server(tmp_path, "text")

    def access(request_id: str, path: str, status: int) -> str:
        return rf'{ISO_UTC} {request_id} 127\.0\.0\.1 "GET {path}" {status} \d+ \d+ms'

    assert re.search(access(ids["healthz"], "/healthz", 200), log), log
    assert re.search(access(ids["authorize"], "/oauth2/authorize", 302), log), log
    app_line = rf"{ISO_UTC} \[\d+\] \[WARNING\] \[{ids['authorize']}\] mock: adopted unknown"
    assert re.search(app_line, log), log
    assert CANARY not in log


def test_json_log_is_one_object_per_line_for_access_and_application(tmp_path):
    ids, log = run_mock_server(tmp_path, "json")
    entries = [json.loads(line) for line in log.splitlines()]  # every line is JSON
    assert all(re.fullmatch(ISO_UTC, entry["time"]) for entry in entries)
    access = {e["request_id"]: e for e in entries if e["logger"] == "gunicorn.access"}
    assert access[ids["healthz"]]["path"] == "/healthz"
    assert access[ids["healthz"]]["status"] == 200
    assert {"method": "GET", "path": "/oauth2/authorize", "status": 302}.items() <= access[
        ids["authorize"]
    ].items()
    warning = next(e for e in entries if e["message"].startswith("mock: adopted unknown"))
    assert warning["request_id"] == ids["authorize"] and warning["level"] == "WARNING"
    assert warning["logger"] == "app"  # Flask's app.logger, through the same formatter
    assert any("MOCK MODE" in e["message"] for e in entries)  # the banner is JSON too
    assert CANARY not in log
