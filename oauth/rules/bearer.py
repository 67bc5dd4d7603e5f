"""Bearer access tokens at resource endpoints (RFC 6750): lookup and the challenge.

Reading the token from the request (header or form body, §2.1-2.2) is oauth/params.py.
"""

from __future__ import annotations

from flask import Response, current_app, jsonify

from models import AccessToken, User, by_id, utcnow
from oauth import crypto, store
from oauth.constants import PRM_WELL_KNOWN
from oauth.errors import NO_STORE
from oauth.rules import jwt_access_token

MAX_TOKEN_LENGTH = 200  # opaque ones are ~47 characters; anything longer is not one of those


def token_digest(token: str, kind: str) -> bytes | None:
    """The stored digest of a presented token of `kind`, or None if it cannot be one of ours."""
    if len(token) > MAX_TOKEN_LENGTH or not crypto.has_kind(token, kind):
        return None
    return crypto.sha256(token)


def access_token_digest(token: str) -> bytes | None:
    """The stored digest of a presented access token, opaque or JWT, or None if not ours.

    An opaque token (`gat_...`) costs what it always did; only a JWT-shaped token is verified
    (RFC 9068 §4: typ, signature, iss, exp) and then found by its `jti`.
    """
    digest = token_digest(token, crypto.ACCESS_TOKEN)
    if digest is not None or not jwt_access_token.looks_like_jwt(token):
        return digest
    claims = jwt_access_token.verified_claims(token, current_app.config["ISSUER"])
    return jwt_access_token.jti_digest(claims["jti"]) if claims is not None else None


def find_access_token(token: str) -> AccessToken | None:
    """The live access token row for a presented token (`.user` loaded), or None.

    Every bearer request runs this: two fixed reads by key (oauth/store.py), no query
    building. The row carries its family's `client_id`, `user_id` and `audience`. A JWT's
    `aud` was signed from the same family, so callers check `audience` as for opaque tokens.
    """
    digest = access_token_digest(token)
    if digest is None:
        return None
    row = store.find_access_token(digest)
    if row is None or not store.is_live(row, utcnow()):
        return None
    row.user = by_id(User, row.user_id)
    return row


def challenge(
    status: int, error: str | None, description: str, scope: str | None = None
) -> Response:
    """401/403 with `WWW-Authenticate: Bearer ...` naming our protected resource metadata.

    RFC 6750 §3 and RFC 9728 §5.1: `resource_metadata` tells MCP clients where to discover us.
    """
    issuer = current_app.config["ISSUER"]
    params = ['realm="gatehouse"']
    if error:
        params.append(f'error="{error}"')
        params.append(f'error_description="{description}"')
    if scope:
        params.append(f'scope="{scope}"')
    params.append(f'resource_metadata="{issuer}{PRM_WELL_KNOWN}"')
    body = {"error": error or "invalid_token", "error_description": description}
    response = jsonify(body)
    response.status_code = status
    response.headers["WWW-Authenticate"] = "Bearer " + ", ".join(params)
    response.headers.update(NO_STORE)
    return response
