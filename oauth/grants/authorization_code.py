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
    User,
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
from oauth.rules.pkce import check_verifier
from oauth.rules.redirect_uri import check_code_redirect_uri
from oauth.rules.resource import check_code_resource, resource_param

# The grant's own statements, fixed and parameterised (no query building per request).
CODE_BY_HASH = "SELECT * FROM authorization_code WHERE code_hash = ?"
# Marks the code used and links it to the family it issued, only if nobody used it first.
CLAIM_CODE = (
    "UPDATE authorization_code SET used_at = ?, family_id = ? WHERE id = ? AND used_at IS NULL"
)


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
    with db.atomic("IMMEDIATE"):
        row = first_raw(AuthorizationCode, CODE_BY_HASH, crypto.sha256_hex(code))
        if row is None or row.client_id != client.id:
            raise InvalidGrant("The authorization code is invalid.")
        if row.used_at is not None:
            revoke_families([row.family_id] if row.family_id else [], now)
            replayed = True
        else:
            check_code_request(row, client, form, now)
            body = issue.issue(
                client,
                by_id(User, row.user_id),
                row.scope.split(),
                row.audience,
                "authorization_code",
                client_secret=secret,
                nonce=row.nonce,
                auth_time=row.auth_time,
                refresh="refresh_token" in client.grant_types,
            )
            # One UPDATE claims the code and links its family; a lost claim rolls back the issue.
            claimed = execute(CLAIM_CODE, (now, body.family.id, row.id)).rowcount
            if claimed != 1:
                raise InvalidGrant("The authorization code was already used.")
    if replayed:  # the revocation has committed; now answer
        raise InvalidGrant("The authorization code was already used; its tokens are revoked.")
    return body
