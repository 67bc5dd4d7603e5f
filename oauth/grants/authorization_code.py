"""The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).

A code is redeemed once; a second redemption revokes everything the first one issued.
"""

from __future__ import annotations

from datetime import datetime

from werkzeug.datastructures import MultiDict

from models import (
    AuthorizationCode,
    Client,
    ClientSecret,
    db,
    revoke_families,
    utcnow,
)
from oauth import crypto, store
from oauth.errors import InvalidGrant
from oauth.grants import issue
from oauth.params import form_param
from oauth.rules.pkce import check_verifier
from oauth.rules.redirect_uri import check_code_redirect_uri
from oauth.rules.resource import check_code_resource, resource_param


def check_code_request(
    code: AuthorizationCode, client: Client, form: MultiDict, now: datetime
) -> None:
    """Everything a code redemption must match, besides single use."""
    if code.expires_at <= now:
        raise InvalidGrant("The authorization code has expired.")
    check_code_redirect_uri(code, client, form_param(form, "redirect_uri"))
    check_verifier(form_param(form, "code_verifier", required=True), code.code_challenge)
    check_code_resource(resource_param(form), code.resource)


def authorization_code(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """Redeem a code once; a second redemption revokes what the first one issued (§4.1.2)."""
    code = form_param(form, "code", required=True)
    now = utcnow()
    replayed = False
    digest = crypto.sha256(code)
    with db.atomic("IMMEDIATE"):
        # One UPDATE ... RETURNING claims the code and reserves its family's id; a check that
        # fails below raises, and the transaction rolls the claim back (a failed attempt does
        # not consume the code).
        row = store.claim_code(digest, now)
        if row is None:  # unknown, or used before: a replay
            row = store.find_code(digest)
            if row is None or row.client_id != client.id:
                raise InvalidGrant("The authorization code is invalid.")
            revoke_families([row.family_id] if row.family_id else [], now)
            replayed = True
        else:
            if row.client_id != client.id:
                raise InvalidGrant("The authorization code is invalid.")
            check_code_request(row, client, form, now)
            body = issue.issue(
                client,
                row.user_id,
                row.scope.split(),
                row.audience,
                "authorization_code",
                client_secret=secret,
                nonce=row.nonce,
                auth_time=row.auth_time,
                refresh="refresh_token" in client.grant_types,
                family_id=row.family_id,  # reserved by the claim: a replay revokes it
            )
    if replayed:  # the revocation has committed; now answer
        raise InvalidGrant("The authorization code was already used; its tokens are revoked.")
    return body
