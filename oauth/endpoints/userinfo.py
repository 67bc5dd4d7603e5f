"""OpenID Connect UserInfo (OIDC Core §5.3).

UserInfo accepts access tokens whose audience is this server (the issuer, the default when no
`resource` was asked for); a token minted for another resource is refused (RFC 8707), so a
resource server cannot replay it here.
"""

from __future__ import annotations

from flask import Blueprint, current_app

from oauth.errors import OAuthError, json_error, json_no_store
from oauth.params import presented_token
from oauth.rules.bearer import challenge, find_access_token
from oauth.rules.id_token import user_claims

bp = Blueprint("userinfo", __name__, url_prefix="/oauth2")


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    """UserInfo endpoint (OIDC Core §5.3): the claims the token's scopes release."""
    try:
        token = presented_token()
    except OAuthError as exc:
        return json_error(exc)
    if token is None:
        return challenge(401, None, "An access token is required.")
    row = find_access_token(token)
    if row is None or row.user is None or row.audience != current_app.config["ISSUER"]:
        return challenge(401, "invalid_token", "The access token is invalid or not for UserInfo.")
    scopes = row.scope.split()
    if "openid" not in scopes:
        return challenge(403, "insufficient_scope", "The openid scope is required.", "openid")
    return json_no_store(user_claims(row.user, scopes))
