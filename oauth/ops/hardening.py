"""What every response and every request body goes through: headers, CORS, error answers.

- Content negotiation: people get HTML pages, clients get JSON (`wants_json`, by path), and
  every error (404, 405, 413, CSRF, a busy database, a 500) is answered in the caller's kind:
  RFC 6749 error JSON with `no-store`, or a readable page.
- Security headers on every response (nosniff, no referrer, CSP and no framing on pages,
  `no-store` unless a view says otherwise), and CORS, all of it here (`finish_headers`):
  public metadata is readable from any origin; the endpoints a client calls with its own
  credentials are too; nothing is ever readable with credentials (cookies).
- Broken request bodies are a 4xx on every endpoint, never a 500:
  - a chunked body over MAX_CONTENT_LENGTH is a 413, as a declared one is;
  - JSON nested deeper than Python's recursion limit makes `json.loads` raise RecursionError
    inside `request.get_json()`, which every caller expects to raise ValueError (or, silent,
    to return None). The app's JSON provider turns the one into the other;
  - a page (an HTML form endpoint) posted as JSON reaches Flask-WTF, which wraps the JSON as
    form data and fails on anything but an object. Pages take forms: 415;
  - a body the HTTP server cannot decode (a broken chunked encoding, a truncated upload) only
    surfaces as gunicorn's ParseException or NoMoreData while the view reads the form: 400.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from flask import Flask, Request, Response, abort, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError
from peewee import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException

from oauth import dialect
from oauth.errors import NO_STORE, error_page

try:  # gunicorn serves production and the live tests; the test client needs no server
    from gunicorn.http.errors import NoMoreData, ParseException

    BODY_ERRORS: tuple[type[Exception], ...] = (ParseException, NoMoreData)
except ImportError:  # pragma: no cover
    BODY_ERRORS = ()

# Path prefixes that answer people with HTML; everything else below /oauth2, /api and
# /.well-known answers clients with JSON.
HTML_PREFIXES = ("/oauth2/authorize", "/oauth2/consent", "/oauth2/device", "/oauth2/logout")
JSON_PREFIXES = ("/oauth2/", "/api/", "/.well-known/", "/openapi.json", "/healthz", "/metrics")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)

# Endpoints a client running in a web page (the MCP Inspector, a SPA) calls with its own
# credentials, never cookies: readable from any origin, and never with Allow-Credentials.
CLIENT_CORS_PATHS = (
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/register",
    "/oauth2/userinfo",
    "/oauth2/device_authorization",
)
# The metadata blueprint's documents and JWKS: public, read-only (RFC 8414 §3, RFC 9728).
PUBLIC_CORS = {
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, MCP-Protocol-Version",
}
CLIENT_CORS = {
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Expose-Headers": "WWW-Authenticate, Retry-After, X-Request-Id",
}
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": "86400"}
# The headers every response gets, worked out once as the (name, value) pairs a WSGI server
# takes: appended to the finished response's header list in one pass (`finish_headers`), not
# added one by one through werkzeug's Headers, which validates each.
Pairs = tuple[tuple[str, str], ...]
PUBLIC_CORS_HEADERS: Pairs = tuple({**ANY_ORIGIN, **PUBLIC_CORS}.items())
CLIENT_CORS_HEADERS: Pairs = tuple({**ANY_ORIGIN, **CLIENT_CORS}.items())
DEFAULT_HEADERS: Pairs = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
PAGE_HEADERS: Pairs = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"))
NO_STORE_HEADERS: Pairs = (("Cache-Control", "no-store"),)


def _defaults(page: bool, public: bool) -> tuple[tuple[str, tuple[str, str]], ...]:
    pairs = DEFAULT_HEADERS + (PAGE_HEADERS if page else ()) + (() if public else NO_STORE_HEADERS)
    return tuple((name.lower(), (name, value)) for name, value in pairs)


# The defaults by (is an HTML page, may be stored), as (lower-case name, pair): one of four.
DEFAULTS = {(page, public): _defaults(page, public) for page in (0, 1) for public in (0, 1)}


def init_app(app: Flask) -> None:
    """Install the body checks and the error answers on `app` (the headers: `finish_headers`)."""
    app.json = SafeJSONProvider(app)
    app.before_request(check_body)
    for error in BODY_ERRORS:
        app.register_error_handler(error, _broken_body)
    _register_error_handlers(app)


def wants_json() -> bool:
    path = request.path
    page = any(path == p or path.startswith(p + "/") for p in HTML_PREFIXES)
    return path.startswith(JSON_PREFIXES) and not page  # /oauth2/device_authorization is JSON


def cors_headers(path: str, blueprint: str | None) -> Pairs:
    """Cross-origin reads of public metadata and client endpoints; never with credentials."""
    if blueprint == "metadata":
        return PUBLIC_CORS_HEADERS
    if path in CLIENT_CORS_PATHS or path.startswith("/oauth2/clients/"):
        return CLIENT_CORS_HEADERS
    return ()


WSGIHeaders = list[tuple[str, str]]


def finish_headers(environ: dict[str, Any], headers: WSGIHeaders, owned: Pairs = ()) -> WSGIHeaders:
    """A finished response's WSGI header list with CORS and `owned` (the outer middleware's
    own, the request id), which replace what a view set, and the security defaults, which a
    view may override (it set that header itself). One pass over the view's headers.

    Called by the outermost middleware (oauth/ops/logs.py) on every response the app makes.
    """
    # Flask's request, still current here, for a response of a view; else none (or another
    # WSGI layer's own request object), and no blueprint.
    request_ = environ.get("werkzeug.request")
    path = getattr(request_, "path", None) or environ.get("PATH_INFO", "")
    cors = cors_headers(path, getattr(request_, "blueprint", None))
    replaced = {name.lower() for name, _ in cors + owned}
    finished: WSGIHeaders = []
    present = set()
    page = False
    for pair in headers:
        lower = pair[0].lower()
        if lower in replaced:
            continue
        finished.append(pair)
        present.add(lower)
        if lower == "content-type":
            page = pair[1].partition(";")[0].strip() == "text/html"  # werkzeug's `mimetype`
    finished.extend(cors)
    # Pages and APIs show per-user data; public metadata sets its own Cache-Control.
    public = path.startswith("/.well-known/") or path == "/oauth2/jwks"
    finished.extend(pair for lower, pair in DEFAULTS[page, public] if lower not in present)
    finished.extend(owned)
    return finished


def check_body() -> None:
    """The request body checks every request goes through (one hook, one request lookup)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if "chunked" in req.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        limit_chunked_body(req)
    if req.method in ("POST", "PUT", "PATCH"):
        pages_take_forms(req)


def limit_chunked_body(req: Request) -> None:
    """413 for a chunked body over MAX_CONTENT_LENGTH, as for a declared one.

    With no Content-Length, Werkzeug stops reading at the limit without a word and parses the
    truncated body; read it here (cached for the form parser) and look for one byte more.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if req.content_length is not None or limit is None:
        return
    if len(req.get_data(cache=True)) >= limit and req.environ["wsgi.input"].read(1):
        abort(413)


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with over-deep nesting reported as the ValueError callers handle."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


def pages_take_forms(req: Request) -> None:
    # Only a JSON body can be refused: a substring test spares every other body the parse.
    content_type = req.environ.get("CONTENT_TYPE", "")
    if "json" in content_type.lower() and req.is_json and not wants_json():
        abort(415, "This page takes form posts (application/x-www-form-urlencoded).")


def _broken_body(exc: Exception):
    current_app.logger.info("unreadable request body: %s %s", request.method, request.path)
    return current_app.handle_http_exception(BadRequest("The request body could not be read."))


def json_or_page(status: int, error: str, message: str, headers: dict | None = None):
    """An error as RFC 6749 JSON for a client, or as a page for a person."""
    if wants_json():
        response = jsonify({"error": error, "error_description": message})
        response.status_code = status
        response.headers.update(NO_STORE)
    else:
        body, _ = error_page(error.replace("_", " ").capitalize(), message, status)
        response = Response(body, status=status, mimetype="text/html")
    response.headers.update(headers or {})
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        names = {403: "access_denied", 404: "not_found", 405: "method_not_allowed"}
        names[413] = "request_too_large"
        error = names.get(exc.code or 500, "invalid_request" if (exc.code or 500) < 500 else "")
        response = json_or_page(exc.code or 500, error or "server_error", exc.description or "")
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return json_or_page(
            400,
            "invalid_request",
            "The form expired or was not sent by us "
            "(CSRF check failed). Go back, reload the page and try again.",
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(sqlite3.OperationalError)
    @app.errorhandler(psycopg.OperationalError)
    def database_busy(exc: Exception):
        # A lock held past the busy timeout, a deadlock or a serialization failure (see
        # oauth/dialect.py): tell the client to retry, never a 500.
        if not dialect.is_busy(exc):
            raise exc
        app.logger.warning("database busy: %s %s", request.method, request.path)
        return json_or_page(
            503,
            "temporarily_unavailable",
            "The server is busy. Retry shortly.",
            {"Retry-After": "1"},
        )

    @app.errorhandler(500)
    def server_error(exc: Exception):
        return json_or_page(500, "server_error", "Something went wrong on our side.")
