"""Gatehouse: create_app(), config, database hooks, security headers, error pages, CLI, wiring."""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, Response, abort, current_app, jsonify, request
from flask_wtf.csrf import CSRFError
from peewee import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from models import (
    PRAGMAS,
    User,
    apply_migrations,
    db,
    parse_migrations,
    private_database,
    private_files,
    schema_version,
)
from oauth import (
    account,
    accounts,
    admin,
    admin_users,
    api,
    apps_api,
    authorize,
    cli_clients,
    cli_users,
    device,
    hardening,
    introspection,
    keys,
    login,
    maintenance,
    metadata,
    mock,
    perimeter,
    playground,
    registration,
    settings,
    token,
    userinfo,
)
from oauth.errors import NO_STORE, error_page
from oauth.ops import health, logs, metrics
from oauth.session import csrf, current_user

MIGRATIONS = Path(__file__).with_name("migrations.sql")
DEFAULTS = settings.DEFAULTS  # every setting's default: the table is in oauth/settings.py


# Path prefixes that answer people with HTML; everything else below /oauth2, /api and
# /.well-known answers clients with JSON.
HTML_PREFIXES = ("/oauth2/authorize", "/oauth2/consent", "/oauth2/device", "/oauth2/logout")
JSON_PREFIXES = ("/oauth2/", "/api/", "/.well-known/", "/openapi.json", "/healthz", "/metrics")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)


def private_dir(path: str) -> None:
    """Create the instance folder 0700, and tighten an older one we own, whatever the umask."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    private_files(path, mode=0o700)


def load_or_create_secret(instance_path: str) -> str:
    """The instance's secret key: generated once (mode 0600) and shared by every worker."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        # Written whole to a private temp file, then linked into place: workers starting
        # together never read a half-written key, and the first link wins for all of them.
        fd, tmp = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32))
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path, encoding="ascii") as f:
        return f.read().strip()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Gatehouse app; `config` (tests) overrides defaults and GATEHOUSE_* env vars."""
    app = Flask(__name__, instance_relative_config=True)
    if config is None:
        app.config.from_mapping(settings.config_or_exit(os.environ))
    else:  # tests: typed values over the environment; a bad one raises SettingsError
        app.config.from_mapping(settings.load_config(os.environ, config))
    app.config["DATABASE"] = settings.database_path(app.config, app.instance_path)
    private_dir(app.instance_path)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = load_or_create_secret(app.instance_path)
    secure = app.config["ISSUER"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="__Host-gatehouse" if secure else "gatehouse_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=app.config["SESSION_LIFETIME"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    if app.config["TRUSTED_PROXIES"] > 0:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    # BUSY_TIMEOUT_MS: how long a writer waits for the lock; tests use a tiny one.
    pragmas = {**PRAGMAS, "busy_timeout": app.config["BUSY_TIMEOUT_MS"]}
    db.init(app.config["DATABASE"], pragmas=pragmas)
    perimeter.init_app(app)  # Host check on a loopback issuer; mock mode answers loopback only
    app.before_request(_connect_db)
    app.before_request(_limit_chunked_body)
    app.after_request(_security_headers)
    _register_error_handlers(app)
    metrics.init_app(app)  # requests by endpoint and status, latency, tokens issued
    hardening.init_app(app, wants_json)  # broken bodies are a 4xx on every endpoint
    csrf.init_app(app)
    app.context_processor(lambda: {"current_user": current_user})

    for module in (login, account, admin, admin_users, authorize, health, playground):
        app.register_blueprint(module.bp)
    for module in (apps_api, token, introspection, api, metadata, userinfo, registration):
        app.register_blueprint(module.bp)
        csrf.exempt(module.bp)  # called by clients with their own credentials, not cookies
    if app.config["MOCK"]:  # the control API and its forced-error hook exist in mock mode only
        app.register_blueprint(mock.bp)
        csrf.exempt(mock.bp)
    app.register_blueprint(device.bp)  # also registers the device_code grant at /oauth2/token
    csrf.exempt(device.device_authorization)  # clients call it; /oauth2/device keeps CSRF

    app.cli.add_command(db_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(bootstrap_command)
    app.cli.add_command(cli_users.users_cli)
    app.cli.add_command(cli_clients.clients_cli)
    app.cli.add_command(cli_clients.resources_cli)
    app.cli.add_command(registration.registration_cli)
    logs.init_app(app)  # last: X-Request-Id on every response, around every other middleware
    return app


def _connect_db() -> None:
    # One connection per worker thread, opened lazily after the fork and kept across requests:
    # reconnecting per request (pragmas, WAL files) measured 40-60% slower.
    db.connect(reuse_if_open=True)


def _limit_chunked_body() -> None:
    """413 for a chunked body over MAX_CONTENT_LENGTH, as for a declared one.

    With no Content-Length, Werkzeug stops reading at the limit without a word and parses the
    truncated body; read it here (cached for the form parser) and look for one byte more.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None or limit is None:
        return
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
        abort(413)


def wants_json() -> bool:
    path = request.path
    page = any(path == p or path.startswith(p + "/") for p in HTML_PREFIXES)
    return path.startswith(JSON_PREFIXES) and not page  # /oauth2/device_authorization is JSON


# Endpoints a client running in a web page (the MCP Inspector, a SPA) calls with its own
# credentials, never cookies: readable from any origin, and never with Allow-Credentials.
CLIENT_CORS_PATHS = (
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/register",
    "/oauth2/userinfo",
    "/oauth2/device_authorization",
)


def _client_cors(response: Response) -> None:
    path = request.path
    if path not in CLIENT_CORS_PATHS and not path.startswith("/oauth2/clients/"):
        return
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = (
        "Authorization, Content-Type, MCP-Protocol-Version"
    )
    response.headers["Access-Control-Expose-Headers"] = (
        "WWW-Authenticate, Retry-After, X-Request-Id"
    )
    response.headers["Access-Control-Max-Age"] = "86400"


def _security_headers(response: Response) -> Response:
    _client_cors(response)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/.well-known/") or request.path == "/oauth2/jwks":
        pass  # public and cacheable; the metadata blueprint sets Cache-Control
    elif "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"  # pages and APIs show per-user data
    return response


def _json_or_page(status: int, error: str, message: str, headers: dict | None = None):
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
        response = _json_or_page(exc.code or 500, error or "server_error", exc.description or "")
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _json_or_page(
            400,
            "invalid_request",
            "The form expired or was not sent by us "
            "(CSRF check failed). Go back, reload the page and try again.",
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(sqlite3.OperationalError)
    def database_busy(exc: Exception):
        # A write lock held past busy_timeout: tell the client to retry, never a 500.
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise exc
        app.logger.warning("database busy: %s %s", request.method, request.path)
        return _json_or_page(
            503,
            "temporarily_unavailable",
            "The server is busy. Retry shortly.",
            {"Retry-After": "1"},
        )

    @app.errorhandler(500)
    def server_error(exc: Exception):
        return _json_or_page(500, "server_error", "Something went wrong on our side.")


# -- CLI -----------------------------------------------------------------------------------


@click.group("db")
def db_cli() -> None:
    """Database schema and maintenance."""


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the pending blocks of migrations.sql (idempotent)."""
    applied = upgrade(current_app.config["DATABASE"])
    click.echo(f"applied migrations: {applied}" if applied else "database is up to date")


@db_cli.command("status")
def db_status() -> None:
    """Show the schema version and the newest migration."""
    path = current_app.config["DATABASE"]
    newest = max(n for n, _ in parse_migrations(MIGRATIONS.read_text()))
    private_database(path)
    conn = sqlite3.connect(path)
    try:
        version = schema_version(conn)
    finally:
        conn.close()
    state = "up to date" if version == newest else f"{newest - version} pending"
    click.echo(f"database: {path}\nschema version: {version} of {newest} ({state})")


@db_cli.command("purge")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--pause", default=0.01, show_default=True, help="Seconds to yield between batches.")
def db_purge(batch_size: int, pause: float) -> None:
    """Delete expired codes, tokens, device codes, sessions, throttle events, and unvetted
    clients unused for 30 days; checkpoint the WAL.

    Safe while serving: each batch is its own short write transaction.
    """
    with db.connection_context():
        counts = maintenance.purge(batch_size=batch_size, pause=pause)
        busy, wal_pages, done = maintenance.checkpoint()
    for table, count in counts.items():
        click.echo(f"{table}: {count} deleted")
    state = "complete" if not busy else f"partial, {done} of {wal_pages} pages (readers active)"
    click.echo(f"WAL checkpoint: {state}")


@db_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def db_backup(path: str) -> None:
    """Copy the database to PATH with SQLite's online backup API (safe while serving)."""
    source = db.database  # the file create_app() initialised, as configured
    size = maintenance.backup(source, path)
    click.echo(f"backed up {source} to {path} ({size} bytes, integrity ok)")


def upgrade(path: str) -> list[int]:
    """Apply pending migrations to the database at `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return apply_migrations(path, MIGRATIONS.read_text())


@click.group("keys")
def keys_cli() -> None:
    """Signing keys for id_tokens."""


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; old keys stay published until their tokens have expired."""
    with db.connection_context():
        keep = keys.publish_period(int(current_app.config["ACCESS_TOKEN_TTL"]))
        key = keys.rotate(keep)
    seconds = int(keep.total_seconds())
    click.echo(f"new signing key {key.kid}; previous keys published for {seconds} more seconds")


@click.command("bootstrap")
def bootstrap_command() -> None:
    """Create the first admin (random password, printed once) when there are no users."""
    issuer = current_app.config["ISSUER"]
    with db.connection_context():
        if User.select().count() == 0:
            password = secrets.token_urlsafe(12)
            accounts.add_user("cli", "", "admin", password, name="Administrator", is_admin=True)
            click.echo(
                f"Created the first administrator.\n  username: admin\n  "
                f"password: {password}   (shown once; change it or keep it safe)"
            )
    click.echo(f"Gatehouse issuer: {issuer}\nAdmin pages:      {issuer}/admin/apps")
