"""End-session endpoint (OpenID Connect RP-Initiated Logout 1.0); the rules are rules/logout.py."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request

from models import db
from oauth.csrf import csrf
from oauth.errors import add_query, error_page
from oauth.rules.logout import LogoutError, LogoutRequest, check_logout_request
from oauth.session import current_user, logout_user

bp = Blueprint("end_session", __name__, url_prefix="/oauth2")


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
