"""Authorization endpoint and consent page (RFC 6749 §4.1, RFC 9207, OIDC §3.1.2); the rules are
rules/authorization_request.py (and the modules it calls) and rules/consent.py."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf, DataRequired

from models import AuthorizationCode, Client, Consent, UserSession, db, utcnow
from oauth import crypto
from oauth.csrf import csrf
from oauth.errors import (
    NO_STORE,
    AccessDenied,
    ConsentRequired,
    LoginRequired,
    OAuthError,
    UnverifiedRequest,
    add_query,
    authorization_error_page,
    error_redirect_uri,
    redirect_error,
)
from oauth.mock import clients as mock_clients
from oauth.mock import provider as mock_provider
from oauth.params import state_of
from oauth.rules import authorization_request
from oauth.rules import consent as consent_rules
from oauth.rules.authorization_request import AuthorizationRequest
from oauth.rules.client_auth import cached_client
from oauth.rules.redirect_uri import confirms_error_redirect, find_redirect_uri
from oauth.session import client_ip, current_session, login_url

bp = Blueprint("authorize", __name__, url_prefix="/oauth2")

START_AGAIN = "Go back to the application and start signing in again."


class ConsentForm(FlaskForm):
    """Allow or Deny; `pending` is the signed, session-bound authorization request."""

    pending = HiddenField(validators=[DataRequired()])
    decision = HiddenField(validators=[AnyOf(["allow", "deny"])])


def _status() -> int:
    """302 answers a GET; 303 makes the browser follow a POST with a GET (OAuth 2.1 §7.5.1)."""
    return 302 if request.method == "GET" else 303


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # OIDC Core §3.1.2.1: POST works as GET does; the request carries no user decision
def authorize():
    """Authorization endpoint; POST carries the same parameters form-encoded (OIDC §3.1.2.1)."""
    params = (request.args if request.method == "GET" else request.form).to_dict(flat=False)
    issuer = current_app.config["ISSUER"]
    mock_clients.adopt_unknown_client(params, client_ip())  # only with GATEHOUSE_MOCK_ANY_CLIENT
    try:
        client, redirect_uri, sent = authorization_request.verify_client(params)
    except UnverifiedRequest as exc:
        title = "Invalid authorization request"
        return authorization_error_page(title, exc.message, exc.status, exc.headers)
    try:
        req = authorization_request.validate(params, client, redirect_uri, sent, issuer)
        return _proceed(req, client, params)
    except OAuthError as exc:
        if not exc.may_redirect:  # RFC 6749 §4.1.2.1: only authorization errors go back
            title = "Invalid authorization request"
            return authorization_error_page(title, exc.description or exc.error, exc.status)
        state = state_of(params)
        if confirms_error_redirect(client, redirect_uri):
            return _error_notice(client, error_redirect_uri(redirect_uri, exc, state, issuer), exc)
        return redirect_error(redirect_uri, exc, state, issuer, _status())


def _error_notice(client: Client, target: str, exc: OAuthError) -> tuple[str, int, dict]:
    """The error, and a link (not a redirect) back to the unvetted client's site."""
    body = render_template(
        "authorize/error_notice.html",
        client=client,
        error=exc,
        target=target,
        target_host=consent_rules.host_of(target),
    )
    return body, 400, NO_STORE


def _proceed(req: AuthorizationRequest, client: Client, params: dict) -> Response | str:
    """Sign in if needed, skip consent if remembered, else show the consent page."""
    user_session = current_session()
    auth_time = user_session.auth_time if user_session else None
    if authorization_request.needs_login(req, auth_time, utcnow()):
        if "none" in req.prompt:
            raise LoginRequired("The user must sign in.")
        # prompt=login / max_age: the current session lasts until the new sign-in succeeds
        # (login_user replaces it); ending it here would let any cross-site link sign people out.
        return _login_redirect(params, req.login_hint)
    remembered = Consent.get_or_none(
        user=user_session.user_id, client=client, audience=req.audience
    )
    if mock_provider.auto_consent() or not consent_rules.needs_consent(
        req, remembered.scope if remembered else None
    ):
        return _code_redirect(req, decide(req, client, user_session, allow=True))
    if "none" in req.prompt:
        raise ConsentRequired("The user has not yet approved this application.")
    pending = consent_rules.sign_pending(req, user_session, current_app.config["SECRET_KEY"])
    form = ConsentForm(pending=pending)
    context = consent_rules.consent_context(
        req,
        client,
        user_session.user,
        current_app.config["ISSUER"],
        remembered.scope if remembered else None,
    )
    return render_template("authorize/consent.html", form=form, **context)


def _login_redirect(params: dict, login_hint: str | None) -> Response:
    """To /login, then back to this request as a GET without what forced the sign-in.

    Dropping prompt=login and max_age from `next` keeps the return trip from looping; the
    session's new auth_time (in the id_token) shows the sign-in was fresh.
    """
    pairs = []
    for name, values in params.items():
        if name == "max_age":
            continue
        for value in values:
            if name == "prompt":
                value = " ".join(p for p in value.split() if p not in ("login", "select_account"))
                if not value:
                    continue
            pairs.append((name, value))
    target = login_url(bp.url_prefix + "/authorize?" + urlencode(pairs))
    if login_hint:
        target += "&" + urlencode({"login_hint": login_hint})
    return redirect(target, _status())


def decide(
    req: AuthorizationRequest, client: Client, user_session: UserSession, allow: bool
) -> str:
    """The consent decision (also the hook for mock auto-approve): a new code, or access_denied.

    Allow remembers the scopes for (user, client, audience) and issues a code. Older grants of
    the same user and app stay valid.
    """
    if not allow:
        raise AccessDenied("The user denied the request.")
    now = utcnow()
    code, code_hash = crypto.new_token(crypto.AUTHORIZATION_CODE)
    with db.atomic("IMMEDIATE"):
        consent_rules.remember_consent(req, client, user_session, now)
        AuthorizationCode.create(
            code_hash=code_hash,
            client=client,
            user=user_session.user_id,
            redirect_uri=req.redirect_uri_sent,
            scope=" ".join(req.scope),
            resource=req.resource,
            audience=req.audience,
            code_challenge=req.code_challenge,
            code_challenge_method="S256",
            nonce=req.nonce,
            auth_time=user_session.auth_time,
            created_at=now,
            expires_at=now + timedelta(seconds=int(current_app.config["CODE_TTL"])),
        )
    return code


def _code_redirect(req: AuthorizationRequest, code: str) -> Response:
    """The successful authorization response (RFC 6749 §4.1.2, RFC 9207 `iss`)."""
    params = {"code": code, "state": req.state, "iss": current_app.config["ISSUER"]}
    response = redirect(add_query(req.redirect_uri, params), _status())
    response.headers.update(NO_STORE)
    return response


@bp.post("/consent")
def consent():
    """The consent decision: the signed request must belong to this session (CSRF-protected)."""
    form = ConsentForm()
    user_session = current_session()
    try:
        if not form.validate():
            raise UnverifiedRequest("The consent form was incomplete.")
        req = consent_rules.load_pending(
            form.pending.data, user_session, current_app.config["SECRET_KEY"]
        )
        client = cached_client(req.client_id)
        if client is None or find_redirect_uri(client.redirect_uris, req.redirect_uri) is None:
            raise UnverifiedRequest("This application changed meanwhile.")
    except UnverifiedRequest as exc:
        return authorization_error_page("Invalid consent", f"{exc.message} {START_AGAIN}")
    try:
        code = decide(req, client, user_session, allow=form.decision.data == "allow")
    except OAuthError as exc:
        return redirect_error(req.redirect_uri, exc, req.state, current_app.config["ISSUER"], 303)
    return _code_redirect(req, code)
