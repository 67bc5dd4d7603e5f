"""Authorization endpoint and consent (RFC 6749 §4.1, RFC 7636, RFC 8707, RFC 9207, OIDC §3.1.2)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import HiddenField
from wtforms.validators import AnyOf, DataRequired

from models import AuthorizationCode, Client, Consent, UserSession, db, utcnow
from oauth import authz_request, crypto
from oauth.authz_request import AuthorizationRequest, UnverifiedRequest
from oauth.describe import consent_context, host_of
from oauth.errors import (
    NO_STORE,
    OAuthError,
    add_query,
    authorization_error_page,
    error_redirect_uri,
    redirect_error,
)
from oauth.mock import clients as mock_clients
from oauth.mock import provider as mock_provider
from oauth.session import client_ip, csrf, current_session, login_url
from oauth.validation import find_redirect_uri, is_loopback_host

bp = Blueprint("authorize", __name__, url_prefix="/oauth2")

CONSENT_MAX_AGE = 600  # seconds the consent page stays valid
START_AGAIN = "Go back to the application and start signing in again."


class ConsentForm(FlaskForm):
    """Allow or Deny; `pending` is the signed, session-bound authorization request."""

    pending = HiddenField(validators=[DataRequired()])
    decision = HiddenField(validators=[AnyOf(["allow", "deny"])])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="consent")


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
        client, redirect_uri, sent = authz_request.verify_client(params)
    except UnverifiedRequest as exc:
        title = "Invalid authorization request"
        return authorization_error_page(title, exc.message, exc.status, exc.headers)
    try:
        req = authz_request.validate(params, client, redirect_uri, sent, issuer)
        return _proceed(req, client, params)
    except OAuthError as exc:
        state = authz_request.state_of(params)
        if confirms_error_redirect(client, redirect_uri):
            return _error_notice(client, error_redirect_uri(redirect_uri, exc, state, issuer), exc)
        return redirect_error(redirect_uri, exc, state, issuer, _status())


def confirms_error_redirect(client: Client, redirect_uri: str) -> bool:
    """Whether an error before consent is shown on a page instead of redirected.

    RFC 9700 §4.11.2: anyone can register a client, so an error redirect to its https site
    would make us an open redirector. Native apps' loopback and private-use-scheme URIs
    cannot be abused that way and keep their redirect; so do vetted clients.
    """
    parts = urlsplit(redirect_uri)
    return (
        not client.vetted and parts.scheme == "https" and not is_loopback_host(parts.hostname or "")
    )


def _error_notice(client: Client, target: str, exc: OAuthError) -> tuple[str, int, dict]:
    """The error, and a link (not a redirect) back to the unvetted client's site."""
    body = render_template(
        "authorize/error_notice.html",
        client=client,
        error=exc,
        target=target,
        target_host=host_of(target),
    )
    return body, 400, NO_STORE


def _proceed(req: AuthorizationRequest, client: Client, params: dict) -> Response | str:
    """Sign in if needed, skip consent if remembered, else show the consent page."""
    user_session = current_session()
    auth_time = user_session.auth_time if user_session else None
    if authz_request.needs_login(req, auth_time, utcnow()):
        if "none" in req.prompt:
            raise OAuthError("login_required", "The user must sign in.")
        # prompt=login / max_age: the current session lasts until the new sign-in succeeds
        # (login_user replaces it); ending it here would let any cross-site link sign people out.
        return _login_redirect(params, req.login_hint)
    remembered = Consent.get_or_none(
        user=user_session.user_id, client=client, audience=req.audience
    )
    if mock_provider.auto_consent() or not authz_request.needs_consent(
        req, remembered.scope if remembered else None
    ):
        return _code_redirect(req, decide(req, client, user_session, allow=True))
    if "none" in req.prompt:
        raise OAuthError("consent_required", "The user has not yet approved this application.")
    pending = _serializer().dumps(
        {"req": req.to_payload(), "sid": user_session.id, "uid": user_session.user_id}
    )
    form = ConsentForm(pending=pending)
    context = consent_context(req, client, user_session.user, current_app.config["ISSUER"])
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
        raise OAuthError("access_denied", "The user denied the request.")
    now = utcnow()
    code, code_hash = crypto.new_secret(crypto.AUTHORIZATION_CODE)
    with db.atomic("IMMEDIATE"):
        _remember_consent(req, client, user_session, now)
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


def _remember_consent(req, client, user_session, now) -> None:
    """Upsert the remembered consent: the union of every scope allowed (call inside atomic)."""
    row = Consent.get_or_none(user=user_session.user_id, client=client, audience=req.audience)
    if row is None:
        Consent.create(
            user=user_session.user_id,
            client=client,
            audience=req.audience,
            scope=" ".join(req.scope),
            created_at=now,
            updated_at=now,
        )
        return
    granted = row.scope.split()
    row.scope = " ".join(granted + [s for s in req.scope if s not in granted])
    row.updated_at = now
    row.save()


def _code_redirect(req: AuthorizationRequest, code: str) -> Response:
    """The successful authorization response (RFC 6749 §4.1.2, RFC 9207 `iss`)."""
    params = {"code": code, "state": req.state, "iss": current_app.config["ISSUER"]}
    response = redirect(add_query(req.redirect_uri, params), _status())
    response.headers.update(NO_STORE)
    return response


def load_pending(token: str, user_session: UserSession | None) -> AuthorizationRequest:
    """The signed request from the consent form, if unaltered, fresh and this session's own."""
    try:
        data = _serializer().loads(token, max_age=CONSENT_MAX_AGE)
        req = AuthorizationRequest.from_payload(data["req"])
        bound_to = (data["sid"], data["uid"])
    except (BadSignature, KeyError, TypeError):
        raise UnverifiedRequest("This consent page expired or was altered.") from None
    if user_session is None or (user_session.id, user_session.user_id) != bound_to:
        raise UnverifiedRequest("This consent belongs to another sign-in.")
    return req


@bp.post("/consent")
def consent():
    """The consent decision: the signed request must belong to this session (CSRF-protected)."""
    form = ConsentForm()
    user_session = current_session()
    try:
        if not form.validate():
            raise UnverifiedRequest("The consent form was incomplete.")
        req = load_pending(form.pending.data, user_session)
        client = Client.by_client_id(req.client_id)
        if client is None or find_redirect_uri(client.redirect_uris, req.redirect_uri) is None:
            raise UnverifiedRequest("This application changed meanwhile.")
    except UnverifiedRequest as exc:
        return authorization_error_page("Invalid consent", f"{exc.message} {START_AGAIN}")
    try:
        code = decide(req, client, user_session, allow=form.decision.data == "allow")
    except OAuthError as exc:
        return redirect_error(req.redirect_uri, exc, req.state, current_app.config["ISSUER"], 303)
    return _code_redirect(req, code)
