"""The refresh_token grant (RFC 6749 §6, OAuth 2.1 §4.3.1): rotation, and family revocation
when a rotated token comes back."""

from __future__ import annotations

from datetime import timedelta

from werkzeug.datastructures import MultiDict

from models import Client, ClientSecret, db, revoke_families, utcnow
from oauth import crypto, store
from oauth.errors import InvalidGrant
from oauth.grants import issue
from oauth.params import form_param
from oauth.rules.resource import check_same_audience, resource_param
from oauth.rules.scope import narrow_scope


def reuse_grace() -> timedelta:
    return timedelta(seconds=float(issue.app_config()["REFRESH_TOKEN_REUSE_GRACE"]))


def refresh_token(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """Rotate a refresh token; reuse of a rotated one revokes its whole family (§4.3.1)."""
    presented = form_param(form, "refresh_token", required=True)
    scope = form_param(form, "scope")
    resource = resource_param(form)
    now = utcnow()
    replayed = False
    digest = refresh_token_digest(presented)
    if digest is None:
        raise InvalidGrant("The refresh token is invalid.")
    with db.atomic("IMMEDIATE"):
        # One UPDATE ... RETURNING rotates the token; a check that fails below raises, and
        # the transaction rolls the rotation back.
        claimed = store.claim_refresh_token(digest, now)
        row = claimed or store.find_refresh_token(digest)  # unknown, or rotated before
        if row is None or row.family.client_id != client.id:
            raise InvalidGrant("The refresh token is invalid.")
        family = row.family
        if family.revoked_at is not None:
            raise InvalidGrant("The refresh token has been revoked.")
        if claimed is None:  # rotated by an earlier request: a reuse
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
            check_same_audience(resource, family.audience, issue.app_config()["ISSUER"])
            body = issue.rotate(row, client, scopes, client_secret=secret, now=now)
    if replayed:
        raise InvalidGrant("The refresh token was already used; its tokens are revoked.")
    return body


def refresh_token_digest(token: str) -> bytes | None:
    """The stored digest of a presented refresh token, or None if it cannot be one of ours."""
    if not crypto.has_kind(token, crypto.REFRESH_TOKEN) or len(token) > 200:
        return None
    return crypto.sha256(token)
