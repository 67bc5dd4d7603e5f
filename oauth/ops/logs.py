"""Logs: a request id on every response, ISO-8601 UTC times, and `GATEHOUSE_LOG_FORMAT=json`.

`init_app(app)` wraps the WSGI app so every response carries `X-Request-Id`: a fresh short
random id, or, behind a trusted proxy (GATEHOUSE_TRUSTED_PROXIES > 0), the proxy's own id when
it is a short safe token. Anything else a caller sends is never echoed back or logged.

`gunicorn.conf.py` picks `logger_class(format)`: the access log line (text or JSON) gets the time
and the request id, and the error log, Flask's `app.logger` and every other logger of the worker
(they reach the root logger) go through one formatter. Access lines carry the path only, never
the query string: `/oauth2/authorize` callbacks and some clients put codes and tokens there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context, request
from gunicorn.glogging import Logger

HEADER = "X-Request-Id"
HEADER_LOWER = HEADER.lower()
ENVIRON_KEY = "gatehouse.request_id"
STARTED_KEY = "gatehouse.started"  # time.perf_counter() when the request came in (metrics)
# A proxy's id is reused only if it is one short token of these characters (UUIDs, hex, ...):
# nothing that could split a log line, forge a JSON field or carry a secret of any size.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_request_id() -> str:
    return os.urandom(8).hex()  # 64 random bits, as secrets.token_hex(8), one call less


def request_id_for(environ: dict[str, Any], trust_proxy: bool) -> str:
    """The id of this request: the trusted proxy's `X-Request-Id` if it is safe, else a new one."""
    sent = environ.get("HTTP_X_REQUEST_ID") if trust_proxy else None
    return sent if sent and SAFE_ID.fullmatch(sent) else new_request_id()


class RequestId:
    """WSGI middleware: give each request an id (in the environ) and answer it as `X-Request-Id`.

    Outermost, so every response the app makes carries it: pages, JSON errors, 403s from the
    perimeter and 413s alike.

    It also notes when the request came in (`STARTED_KEY`, for the latency metric), and it is
    the one place that sees every response's finished header list: `finish(environ,
    headers, owned)`, if given, returns it with the headers every response gets (the security
    headers and CORS of oauth/ops/hardening.py) and `owned` (the request id), in one pass.
    """

    def __init__(
        self, wsgi_app: Callable, trust_proxy: bool, finish: Callable | None = None
    ) -> None:
        self.wsgi_app, self.trust_proxy, self.finish = wsgi_app, trust_proxy, finish

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        environ[STARTED_KEY] = time.perf_counter()
        request_id = environ[ENVIRON_KEY] = request_id_for(environ, self.trust_proxy)
        finish = self.finish

        def start_with_id(status: str, headers: list, exc_info: Any = None) -> Callable:
            ours = ((HEADER, request_id),)  # replaces any the app set
            if finish is not None:
                headers = finish(environ, headers, ours)
            else:
                headers = [(k, v) for k, v in headers if k.lower() != HEADER_LOWER] + list(ours)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_id)


def init_app(app: Flask, finish: Callable | None = None) -> None:
    """Wrap the app (call last in create_app, around any other middleware); `finish` adds the
    headers every response gets (see RequestId)."""
    app.wsgi_app = RequestId(app.wsgi_app, app.config["TRUSTED_PROXIES"] > 0, finish)


def current_request_id() -> str | None:
    """The id of the request being handled in this thread, if any."""
    return request.environ.get(ENVIRON_KEY) if has_request_context() else None


def utc_time(created: float | None = None) -> str:
    """ISO-8601 in UTC with milliseconds: `2025-06-01T09:30:00.123Z`."""
    moment = datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`<time> [<pid>] [<LEVEL>] [<request id>] <message>`; the id only inside a request."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = current_request_id()
        tag = f" [{request_id}]" if request_id else ""
        line = f"{utc_time(record.created)} [{record.process}] [{record.levelname}]{tag} "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id when in a request,
    the fields a record carries in `extra={"fields": {...}}`, and a traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        entry["message"] = record.getMessage()
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str)


class TextLogger(Logger):
    """gunicorn's logger with ISO-8601 UTC times (`%(t)s` in the access format included) and
    the application's log records in the error log."""

    formatter_class: type[logging.Formatter] = TextFormatter

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = self.formatter_class()
        handlers = [h for h in self.error_log.handlers if getattr(h, "_gunicorn", False)]
        for handler in handlers:
            handler.setFormatter(formatter)
        # Flask's app.logger and library loggers propagate to the root logger: into the error
        # log, in the same format. The root level stays WARNING, so no library's INFO lines
        # (httpx logs whole URLs at INFO) reach it.
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_gunicorn", False)]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)

    def now(self) -> str:
        return utc_time()


class JsonLogger(TextLogger):
    """Every line of the access and error logs is one JSON object."""

    formatter_class = JsonFormatter

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.access_log.handlers:
            if getattr(handler, "_gunicorn", False):
                handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "request_id": environ.get(ENVIRON_KEY),
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],  # never `q` or `r`: the query string may carry codes
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": atoms["M"],
        }
        message = f"{atoms['m']} {atoms['U']} {atoms['s']}"
        self.access_log.info("%s", message, extra={"fields": fields})


def logger_class(log_format: str) -> type[Logger]:
    """The gunicorn `logger_class` for GATEHOUSE_LOG_FORMAT (`text` or `json`)."""
    return JsonLogger if log_format == "json" else TextLogger
