"""The refresh_token grant (RFC 6749 §6, OAuth 2.1 §4.3.1): rotation, and family revocation
when a rotated token comes back."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from werkzeug.datastructures import MultiDict

from models import (
    Client,
    ClientSecret,
    RefreshToken,
    TokenFamily,
    by_id,
    db,
    execute,
    first_raw,
    revoke_families,
    utcnow,
)
from oauth import crypto
from oauth.errors import InvalidGrant
from oauth.grants import issue
from oauth.params import form_param
from oauth.rules.resource import check_same_audience, resource_param
from oauth.rules.scope import narrow_scope

REFRESH_BY_HASH = "SELECT * FROM refresh_token WHERE token_hash = ?"
CLAIM_REFRESH = "UPDATE refresh_token SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL"


def reuse_grace() -> timedelta:
    return timedelta(seconds=float(current_app.config["REFRESH_TOKEN_REUSE_GRACE"]))


def refresh_token(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """Rotate a refresh token; reuse of a rotated one revokes its whole family (§4.3.1)."""
    presented = form_param(form, "refresh_token", required=True)
    scope = form_param(form, "scope")
    resource = resource_param(form)
    now = utcnow()
    replayed = False
    with db.atomic("IMMEDIATE"):
        row = find_refresh_token(presented)
        if row is None or row.family.client_id != client.id:
            raise InvalidGrant("The refresh token is invalid.")
        family = row.family
        if row.revoked_at is not None or family.revoked_at is not None:
            raise InvalidGrant("The refresh token has been revoked.")
        if row.rotated_at is not None:
            # A race between a client's own concurrent refreshes is not theft: within the
            # grace period the loser is refused without killing the winner's new tokens.
            if now - row.rotated_at >= reuse_grace():
                revoke_families([family.id], now)
                replayed = True
            else:
                raise InvalidGrant("The refresh token was just rotated; use the new one.")
        else:
            if row.expires_at <= now or family.expires_at <= now:
                raise InvalidGrant("The refresh token has expired.")
            scopes = narrow_scope(scope, row.scope)
            check_same_audience(resource, family.audience, current_app.config["ISSUER"])
            rotated = execute(CLAIM_REFRESH, (now, row.id)).rowcount
            if rotated != 1:
                raise InvalidGrant("The refresh token was just rotated; use the new one.")
            body = issue.rotate(row, client, scopes, client_secret=secret, now=now)
    if replayed:
        raise InvalidGrant("The refresh token was already used; its tokens are revoked.")
    return body


def find_refresh_token(token: str) -> RefreshToken | None:
    """The refresh token row for a presented token, its `.family` loaded, or None."""
    if not crypto.has_kind(token, crypto.REFRESH_TOKEN) or len(token) > 200:
        return None
    row = first_raw(RefreshToken, REFRESH_BY_HASH, crypto.sha256_hex(token))
    if row is not None:
        row.family = by_id(TokenFamily, row.family_id)
    return row
