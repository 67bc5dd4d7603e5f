"""Token endpoint (RFC 6749 §3.2): authenticate the client, then run its grant (oauth/grants)."""

from __future__ import annotations

from flask import Blueprint, request

from oauth.errors import (
    UnauthorizedClient,
    UnsupportedGrantType,
    answer_oauth_errors_as_json,
    json_no_store,
)
from oauth.grants import GRANTS
from oauth.params import form_param
from oauth.rules.client_auth import authenticate_client

bp = answer_oauth_errors_as_json(Blueprint("token", __name__, url_prefix="/oauth2"))


@bp.post("/token")
def token():
    """Token endpoint (RFC 6749 §3.2): authenticate the client, then run its grant."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    form = req.form
    grant_type = form_param(form, "grant_type", required=True)
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"Unsupported grant_type: {grant_type[:64]}")
    client, secret = authenticate_client(form, req.headers)
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"This client may not use {grant_type}.")
    return json_no_store(grant(client, secret, form))
