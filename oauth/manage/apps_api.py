"""JSON management API for OAuth2 apps and their secrets: /api/v2/oauth2-provider/apps.

Admins only (`admin_required_api`: a session with CSRF, or an admin personal access token).
Errors are `{"message": ...}`, with `validations: [{"field", "detail"}]` listing every problem.
PUT replaces the editable fields (left-out optional ones get their defaults); PATCH changes only
the fields it names.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from models import Client, ClientSecret
from oauth.manage import apps
from oauth.session import admin_required_api, client_ip

bp = Blueprint("apps_api", __name__, url_prefix="/api/v2/oauth2-provider")

MAX_LIMIT = 200


class ApiError(Exception):
    """An API error answered as {"message", "validations"}."""

    def __init__(self, status: int, message: str, problems: apps.Problems | None = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = jsonify(body) if status != 204 else Response(status=204)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    body: dict[str, Any] = {"message": exc.message}
    if exc.problems:
        body["validations"] = exc.problems
    return json_response(body, exc.status)


@bp.errorhandler(apps.AppError)
def _app_error(exc: apps.AppError):
    return api_error(ApiError(400, exc.message, exc.problems))


def _actor() -> str:
    return g.actor.username


def get_app_or_404(client_id: str) -> Client:
    client = Client.by_client_id(client_id)
    if client is None:
        raise ApiError(404, f"No application with id {client_id!r}.")
    return client


def request_json() -> Any:
    """The JSON body, or a 400 that says why it is not one."""
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "The body must be JSON (Content-Type: application/json).")
    return body


def body_with(members: tuple[str, ...]) -> Any:
    """The JSON body, refused (400, validations) if it holds a member not in `members`."""
    data = request_json()
    if isinstance(data, dict):
        unknown = [name for name in data if name not in members]
        if unknown:
            detail = "is not a known field (known: " + ", ".join(members) + ")"
            problems = [{"field": name, "detail": detail} for name in unknown]
            raise ApiError(400, "Unknown fields.", problems)
    return data


def _int_arg(name: str, default: int, minimum: int, problems: apps.Problems) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value < 2**63:  # SQLite integers are signed 64-bit: beyond is a 500
        problems.append({"field": name, "detail": f"must be an integer from {minimum} to 2^63-1"})
    return value


def _validated(problems: apps.Problems) -> None:
    if problems:
        raise ApiError(400, "Validation failed.", problems)


@bp.get("/apps")
@admin_required_api
def list_apps():
    """Apps, newest first: `q` (name contains), `vetted` (true/false), `limit` (<= 200),
    `offset`; with `count`."""
    problems: apps.Problems = []
    limit = _int_arg("limit", 50, 1, problems)
    offset = _int_arg("offset", 0, 0, problems)
    vetted = request.args.get("vetted")
    if vetted not in (None, "true", "false"):
        problems.append({"field": "vetted", "detail": "must be true or false"})
    _validated(problems)
    trust = None if vetted is None else vetted == "true"
    q = request.args.get("q", "")
    rows, count = apps.find_apps(q, min(limit, MAX_LIMIT), offset, vetted=trust)
    issuer = current_app.config["ISSUER"]
    return json_response({"apps": [apps.app_json(c, issuer) for c in rows], "count": count})


@bp.post("/apps")
@admin_required_api
def new_app():
    """Create an app (201); a confidential app's first `client_secret` is returned this once."""
    clean, problems = apps.validate_app(request_json())
    _validated(problems)
    client, secret = apps.create_client(clean, _actor(), client_ip(), vetted=True)
    body = apps.app_json(client, current_app.config["ISSUER"])
    if secret is not None:
        body["client_secret"] = secret
    location = current_app.config["ISSUER"] + url_for(
        "apps_api.get_app", client_id=client.client_id
    )
    return json_response(body, 201, {"Location": location})


@bp.get("/apps/<client_id>")
@admin_required_api
def get_app(client_id: str):
    return json_response(apps.app_json(get_app_or_404(client_id), current_app.config["ISSUER"]))


@bp.route("/apps/<client_id>", methods=["PUT", "PATCH"])
@admin_required_api
def update_app(client_id: str):
    """PUT replaces the editable fields; PATCH changes only those it names."""
    client = get_app_or_404(client_id)
    clean, problems = apps.validate_update(client, request_json(), request.method == "PATCH")
    _validated(problems)
    apps.update_client(client, clean, _actor(), client_ip())
    return json_response(apps.app_json(client, current_app.config["ISSUER"]))


@bp.post("/apps/<client_id>/vet")
@admin_required_api
def vet_app(client_id: str):
    """Vet a self-registered app: an administrator vouches for it (audited; idempotent)."""
    client = get_app_or_404(client_id)
    apps.vet_client(client, _actor(), client_ip())
    return json_response(apps.app_json(client, current_app.config["ISSUER"]))


@bp.delete("/apps/<client_id>")
@admin_required_api
def delete_app(client_id: str):
    """Delete an app with its secrets, codes and tokens (204)."""
    apps.delete_client(get_app_or_404(client_id), _actor(), client_ip())
    return json_response(None, 204)


@bp.get("/apps/<client_id>/secrets")
@admin_required_api
def list_secrets(client_id: str):
    client = get_app_or_404(client_id)
    rows = client.secrets.order_by(ClientSecret.id)
    return json_response({"secrets": [apps.secret_json(row) for row in rows]})


@bp.post("/apps/<client_id>/secrets")
@admin_required_api
def create_secret(client_id: str):
    """A new secret (201); the full `client_secret` is in this response and never again."""
    row, value = apps.create_secret(get_app_or_404(client_id), _actor(), client_ip())
    return json_response({**apps.secret_json(row), "client_secret": value}, 201)


@bp.delete("/apps/<client_id>/secrets/<int:secret_id>")
@admin_required_api
def delete_secret(client_id: str, secret_id: int):
    """Delete a secret and revoke every token minted with it (204)."""
    client = get_app_or_404(client_id)
    row = ClientSecret.get_or_none(ClientSecret.id == secret_id, ClientSecret.client == client)
    if row is None:
        raise ApiError(404, f"No secret {secret_id} for this application.")
    apps.delete_secret(row, _actor(), client_ip())
    return json_response(None, 204)
