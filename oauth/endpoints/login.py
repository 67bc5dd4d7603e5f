"""Sign-in and sign-out pages: /, /login, /logout.

In mock mode (GATEHOUSE_MOCK=1) /login asks for a username only, creates the user on first
sign-in, takes optional extra claims as JSON, and lists existing users as one-click buttons.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from models import User, audit, db
from oauth.manage import users as accounts
from oauth.mock import provider as mock_provider
from oauth.rules import throttle
from oauth.session import client_ip, current_user, login_user, logout_user
from oauth.urls import safe_next

bp = Blueprint("login", __name__)

# One message for an unknown user and a wrong password, so the page reveals neither.
FAILED = "Wrong username or password."


class LoginForm(FlaskForm):
    """The sign-in form; field names are part of the contract (DESIGN.md)."""

    username = StringField("Username", validators=[DataRequired(), Length(max=256)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)]
    )
    next = HiddenField()
    submit = SubmitField("Sign in")


class MockLoginForm(FlaskForm):
    """Mock-mode sign-in: any username, no password; optional extra claims as a JSON object."""

    username = StringField("Username", validators=[DataRequired(), Length(max=256)])
    claims = TextAreaField(
        "Extra claims (optional JSON object)",
        validators=[Length(max=mock_provider.MAX_CLAIMS_BYTES)],
    )
    next = HiddenField()
    submit = SubmitField("Sign in")


@bp.get("/")
def index():
    """Send people where they belong: sign-in, the admin pages, or their own apps."""
    user = current_user()
    if user is None:
        return redirect(url_for("login.login"))
    return redirect("/admin/apps" if user.is_admin else "/account/apps")


def _render(form: LoginForm, status: int = 200, error: str | None = None, headers=None):
    body = render_template("login/login.html", form=form, error=error)
    return body, status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Password sign-in, throttled per (username, address), username and address (throttle.py).

    `next` must be a local path. A session already open stays open until this sign-in succeeds.
    """
    if mock_provider.mock_on():
        return mock_login()
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        form.username.data = request.args.get("login_hint", "")  # OIDC §3.1.2.1
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, 400)
    username, ip = form.username.data.strip(), client_ip()
    buckets = throttle.login_buckets(username, ip)
    try:
        reserved = throttle.reserve(buckets)  # counted as a failure until the password is good
    except throttle.Throttled as exc:
        with db.atomic():
            _audit_login(username, "login.throttled")
        message = "Too many failed sign-ins. Wait a few minutes and try again."
        return _render(form, 429, message, {"Retry-After": str(exc.retry_after)})
    user = accounts.authenticate(username, form.password.data)
    if user is None:
        with db.atomic():
            _audit_login(username, "login.failure")
        return _render(form, 200, FAILED)
    with db.atomic():
        throttle.forgive(reserved)
        login_user(user)
        _audit_login(user.username, "login.success")
    return redirect(safe_next(form.next.data) or url_for("login.index"))


MAX_SEEDED = 50  # one-click buttons on the mock sign-in page


def _render_mock(form: MockLoginForm, status: int = 200, error: str | None = None):
    users = User.select().order_by(User.username).limit(MAX_SEEDED)
    return render_template("login/mock.html", form=form, users=users, error=error), status


def mock_login():
    """Mock mode: sign in as anyone by username (created if new), with optional claims."""
    form = MockLoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        form.username.data = request.args.get("login_hint", "")
        return _render_mock(form)
    if not form.validate_on_submit():
        return _render_mock(form, 400)
    try:
        username = accounts.check_username(form.username.data)
        extra = mock_provider.parse_claims_text(form.claims.data)
    except (accounts.AccountError, mock_provider.MockError) as exc:
        return _render_mock(form, 400, str(exc))
    with db.atomic("IMMEDIATE"):  # find-or-create, then the session: one writer at a time
        user = mock_provider.sign_in_user(username, extra, client_ip())
        login_user(user)
        audit(user.username, "login.mock", "user", user.username, ip=client_ip())
    return redirect(safe_next(form.next.data) or url_for("login.index"))


def _audit_login(username: str, action: str) -> None:
    target = username[:64]  # whatever was typed, bounded; never the password
    success = action == "login.success"
    actor = target if success else "anonymous"
    audit(actor, action, "user", target, ip=client_ip(), success=success)


@bp.post("/logout")
def logout():
    """End the session on the server and in the cookie (CSRF-protected POST)."""
    user = current_user()
    if user is not None:
        with db.atomic():
            logout_user()
            audit(user.username, "logout", "user", user.username, ip=client_ip())
    else:
        logout_user()
    flash("You have signed out.", "success")
    return redirect(url_for("login.login"))
