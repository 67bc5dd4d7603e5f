"""Token endpoint (RFC 6749 §3.2): one function per grant_type, dispatched through GRANTS.

Another module adds a grant with one line, `GRANTS[name] = function`, where the function takes
(client, client_secret_row_or_None, form) and returns the token response body or raises
OAuthError. The endpoint has already authenticated the client and checked that it registered
the grant type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Blueprint, current_app, jsonify, request
from werkzeug.datastructures import MultiDict

from models import (
    AuthorizationCode,
    Client,
    ClientSecret,
    RefreshToken,
    TokenFamily,
    User,
    by_id,
    db,
    first_raw,
    revoke_families,
    utcnow,
)
from oauth import crypto, pkce, tokens
from oauth.client_auth import authenticate_client, form_param
from oauth.errors import OAuthError, json_error, no_store
from oauth.scopes import check_machine_scope, check_resource, parse_scope_param
from oauth.validation import redirect_uri_matches

bp = Blueprint("token", __name__, url_prefix="/oauth2")

Grant = Callable[[Client, ClientSecret | None, MultiDict], dict]

# The grants' own statements, fixed and parameterised (no query building per request).
CODE_BY_HASH = "SELECT * FROM authorization_code WHERE code_hash = ?"
# Marks the code used and links it to the family it issued, only if nobody used it first.
CLAIM_CODE = (
    "UPDATE authorization_code SET used_at = ?, family_id = ? WHERE id = ? AND used_at IS NULL"
)
REFRESH_BY_HASH = "SELECT * FROM refresh_token WHERE token_hash = ?"
CLAIM_REFRESH = "UPDATE refresh_token SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL"


@bp.errorhandler(OAuthError)
def oauth_error(exc: OAuthError):
    return json_error(exc)


@bp.post("/token")
def token():
    """Token endpoint (RFC 6749 §3.2): authenticate the client, then run its grant."""
    form = request.form
    grant_type = form_param(form, "grant_type", required=True)
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: {grant_type[:64]}")
    client, secret = authenticate_client(form, request.headers)
    if grant_type not in client.grant_types:
        raise OAuthError("unauthorized_client", f"This client may not use {grant_type}.")
    return no_store(jsonify(grant(client, secret, form)))


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def resource_param(form: MultiDict) -> str | None:
    """The `resource` parameter; Gatehouse issues tokens for one audience at a time (RFC 8707)."""
    if len(form.getlist("resource")) > 1:
        raise OAuthError("invalid_target", "Send one resource per request.")
    return form_param(form, "resource")


def check_same_audience(resource: str | None, audience: str, issuer: str) -> None:
    """A `resource` sent on refresh must resolve to the grant's audience (never widen it)."""
    if resource is not None and check_resource(resource, issuer) != audience:
        raise OAuthError("invalid_target", "The resource differs from the original grant.")


# -- authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2) ---------------------


def check_redirect_uri(code: AuthorizationCode, client: Client, redirect_uri: str | None) -> None:
    """RFC 6749 §4.1.3 / OAuth 2.1 §4.1.3: repeat the redirect_uri exactly if one was sent.

    When authorize had none (the client's only registered URI was used), the parameter is
    optional here, and if sent it must still be one of the client's registered URIs.
    """
    if code.redirect_uri is not None:
        if redirect_uri != code.redirect_uri:
            raise invalid_grant("redirect_uri must repeat the one sent to the authorize endpoint.")
    elif redirect_uri is not None and not any(
        redirect_uri_matches(r, redirect_uri) for r in client.redirect_uris
    ):
        raise invalid_grant("redirect_uri is not registered for this client.")


def check_code_request(
    code: AuthorizationCode, client: Client, form: MultiDict, now: datetime
) -> None:
    """Everything a code redemption must match, besides single use."""
    if code.expires_at <= now:
        raise invalid_grant("The authorization code has expired.")
    check_redirect_uri(code, client, form_param(form, "redirect_uri"))
    verifier = form_param(form, "code_verifier", required=True)
    if not pkce.valid_verifier(verifier):
        raise invalid_grant("code_verifier must be 43-128 characters of [A-Za-z0-9._~-].")
    if not pkce.verify(verifier, code.code_challenge):
        raise invalid_grant("code_verifier does not match the code_challenge.")
    resource = resource_param(form)
    if resource != code.resource:
        raise OAuthError("invalid_target", "resource must be the same as at the authorize step.")


def authorization_code(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """Redeem a code once; a second redemption revokes what the first one issued (§4.1.2)."""
    code = form_param(form, "code", required=True)
    now = utcnow()
    replayed = False
    with db.atomic("IMMEDIATE"):
        row = first_raw(AuthorizationCode, CODE_BY_HASH, crypto.sha256_hex(code))
        if row is None or row.client_id != client.id:
            raise invalid_grant("The authorization code is invalid.")
        if row.used_at is not None:
            revoke_families([row.family_id] if row.family_id else [], now)
            replayed = True
        else:
            check_code_request(row, client, form, now)
            body = tokens.issue(
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
            claimed = db.execute_sql(CLAIM_CODE, (now, body.family.id, row.id)).rowcount
            if claimed != 1:
                raise invalid_grant("The authorization code was already used.")
    if replayed:  # the revocation has committed; now answer
        raise invalid_grant("The authorization code was already used; its tokens are revoked.")
    return body


# -- refresh_token (RFC 6749 §6, OAuth 2.1 §4.3.1) ------------------------------------------


def check_narrow_scope(scope: str | None, granted: str) -> list[str]:
    """The scopes for the new access token: the original ones, or a subset (never wider)."""
    requested = parse_scope_param(scope)
    allowed = granted.split()
    wider = [s for s in requested if s not in allowed]
    if wider:
        raise OAuthError("invalid_scope", f"Scope {wider[0]} was not granted originally.")
    return requested or allowed


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
            raise invalid_grant("The refresh token is invalid.")
        family = row.family
        if row.revoked_at is not None or family.revoked_at is not None:
            raise invalid_grant("The refresh token has been revoked.")
        if row.rotated_at is not None:
            # A race between a client's own concurrent refreshes is not theft: within the
            # grace period the loser is refused without killing the winner's new tokens.
            if now - row.rotated_at >= reuse_grace():
                revoke_families([family.id], now)
                replayed = True
            else:
                raise invalid_grant("The refresh token was just rotated; use the new one.")
        else:
            if row.expires_at <= now or family.expires_at <= now:
                raise invalid_grant("The refresh token has expired.")
            scopes = check_narrow_scope(scope, row.scope)
            check_same_audience(resource, family.audience, current_app.config["ISSUER"])
            rotated = db.execute_sql(CLAIM_REFRESH, (now, row.id)).rowcount
            if rotated != 1:
                raise invalid_grant("The refresh token was just rotated; use the new one.")
            body = tokens.rotate(row, client, scopes, client_secret=secret, now=now)
    if replayed:
        raise invalid_grant("The refresh token was already used; its tokens are revoked.")
    return body


def find_refresh_token(token: str) -> RefreshToken | None:
    """The refresh token row for a presented token, its `.family` loaded, or None."""
    if not crypto.has_kind(token, crypto.REFRESH_TOKEN) or len(token) > 200:
        return None
    row = first_raw(RefreshToken, REFRESH_BY_HASH, crypto.sha256_hex(token))
    if row is not None:
        row.family = by_id(TokenFamily, row.family_id)
    return row


# -- client_credentials (RFC 6749 §4.4) -----------------------------------------------------


def client_credentials(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """A token for the client itself: vetted confidential clients only, no user, no refresh
    token, no user scopes."""
    if client.is_public:
        raise OAuthError("unauthorized_client", "Public clients cannot use client_credentials.")
    if not client.vetted:  # one that registered itself before this rule, or changed since
        raise OAuthError(
            "unauthorized_client",
            "Only clients an administrator created or vetted may use client_credentials.",
        )
    scopes = check_machine_scope(client, form_param(form, "scope"))
    audience = check_resource(resource_param(form), current_app.config["ISSUER"])
    with db.atomic():
        return tokens.issue(
            client,
            None,
            scopes,
            audience,
            "client_credentials",
            client_secret=secret,
            refresh=False,
        )


GRANTS: dict[str, Grant] = {
    "authorization_code": authorization_code,
    "refresh_token": refresh_token,
    "client_credentials": client_credentials,
}
