"""OpenID Connect UserInfo (OIDC Core §5.3) and RP-initiated logout (RP-Initiated Logout 1.0).

UserInfo accepts access tokens whose audience is this server (the issuer, the default when no
`resource` was asked for); a token minted for another resource is refused (RFC 8707), so a
resource server cannot replay it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from flask import Blueprint, current_app, jsonify, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from models import Client, db
from oauth import keys
from oauth.bearer import challenge, find_access_token
from oauth.claims import user_claims
from oauth.errors import OAuthError, add_query, error_page, json_error, no_store
from oauth.session import bearer_token, csrf, current_user, logout_user

bp = Blueprint("userinfo", __name__, url_prefix="/oauth2")


def presented_token() -> str | None:
    """The access token from the header or a form body (RFC 6750 §2.1-2.2), never both."""
    header = bearer_token()
    body = None
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.get("access_token")
    if header and body:
        raise OAuthError("invalid_request", "Send the access token in one place only.")
    return header or body


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
    return no_store(jsonify(user_claims(row.user, scopes)))


# -- RP-initiated logout -------------------------------------------------------------------


class LogoutError(Exception):
    """A logout request we must not act on; shown to the person, never redirected."""


@dataclass
class LogoutRequest:
    """A checked logout request: who the hint names and where we may send the browser."""

    params: dict[str, str]
    hint_sub: str | None = None
    client: Client | None = None
    redirect_uri: str | None = None


def verify_id_token_hint(token: str, issuer: str) -> dict[str, Any]:
    """Check an id_token_hint's signature and issuer; an expired hint is fine (§2)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = next((k for k in keys.published_keys() if k.kid == kid), None)
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        return jwt.decode(
            token,
            jwt.PyJWK(key.public_jwk).key,
            algorithms=[keys.ALG],
            issuer=issuer,
            options={"verify_exp": False, "verify_aud": False, "require": ["iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise LogoutError("The id_token_hint is not an ID token from this server.") from exc


def hint_client_id(claims: dict[str, Any]) -> str | None:
    """The client an ID token was issued to: its `aud`, or `azp` when `aud` is a list."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and claims.get("azp") in aud:
        return claims["azp"]
    return aud[0] if isinstance(aud, list) and len(aud) == 1 else None


def check_logout_request(values: MultiDict, issuer: str) -> LogoutRequest:
    """Validate a logout request (RP-Initiated Logout §2-3); raises LogoutError."""
    names = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
    params = {n: values[n] for n in names if values.get(n)}
    req = LogoutRequest(params)
    client_id = params.get("client_id")
    if "id_token_hint" in params:
        claims = verify_id_token_hint(params["id_token_hint"], issuer)
        req.hint_sub = claims["sub"]
        if client_id is not None and client_id != hint_client_id(claims):
            raise LogoutError("client_id does not match the id_token_hint.")
        client_id = hint_client_id(claims)
    if client_id is not None:
        req.client = Client.by_client_id(client_id)
    uri = params.get("post_logout_redirect_uri")
    # §2-3: redirect only to a URI registered by the client a valid id_token_hint was issued
    # to. Without a hint anyone could name any client and its URI: the URI is then ignored
    # and the person ends on our signed-out page (RFC 9700 §4.11.2, open redirectors).
    if uri is not None and req.hint_sub is not None:
        if req.client is None or uri not in req.client.post_logout_redirect_uris:  # exact (§3)
            raise LogoutError("post_logout_redirect_uri is not registered for this client.")
        req.redirect_uri = uri
    return req


def finish(req: LogoutRequest):
    """After logout: back to the verified post-logout URI with `state`, or our own page."""
    if req.redirect_uri is not None:
        return redirect(add_query(req.redirect_uri, {"state": req.params.get("state")}))
    return render_template("userinfo/logged_out.html")


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End-session endpoint: with a matching hint sign out at once, otherwise ask first."""
    values = request.form if request.method == "POST" else request.args
    try:
        req = check_logout_request(values, current_app.config["ISSUER"])
    except LogoutError as exc:
        return error_page("Sign-out request refused", str(exc), 400)
    user = current_user()
    decision = values.get("decision") if request.method == "POST" else None
    if decision is not None and current_app.config.get("WTF_CSRF_ENABLED", True):
        # This blueprint is CSRF-exempt (RPs POST here), so the confirmation form checks itself.
        csrf.protect()
    if decision == "stay":
        return render_template("userinfo/stayed.html", user=user)
    matches = req.hint_sub is not None and (user is None or user.sub == req.hint_sub)
    if user is None or matches or decision == "logout":
        if user is not None:
            with db.atomic():
                logout_user()
        return finish(req)
    return render_template("userinfo/logout.html", req=req, user=user)
