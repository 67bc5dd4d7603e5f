"""JSON management API for protected resources (RFC 8707 audiences):
/api/v2/oauth2-provider/resources.

The same guard and error shape as the apps API (oauth/manage/apps_api.py): admins only, a
session with CSRF or an admin personal access token; errors are `{"message", "validations"}`,
and a body member this API does not know is one of the validations, never silently ignored.
The rules and the audited writes are oauth.manage.resources', as for the admin page and
`flask resources`. `scopes` is a JSON array of scope tokens (as `scopes_supported` in the
resource's RFC 9728 metadata); `owner` is a client_id or null; `token_format` is `jwt`,
`opaque` or null (null follows GATEHOUSE_ACCESS_TOKEN_FORMAT).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, url_for

from models import Resource
from oauth.manage import resources
from oauth.manage.apps import AppError
from oauth.manage.apps_api import ApiError, api_error, body_with, json_response
from oauth.session import admin_required_api, client_ip

bp = Blueprint("resources_api", __name__, url_prefix="/api/v2/oauth2-provider")
bp.register_error_handler(ApiError, api_error)  # the apps API's {"message"} shape

CREATE_MEMBERS = ("uri", *resources.EDITABLE)


@bp.errorhandler(AppError)
def _resource_error(exc: AppError):
    return api_error(ApiError(400, exc.message, exc.problems))


def _object_body(members: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object body, holding only `members` (400 with validations otherwise)."""
    data = body_with(members)
    if not isinstance(data, dict):
        raise ApiError(400, "Validation failed.", [{"field": "", "detail": "must be an object"}])
    return data


def _get_or_404(resource_id: int) -> Resource:
    # SQLite integers are signed 64-bit: a larger id names nothing (and would be a 500)
    row = Resource.get_or_none(Resource.id == resource_id) if resource_id < 2**63 else None
    if row is None:
        raise ApiError(404, f"No resource with id {resource_id}.")
    return row


@bp.get("/resources")
@admin_required_api
def list_resources():
    """Every protected resource, by URI, with `count`."""
    rows = list(Resource.select().order_by(Resource.uri))
    return json_response(
        {"resources": [resources.resource_json(r) for r in rows], "count": len(rows)}
    )


@bp.post("/resources")
@admin_required_api
def new_resource():
    """Register a resource (201): `uri` required; `name`, `scopes`, `owner`, `token_format`."""
    data = _object_body(CREATE_MEMBERS)
    if "uri" not in data:
        raise ApiError(400, "Validation failed.", [{"field": "uri", "detail": "is required"}])
    row = resources.add_resource(
        data["uri"],
        data.get("name", ""),
        data.get("scopes", []),
        data.get("owner"),
        g.actor.username,
        client_ip(),
        token_format=data.get("token_format"),
    )
    location = current_app.config["ISSUER"] + url_for(
        "resources_api.get_resource", resource_id=row.id
    )
    return json_response(resources.resource_json(row), 201, {"Location": location})


@bp.get("/resources/<int:resource_id>")
@admin_required_api
def get_resource(resource_id: int):
    return json_response(resources.resource_json(_get_or_404(resource_id)))


@bp.patch("/resources/<int:resource_id>")
@admin_required_api
def update_resource(resource_id: int):
    """Change the fields named (`name`, `scopes`, `owner`, `token_format`); the URI is fixed."""
    row = _get_or_404(resource_id)
    data = _object_body(resources.EDITABLE)
    resources.update_resource(row, data, g.actor.username, client_ip())
    return json_response(resources.resource_json(row))


@bp.delete("/resources/<int:resource_id>")
@admin_required_api
def delete_resource(resource_id: int):
    """Forget a resource (204); tokens already issued for it keep their audience."""
    resources.delete_resource(_get_or_404(resource_id), g.actor.username, client_ip())
    return json_response(None, 204)
