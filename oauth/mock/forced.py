"""Forced errors: the next request to an endpoint answers an error a test queued (mock mode).

Queued rows live in `mock_forced_error`, so every gunicorn worker sees them. Each is taken
once, oldest first, under the write lock. Protocol endpoints answer RFC 6749 §5.2 JSON with
`no-store`; the authorization endpoint redirects the error to a verified redirect URI
(§4.1.2.1, which is how it reports even `server_error` and `temporarily_unavailable`), or shows
an HTML page with the queued status when the client or redirect URI cannot be verified.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, request

from models import MockForcedError, db, execute, utcnow
from oauth.errors import OAuthError, UnverifiedRequest, error_page, json_error, redirect_error
from oauth.rules import authorization_request as authz_request

# Flask endpoints a forced error can target, by the name the control API uses.
ENDPOINTS = {
    "token": "token.token",
    "authorize": "authorize.authorize",
    "userinfo": "userinfo.userinfo",
    "introspect": "introspection.introspect",
    "revoke": "revocation.revoke",
    "register": "registration.register",
    "device_authorization": "device.device_authorization",
}
_BY_FLASK_ENDPOINT = {flask: name for name, flask in ENDPOINTS.items()}
# RFC 6749 §5.2: `error` and `error_description` use NQSCHAR; we also keep spaces out of error.
_ERROR = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")
_DESCRIPTION = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{0,500}$")
RETRY_STATUSES = (429, 503)  # answered with Retry-After: 1, as the real 503 is
ANY_QUEUED_SQL = "SELECT 1 FROM mock_forced_error WHERE endpoint = ? LIMIT 1"


def forced_error_problems(data: Any) -> list[dict[str, str]]:
    """Every problem with a forced-error body ({"field", "detail"}); empty when it is fine."""
    if not isinstance(data, dict):
        return [{"field": "", "detail": "the body must be a JSON object"}]
    problems = []
    if data.get("endpoint") not in ENDPOINTS:
        detail = f"must be one of {', '.join(ENDPOINTS)}"
        problems.append({"field": "endpoint", "detail": detail})
    status = data.get("status", 400)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        problems.append({"field": "status", "detail": "must be an integer from 400 to 599"})
    if not isinstance(data.get("error"), str) or not _ERROR.match(data["error"]):
        detail = "must be an RFC 6749 error code such as invalid_grant (no spaces or quotes)"
        problems.append({"field": "error", "detail": detail})
    description = data.get("error_description", "")
    if not isinstance(description, str) or not _DESCRIPTION.match(description):
        detail = "must be at most 500 printable ASCII characters without quotes or backslashes"
        problems.append({"field": "error_description", "detail": detail})
    return problems


def queue(data: dict[str, Any]) -> MockForcedError:
    """Queue a checked forced error behind any others for the same endpoint."""
    with db.atomic():
        return MockForcedError.create(
            endpoint=data["endpoint"],
            status=data.get("status", 400),
            error=data["error"],
            error_description=data.get("error_description", ""),
            created_at=utcnow(),
        )


def pending() -> list[MockForcedError]:
    return list(MockForcedError.select().order_by(MockForcedError.id))


def clear() -> int:
    """Drop every queued forced error; how many there were."""
    with db.atomic():
        return MockForcedError.delete().execute()


def take(endpoint: str) -> MockForcedError | None:
    """The oldest queued error for `endpoint`, removed so no other worker answers it too."""
    # Every protocol request asks: one fixed indexed read (no query building), no write lock.
    if execute(ANY_QUEUED_SQL, (endpoint,)).fetchone() is None:
        return None
    query = MockForcedError.select().where(MockForcedError.endpoint == endpoint)
    with db.atomic("IMMEDIATE"):
        row = query.order_by(MockForcedError.id).first()
        if row is None:
            return None
        taken = MockForcedError.delete().where(MockForcedError.id == row.id).execute()
    return row if taken == 1 else None


def forced_error_json(row: MockForcedError) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpoint": row.endpoint,
        "status": row.status,
        "error": row.error,
        "error_description": row.error_description,
    }


def answer_forced_error() -> Response | tuple[str, int] | None:
    """before_request hook: answer a queued error for this request's endpoint, if any."""
    name = _BY_FLASK_ENDPOINT.get(request.endpoint or "")
    if name is None or request.method == "OPTIONS":
        return None
    row = take(name)
    if row is None:
        return None
    current_app.logger.info("mock: forced %s %s on %s", row.status, row.error, name)
    headers = {"Retry-After": "1"} if row.status in RETRY_STATUSES else {}
    exc = OAuthError(row.error, row.error_description or None, row.status, headers)
    if name == "authorize":
        return _authorize_error(exc)
    return json_error(exc)


def _authorize_error(exc: OAuthError) -> Response | tuple[str, int]:
    """Redirect to a verified redirect URI (RFC 6749 §4.1.2.1), else a page; never unverified."""
    source = request.args if request.method == "GET" else request.form
    params = source.to_dict(flat=False)
    try:
        _, redirect_uri, _ = authz_request.verify_client(params)
    except UnverifiedRequest:
        return error_page("Authorization error", exc.description or exc.error, exc.status)
    status = 302 if request.method == "GET" else 303
    state = authz_request.state_of(params)
    return redirect_error(redirect_uri, exc, state, current_app.config["ISSUER"], status)
