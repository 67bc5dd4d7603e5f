"""Token revocation endpoint (RFC 7009)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from models import db, revoke_families, utcnow
from oauth import crypto, store
from oauth.errors import answer_oauth_errors_as_json, no_store
from oauth.params import form_param
from oauth.rules.bearer import access_token_digest, token_digest
from oauth.rules.client_auth import authenticate_client

bp = answer_oauth_errors_as_json(Blueprint("revocation", __name__, url_prefix="/oauth2"))


@bp.post("/revoke")
def revoke():
    """RFC 7009 §2: a client revokes its own token; unknown or foreign tokens still get 200.

    `token_type_hint` is only a hint (§2.1): the kind prefix says what a token is. Revoking a
    refresh token revokes its whole family, access tokens included (§2.1 "SHOULD").
    """
    client, _ = authenticate_client(request.form, request.headers)
    token = form_param(request.form, "token", required=True)
    form_param(request.form, "token_type_hint")  # duplicated → invalid_request
    now = utcnow()
    with db.atomic():
        digest = token_digest(token, crypto.REFRESH_TOKEN)
        if digest is not None:
            row = store.find_refresh_token(digest)
            if row is not None and row.family.client_id == client.id:
                revoke_families([row.family_id], now)
        digest = access_token_digest(token)  # opaque, or a JWT found by its jti
        if digest is not None:
            store.revoke_access_token(digest, client.id, now)
    return no_store(Response(status=200))
