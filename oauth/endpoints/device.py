"""Device authorization grant (RFC 8628): the device endpoint, the approval page, the grant.

`POST /oauth2/device_authorization` is called by clients (CSRF-exempt); `/oauth2/device` is
where a signed-in person enters the user code and approves or denies (CSRF-protected). Every
RFC 8628 rule, and the grant the token endpoint runs, is in oauth/grants/device_code.py.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from models import DeviceCode, audit, db, utcnow
from oauth.constants import DEVICE_CODE_GRANT, DEVICE_VERIFICATION_PATH
from oauth.errors import (
    TooManyRequests,
    UnauthorizedClient,
    answer_oauth_errors_as_json,
    json_no_store,
)
from oauth.grants import device_code as rules
from oauth.params import form_param
from oauth.rules import consent, throttle
from oauth.rules.client_auth import authenticate_client
from oauth.rules.resource import audience_for, resource_param
from oauth.rules.scope import check_requested_scope
from oauth.session import client_ip, current_session, login_required

bp = answer_oauth_errors_as_json(Blueprint("device", __name__, url_prefix="/oauth2"))

WRONG_CODE = "That code is not valid. Check it against the one on your device and try again."


# -- device authorization endpoint (RFC 8628 §3.1, §3.2) -------------------------------------


@bp.post("/device_authorization")
def device_authorization():
    """Start a device flow: a device code for the client, a user code for the person."""
    form = request.form
    try:  # every request counts: each one stores a device code
        throttle.reserve(throttle.device_authorization_buckets(client_ip()))
    except throttle.Throttled as exc:
        description = "Too many device authorization requests from this address; retry later."
        raise TooManyRequests(description, exc.retry_after) from None
    client, _ = authenticate_client(form, request.headers)  # as the token endpoint does
    if DEVICE_CODE_GRANT not in client.grant_types:
        raise UnauthorizedClient("This client may not use the device flow.")
    scopes = check_requested_scope(client, form_param(form, "scope"))
    resource = resource_param(form)
    issuer = current_app.config["ISSUER"]
    audience = audience_for(resource, issuer)
    device_code, user_code = rules.create_device_code(client, scopes, resource, audience)
    shown = rules.format_user_code(user_code)
    return json_no_store(
        {
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": f"{issuer}{DEVICE_VERIFICATION_PATH}",
            "verification_uri_complete": f"{issuer}{DEVICE_VERIFICATION_PATH}?user_code={shown}",
            "expires_in": int(current_app.config["DEVICE_CODE_TTL"]),
            "interval": rules.INTERVAL,
        }
    )


# -- the page where a person enters the code and decides (RFC 8628 §3.3) ---------------------


class DeviceForm(FlaskForm):
    """The user code, and the decision once the person has seen what they approve."""

    user_code = StringField("Code", validators=[DataRequired(), Length(max=32)])
    decision = HiddenField(validators=[Optional(), AnyOf(["allow", "deny"])])


def _enter(form: DeviceForm, status: int = 200, error: str | None = None, headers=None):
    return render_template("device/enter.html", form=form, error=error), status, headers or {}


def _outcome(row: DeviceCode, outcome: str, status: int = 200):
    body = render_template("device/result.html", outcome=outcome, client=row.client)
    return body, status


@bp.route("/device", methods=["GET", "POST"])
@login_required
def device():
    """Enter a user code (or arrive with it prefilled), see the request, approve or deny."""
    form = DeviceForm()
    if request.method == "GET":
        form.user_code.data = request.args.get("user_code", "")[:32]
        return _enter(form)
    if not form.validate_on_submit():
        return _enter(form, 400)
    try:  # counted as wrong before the lookup, so racing guesses on other workers see it
        reserved = throttle.reserve(
            throttle.device_code_entry_buckets(current_session().id, client_ip())
        )
    except throttle.Throttled as exc:
        message = "Too many wrong codes. Wait a few minutes and try again."
        return _enter(form, 429, message, {"Retry-After": str(exc.retry_after)})
    code = rules.normalize_user_code(form.user_code.data)
    row = code and DeviceCode.get_or_none(DeviceCode.user_code_hash == rules.user_code_hash(code))
    if not row:
        return _enter(form, 400, WRONG_CODE)
    throttle.forgive(reserved)
    problem = rules.code_problem(row.status, row.expires_at, utcnow())
    if problem:
        return _outcome(row, problem, 400)
    if not form.decision.data:
        return _confirm(row, code)
    return _decide(row, form.decision.data == "allow")


def _confirm(row: DeviceCode, code: str):
    """The approval page: the app, its scopes in plain words, the resource, the code."""
    issuer = current_app.config["ISSUER"]
    return render_template(
        "device/confirm.html",
        client=row.client,
        unverified=consent.is_unverified(row.client),
        scopes=consent.scope_words(row.scope.split(), row.audience, issuer),
        audience=row.audience,
        audience_name=consent.audience_name(row.audience, issuer),
        user_code=rules.format_user_code(code),
    )


def _decide(row: DeviceCode, allow: bool):
    """Record the decision once (grants/device_code.record_decision), audited."""
    user_session = current_session()
    now = utcnow()
    with db.atomic("IMMEDIATE"):
        decided = rules.record_decision(row, allow, user_session, now)
        if decided:
            action = "device.approve" if allow else "device.deny"
            username = user_session.user.username
            audit(username, action, "client", row.client.client_id, ip=client_ip())
    if not decided:  # another tab or person decided first, or it just expired
        fresh = DeviceCode.get_or_none(DeviceCode.device_code_hash == row.device_code_hash)
        problem = fresh and rules.code_problem(fresh.status, fresh.expires_at, now)
        return _outcome(row, problem or "expired", 400)
    return _outcome(row, "approved" if allow else "denied")
