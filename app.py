"""Gatehouse: create_app() wires settings, the database, hooks, blueprints and CLI commands."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from models import db
from oauth import keys, mock, settings
from oauth.constants import AS_WELL_KNOWN, JWKS_PATH, OIDC_WELL_KNOWN
from oauth.csrf import csrf, init_csrf
from oauth.dialect import open_database
from oauth.endpoints import (
    api,
    authorize,
    device,
    end_session,
    introspection,
    login,
    metadata,
    registration,
    revocation,
    token,
    userinfo,
)
from oauth.manage import (
    account_pages,
    apps_api,
    apps_cli,
    apps_pages,
    audit,
    resources_api,
    resources_cli,
    resources_pages,
    users_cli,
    users_pages,
)
from oauth.ops import (
    forms,
    hardening,
    health,
    instance,
    logs,
    maintenance_cli,
    metrics,
    perimeter,
    playground,
)
from oauth.session import SessionInterface, current_user
from oauth.urls import breakable


class Gatehouse(Flask):
    """Flask, asking once per function instead of on every call whether it is async, with a
    request class that reads urlencoded bodies in one step (oauth/ops/forms.py)."""

    request_class = forms.Request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask calls this for every hook, view and error handler of every request, and it
        # asks `inspect` each time (a dozen times a request). The answer never changes.
        sync = self._sync.get(func)
        if sync is None:
            sync = super().ensure_sync(func)
            if len(self._sync) < 1024:  # hooks and views are few; anything else is not kept
                self._sync[func] = sync
        return sync


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Gatehouse app; `config` (tests) overrides defaults and GATEHOUSE_* env vars."""
    app = Gatehouse(__name__, instance_relative_config=True)
    if config is None:
        app.config.from_mapping(settings.config_or_exit(os.environ))
    else:  # tests: typed values over the environment; a bad one raises SettingsError
        app.config.from_mapping(settings.load_config(os.environ, config))
    app.config["DATABASE"] = settings.database_path(app.config, app.instance_path)
    instance.private_dir(app.instance_path)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance.load_or_create_secret(app.instance_path)
    secure = app.config["ISSUER"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="__Host-gatehouse" if secure else "gatehouse_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=app.config["SESSION_LIFETIME"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.session_interface = SessionInterface()  # none for protocol and discovery endpoints
    if not app.config["MOCK"]:  # mock mode checks each caller's address (oauth/ops/perimeter.py)
        app.wsgi_app = DiscoveryFastPath(app, app.wsgi_app)  # inside ProxyFix: its Host
    if app.config["TRUSTED_PROXIES"] > 0:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    # BUSY_TIMEOUT_MS: how long a writer waits for the lock; tests use a tiny one.
    open_database(app.config["DATABASE"], app.config["BUSY_TIMEOUT_MS"])
    perimeter.init_app(app)  # Host check on a loopback issuer; mock mode answers loopback only
    app.before_request(_connect_db)
    hardening.init_app(app)  # body checks, JSON-or-page error answers
    metrics.init_app(app)  # requests by endpoint and status, latency, tokens issued
    init_csrf(app)  # every form's CSRF token, checked on unsafe methods only
    app.context_processor(lambda: {"current_user": current_user})
    app.add_template_filter(breakable)  # URLs wrap after "/" and never inside "https://"

    pages = (login, account_pages, apps_pages, resources_pages, users_pages, audit, authorize)
    # Once each: apps and resources pages share "admin", users and audit "admin_users".
    for blueprint in dict.fromkeys(module.bp for module in (*pages, health, playground)):
        app.register_blueprint(blueprint)
    clients_call = (apps_api, resources_api, token, revocation, introspection, api, metadata)
    for module in (*clients_call, userinfo, end_session, registration):
        app.register_blueprint(module.bp)
        csrf.exempt(module.bp)  # called by clients with their own credentials, not cookies
    mock.init_app(app)  # the control API and its forced-error hook, in mock mode only
    app.register_blueprint(device.bp)
    csrf.exempt(device.device_authorization)  # clients call it; /oauth2/device keeps CSRF

    for command in (
        maintenance_cli.db_cli,
        keys.keys_cli,
        users_cli.bootstrap_command,
        users_cli.users_cli,
        apps_cli.clients_cli,
        resources_cli.resources_cli,
        registration.registration_cli,
    ):
        app.cli.add_command(command)
    # Last, around every other middleware: X-Request-Id, the security headers and CORS on
    # every response.
    logs.init_app(app, finish=hardening.finish_headers)
    return app


class DiscoveryFastPath:
    """WSGI middleware: the authorization server metadata and the JWKS, the documents every
    client fetches first and most, answered from this worker's built bytes without Flask's
    request machinery (request context, routing, hooks), which costs more than they do.

    Only the plain case: GET or HEAD of exactly their paths, with no If-None-Match and no
    mount point, from a Host the perimeter has already accepted, on an open connection, and a
    document this worker built for the current version (the same exact counter read as the
    view's). Anything else, or any error, goes to Flask, which answers as before. The answer
    is the view's, header for header (tests/endpoints/test_metadata.py compares them); the
    outermost middleware adds the same security headers and request id; the request is
    counted in the metrics under the view's endpoint.
    """

    def __init__(self, app: Flask, wsgi_app: Callable[..., Any]) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        issuer_path = metadata.path_of(app.config["ISSUER"])
        self.endpoints = {
            AS_WELL_KNOWN + issuer_path: "metadata.authorization_server",
            issuer_path + OIDC_WELL_KNOWN: "metadata.openid_configuration",
            OIDC_WELL_KNOWN + issuer_path: "metadata.openid_configuration",
            JWKS_PATH: "metadata.jwks",
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        endpoint = self.endpoints.get(environ.get("PATH_INFO", ""))
        answer = self._document(environ, endpoint) if endpoint is not None else None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        body, etag = answer
        method = environ["REQUEST_METHOD"]
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *metadata.cache_headers(etag),  # as the view's json_document
            *hardening.PUBLIC_CORS_HEADERS,  # the metadata blueprint's CORS
        ]
        started = environ.get(logs.STARTED_KEY)
        seconds = time.perf_counter() - started if started is not None else None
        self.app.extensions["gatehouse_metrics"].observe(endpoint, method, 200, seconds)
        start_response("200 OK", headers)
        return [] if method == "HEAD" else [body]

    def _document(self, environ: dict[str, Any], endpoint: str) -> tuple[bytes, str] | None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("SCRIPT_NAME"):
            return None
        if "HTTP_IF_NONE_MATCH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
            return None
        check = self.app.extensions.get(perimeter.HOST_CHECK)
        if check is not None and environ.get("HTTP_HOST") not in check.accepted:
            return None
        database = db.obj
        if database.is_closed() or not database.is_connection_usable():
            return None
        try:
            if endpoint == "metadata.jwks":
                body = keys.current_jwks_body()
                return metadata.jwks_document(body) if body is not None else None
            return metadata.current_document(self.app, metadata.METADATA)
        except Exception:  # Flask reads it again and answers it (a 503 when busy)
            return None


def _connect_db() -> None:
    # One connection per worker thread, opened lazily after the fork and kept across requests:
    # reconnecting per request (pragmas, WAL files) measured 40-60% slower. A PostgreSQL
    # connection the server dropped (restart, failover) is replaced (oauth/dialect.py).
    database = db.obj  # the proxy's target: one attribute lookup instead of three
    if database.is_closed():
        database.connect()
    elif not database.is_connection_usable():
        database.close()
        database.connect()
