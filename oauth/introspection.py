"""Token revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from models import (
    AccessToken,
    Client,
    RefreshToken,
    TokenFamily,
    db,
    first_raw,
    revoke_families,
    utcnow,
)
from oauth import crypto
from oauth.claims import epoch
from oauth.client_auth import authenticate_client, form_param
from oauth.errors import OAuthError, invalid_client, json_error, no_store

bp = Blueprint("introspection", __name__, url_prefix="/oauth2")

MAX_TOKEN_LENGTH = 200  # ours are ~47 characters; anything longer is not one of ours


@bp.errorhandler(OAuthError)
def oauth_error(exc: OAuthError):
    return json_error(exc)


def _digest(token: str, kind: str) -> str | None:
    if len(token) > MAX_TOKEN_LENGTH or not crypto.has_kind(token, kind):
        return None
    return crypto.sha256_hex(token)


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
        digest = _digest(token, crypto.REFRESH_TOKEN)
        if digest is not None:
            row = (
                RefreshToken.select(RefreshToken.family)
                .join(TokenFamily)
                .where(RefreshToken.token_hash == digest, TokenFamily.client == client)
                .first()
            )
            if row is not None:
                revoke_families([row.family_id], now)
        digest = _digest(token, crypto.ACCESS_TOKEN)
        if digest is not None:
            (
                AccessToken.update(revoked_at=now)
                .where(
                    AccessToken.token_hash == digest,
                    AccessToken.client == client,
                    AccessToken.revoked_at.is_null(),
                )
                .execute()
            )
    return no_store(Response(status=200))


INACTIVE = {"active": False}
# One fixed statement per introspection (Peewee building this 4-model join cost more than
# running it): the token, its client's client_id, its user, its audience's owner, and whether
# the caller owns any resource. Extra columns become attributes of the AccessToken row.
INTROSPECT_SQL = """
SELECT t.*, c.client_id AS client_identifier, u.sub, u.username, r.owner_id,
       EXISTS (SELECT 1 FROM resource WHERE owner_id = ?) AS caller_owns
FROM access_token t
JOIN oauth_client c ON c.id = t.client_id
LEFT JOIN user u ON u.id = t.user_id
LEFT JOIN resource r ON r.uri = t.audience
WHERE t.token_hash = ?
"""


def may_see(row: AccessToken, caller: Client) -> bool:
    """Whether `caller` may learn that the token in `row` is active (RFC 7662 §4).

    A client sees the tokens issued to itself; a resource's owner sees its resource's tokens;
    other vetted clients that own no resource see tokens whose audience has no owner. A client
    nobody vetted sees only its own.
    """
    if row.client_id == caller.id or (row.owner_id is not None and row.owner_id == caller.id):
        return True
    return row.owner_id is None and caller.vetted and not row.caller_owns


def introspect_token(token: str, caller: Client) -> dict:
    """The RFC 7662 §2.2 answer for `token` as seen by `caller`: one indexed lookup."""
    digest = _digest(token, crypto.ACCESS_TOKEN)
    if digest is None:
        return INACTIVE
    row = first_raw(AccessToken, INTROSPECT_SQL, caller.id, digest)
    if row is None or not row.is_active(utcnow()) or not may_see(row, caller):
        return INACTIVE
    body = {
        "active": True,
        "scope": row.scope,
        "client_id": row.client_identifier,
        "sub": row.sub if row.user_id is not None else row.client_identifier,
        "aud": row.audience,
        "iss": current_app.config["ISSUER"],
        "exp": epoch(row.expires_at),
        "iat": epoch(row.created_at),
        "token_type": "Bearer",
    }
    if row.user_id is not None:
        body["username"] = row.username
    return body


@bp.post("/introspect")
def introspect():
    """RFC 7662 §2: for confidential clients (resource servers) only."""
    client, _ = authenticate_client(request.form, request.headers)
    if client.is_public:
        raise invalid_client("Introspection is for confidential clients.")
    token = form_param(request.form, "token", required=True)
    form_param(request.form, "token_type_hint")
    return no_store(jsonify(introspect_token(token, client)))
