"""Token introspection endpoint (RFC 7662 §2): for confidential clients (resource servers)."""

from __future__ import annotations

from flask import Blueprint, request

from oauth.errors import InvalidClient, answer_oauth_errors_as_json, json_no_store
from oauth.params import form_param
from oauth.rules.client_auth import authenticate_client
from oauth.rules.introspection import introspect_token

bp = answer_oauth_errors_as_json(Blueprint("introspection", __name__, url_prefix="/oauth2"))


@bp.post("/introspect")
def introspect():
    """RFC 7662 §2: for confidential clients (resource servers) only."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    client, _ = authenticate_client(req.form, req.headers)
    if client.is_public:
        raise InvalidClient("Introspection is for confidential clients.")
    token = form_param(req.form, "token", required=True)
    form_param(req.form, "token_type_hint")
    return json_no_store(introspect_token(token, client))
