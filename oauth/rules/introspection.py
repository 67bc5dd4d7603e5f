"""Token introspection (RFC 7662): who may see which token (§4), and the answer (§2.2)."""

from __future__ import annotations

from flask import current_app

from models import AccessToken, Client, first_raw, utcnow
from oauth.constants import TOKEN_TYPE
from oauth.rules.bearer import access_token_digest
from oauth.rules.id_token import epoch

INACTIVE = {"active": False}
# One fixed statement per introspection (Peewee building this 4-model join cost more than
# running it): the token, its client's client_id, its user, its audience's owner, and whether
# the caller owns any resource. Extra columns become attributes of the AccessToken row.
INTROSPECT_SQL = """
SELECT t.*, c.client_id AS client_identifier, u.sub, u.username, r.owner_id,
       EXISTS (SELECT 1 FROM resource WHERE owner_id = ?) AS caller_owns
FROM access_token t
JOIN oauth_client c ON c.id = t.client_id
LEFT JOIN "user" u ON u.id = t.user_id
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
    digest = access_token_digest(token)  # a JWT access token answers like an opaque one
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
        "token_type": TOKEN_TYPE,
    }
    if row.user_id is not None:
        body["username"] = row.username
    return body
