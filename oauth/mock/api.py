"""Control API for tests: /api/v2/mock/ (users, clients, forced errors, minted tokens).

Registered only in mock mode (GATEHOUSE_MOCK=1: loopback issuer, bind and callers), and then
open to anyone who can reach the server; without mock mode neither these routes nor the
forced-error hook exist. An administrator's personal access token, if sent, is the audited
actor instead of `mock`. Bodies are JSON in and out, never cached;
errors are `{"message": ..., "validations": [{"field", "detail"}]}` like the apps API, and a
member a body may not hold (a typo such as `emial`) is one of them, never silently ignored. A
browser page on another origin cannot call it: every write needs `Content-Type:
application/json` or the DELETE method, both of which need a CORS preflight we never grant.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g

from oauth.manage import apps
from oauth.manage.apps_api import ApiError, api_error, body_with, json_response
from oauth.manage.users import AccountError
from oauth.mock import clients, forced
from oauth.mock.provider import (
    MOCK_ACTOR,
    MockError,
    check_user_fields,
    upsert_user,
    user_json,
)
from oauth.params import bearer_token
from oauth.rules.client_metadata import FIELDS as APP_FIELDS
from oauth.session import client_ip, personal_token_user

bp = Blueprint("mock", __name__, url_prefix="/api/v2/mock")


bp.register_error_handler(ApiError, api_error)  # the apps API's {"message"} shape


@bp.errorhandler(MockError)
def _mock_error(exc: MockError):
    return api_error(ApiError(400, exc.message, exc.problems))


@bp.errorhandler(AccountError)
def _account_error(exc: AccountError):
    return api_error(ApiError(400, str(exc), [{"field": "username", "detail": str(exc)}]))


# The members each JSON body may hold; any other is refused by name.
USER_MEMBERS = ("email", "name", "email_verified", "admin", "password", "claims")
CLIENT_MEMBERS = (*APP_FIELDS, "homepage")  # "homepage" is the apps API's alias of client_uri
ERROR_MEMBERS = ("endpoint", "status", "error", "error_description")
MINT_MEMBERS = (
    "username",
    "client_id",
    "scope",
    "audience",
    "claims",
    "expires_in",
    "nonce",
    "token_format",
)


@bp.before_request
def name_the_actor():
    """The audited actor: an administrator's personal access token if sent, else `mock`."""
    token = bearer_token()
    user = personal_token_user(token) if token else None
    g.actor = user.username if user is not None and user.is_admin else MOCK_ACTOR


@bp.put("/users/<username>")
def put_user(username: str):
    """Create or update a user (email, name, email_verified, admin, password, claims)."""
    fields = check_user_fields(body_with(USER_MEMBERS))
    user, created = upsert_user(username, fields, g.actor, client_ip())
    return json_response(user_json(user), 201 if created else 200)


@bp.post("/clients")
def new_client():
    """Create a client (apps API fields); a confidential one's `client_secret` is shown once."""
    client, secret = clients.create_client(body_with(CLIENT_MEMBERS), g.actor, client_ip())
    body = apps.app_json(client, current_app.config["ISSUER"])
    if secret is not None:
        body["client_secret"] = secret
    return json_response(body, 201)


@bp.post("/errors")
def queue_error():
    """Queue an error for the next request to one endpoint (FIFO, once, across workers)."""
    data = body_with(ERROR_MEMBERS)
    problems = forced.forced_error_problems(data)
    if problems:
        raise ApiError(400, "Validation failed.", problems)
    return json_response(forced.forced_error_json(forced.queue(data)), 201)


@bp.get("/errors")
def list_errors():
    return json_response({"errors": [forced.forced_error_json(r) for r in forced.pending()]})


@bp.delete("/errors")
def clear_errors():
    return json_response({"deleted": forced.clear()})


@bp.post("/tokens")
def mint_tokens():
    """A real access token and a signed id_token for a user (created if new) and a client."""
    fields = clients.check_mint(body_with(MINT_MEMBERS), current_app.config["ISSUER"])
    user, _ = upsert_user(fields["username"], {}, g.actor, client_ip())
    return json_response(clients.mint(user, fields, g.actor, client_ip()), 201)
