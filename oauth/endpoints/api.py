"""The built-in protected resource: /api/v2/users/me (RFC 6750 bearer tokens).

Its audience is the issuer: a token minted for another resource (RFC 8707) is refused here.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from oauth.constants import BUILTIN_API_PATH
from oauth.params import bearer_token
from oauth.rules.bearer import challenge, find_access_token

bp = Blueprint("api", __name__, url_prefix=BUILTIN_API_PATH)
# What /users/me needs, named in every challenge (MCP 2025-11-25: RS SHOULD send `scope`;
# SEP-2350: every scope the operation needs; SEP-2207: never offline_access).
USERS_ME_SCOPE = "profile"


def refuse(status: int, error: str | None, description: str):
    return challenge(status, error, description, USERS_ME_SCOPE)


@bp.get("/users/me")
def users_me():
    """Who the access token belongs to: needs audience = issuer and the `profile` scope."""
    token = bearer_token()
    if token is None:
        # RFC 6750 §3.1: no error code for a request without Bearer credentials (a malformed
        # Bearer header is still invalid_token).
        tried = request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer"
        return refuse(401, "invalid_token" if tried else None, "A Bearer access token is required.")
    row = find_access_token(token)
    if row is None:
        return refuse(401, "invalid_token", "The access token is invalid or has expired.")
    if row.audience != current_app.config["ISSUER"]:
        return refuse(401, "invalid_token", "The access token is for another resource.")
    if row.user is None:
        # client_credentials: valid, but there is no person for /users/me to describe.
        return refuse(401, "invalid_token", "The access token has no user (client token).")
    if not set(USERS_ME_SCOPE.split()) <= set(row.scope.split()):
        return refuse(403, "insufficient_scope", f"This needs the scope: {USERS_ME_SCOPE}.")
    user = row.user
    return jsonify(id=user.sub, username=user.username, email=user.email, name=user.name)
