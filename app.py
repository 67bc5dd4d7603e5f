"""Gatehouse: create_app() wires settings, the database, hooks, blueprints and CLI commands."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import click
from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from models import PRAGMAS, db, private_files
from oauth import (
    api,
    authorize,
    device,
    introspection,
    keys,
    login,
    metadata,
    mock,
    registration,
    settings,
    token,
    userinfo,
)
from oauth.manage import (
    account_pages,
    apps_api,
    apps_cli,
    apps_pages,
    audit,
    resources_cli,
    resources_pages,
    users_cli,
    users_pages,
)
from oauth.ops import hardening, health, maintenance_cli, metrics, perimeter, playground
from oauth.session import csrf, current_user

DEFAULTS = settings.DEFAULTS  # every setting's default: the table is in oauth/settings.py


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
    if not app.config["DATABASE"]:
        app.config["DATABASE"] = os.path.join(app.instance_path, "gatehouse.sqlite3")
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
    hardening.init_app(app)  # body checks, security headers, CORS, JSON-or-page error answers
    metrics.init_app(app)  # requests by endpoint and status, latency, tokens issued
    csrf.init_app(app)
    app.context_processor(lambda: {"current_user": current_user})

    pages = (login, account_pages, apps_pages, resources_pages, users_pages, audit, authorize)
    # Once each: apps and resources pages share "admin", users and audit "admin_users".
    for blueprint in dict.fromkeys(module.bp for module in (*pages, health, playground)):
        app.register_blueprint(blueprint)
    for module in (apps_api, token, introspection, api, metadata, userinfo, registration):
        app.register_blueprint(module.bp)
        csrf.exempt(module.bp)  # called by clients with their own credentials, not cookies
    mock.init_app(app)  # the control API and its forced-error hook, in mock mode only
    app.register_blueprint(device.bp)  # also registers the device_code grant at /oauth2/token
    csrf.exempt(device.device_authorization)  # clients call it; /oauth2/device keeps CSRF

    app.cli.add_command(maintenance_cli.db_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(users_cli.bootstrap_command)
    app.cli.add_command(users_cli.users_cli)
    app.cli.add_command(apps_cli.clients_cli)
    app.cli.add_command(resources_cli.resources_cli)
    app.cli.add_command(registration.registration_cli)
    return app


def _connect_db() -> None:
    # One connection per worker thread, opened lazily after the fork and kept across requests:
    # reconnecting per request (pragmas, WAL files) measured 40-60% slower.
    db.connect(reuse_if_open=True)


# -- CLI commands that have no home yet ----------------------------------------------------


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
