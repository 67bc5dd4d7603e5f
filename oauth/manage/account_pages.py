"""The signed-in user's own pages: /account (sessions), /account/password, /account/apps.

A person whose password an administrator reset (`must_change_password`) can open only
/account/password and sign out until they choose a new one (`password_change_gate`).
Just over 250 lines: the three pages of one person's account and the gate share their guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from peewee import fn
from wtforms import HiddenField, IntegerField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, InputRequired

from models import (
    AuthorizationCode,
    Client,
    Consent,
    TokenFamily,
    User,
    audit,
    db,
    revoke_families,
    utcnow,
)
from oauth.errors import error_page
from oauth.manage import sessions
from oauth.manage import users as accounts
from oauth.rules.consent import audience_name, client_hosts, is_unverified, scope_words
from oauth.session import (
    client_ip,
    current_session,
    current_user,
    login_required,
    logout_user,
)
from oauth.urls import safe_next

bp = Blueprint("account", __name__, url_prefix="/account")


class RevokeForm(FlaskForm):
    """Revoke one app's access: every token and the remembered consent."""

    client_id = HiddenField(validators=[DataRequired()])


@dataclass
class AuthorizedApp:
    """What the user granted one app: scopes, audiences, and when the user last authorized it."""

    client: Client
    scopes: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    last_authorized: datetime | None = None

    def add(self, scope: str, audience: str) -> None:
        self.scopes += [s for s in scope.split() if s not in self.scopes]
        if audience not in self.audiences:
            self.audiences.append(audience)


def authorized_apps(user: User) -> list[AuthorizedApp]:
    """Apps with a remembered consent or a live token family for `user`, the most recently
    authorized first."""
    apps: dict[int, AuthorizedApp] = {}
    consents = Consent.select(Consent, Client).join(Client).where(Consent.user == user)
    for row in consents:
        apps.setdefault(row.client.id, AuthorizedApp(row.client)).add(row.scope, row.audience)
    families = (
        TokenFamily.select(TokenFamily, Client)
        .join(Client)
        .where(
            TokenFamily.user == user,
            TokenFamily.revoked_at.is_null(),
            TokenFamily.expires_at > utcnow(),
        )
    )
    for row in families:
        apps.setdefault(row.client.id, AuthorizedApp(row.client)).add(row.scope, row.audience)
    # "Last authorized" is the newest grant (a sign-in or a device approval), and the page
    # says so: tokens carry no user and are not indexed by family (migrations.sql, block 7),
    # so a refresh or a token's use is not recorded per user.
    last_authorized = (
        TokenFamily.select(TokenFamily.client, fn.MAX(TokenFamily.created_at).alias("newest"))
        .where(TokenFamily.user == user, TokenFamily.client.in_(list(apps)))
        .group_by(TokenFamily.client)
    )
    for row in last_authorized.namedtuples():
        apps[row.client].last_authorized = TokenFamily.created_at.python_value(row.newest)
    return sorted(apps.values(), key=lambda a: a.last_authorized or datetime.min, reverse=True)


def revoke_app(user: User, client: Client) -> int:
    """Revoke every token family of (user, client), its unused codes and the consent.

    Returns the number of families revoked. Call inside `db.atomic("IMMEDIATE")`.
    """
    family_ids = [
        f.id
        for f in TokenFamily.select(TokenFamily.id).where(
            TokenFamily.user == user, TokenFamily.client == client, TokenFamily.revoked_at.is_null()
        )
    ]
    revoke_families(family_ids)
    AuthorizationCode.delete().where(
        AuthorizationCode.user == user,
        AuthorizationCode.client == client,
        AuthorizationCode.used_at.is_null(),
    ).execute()
    Consent.delete().where(Consent.user == user, Consent.client == client).execute()
    return len(family_ids)


@bp.get("/apps")
@login_required
def apps():
    """The apps this user has authorized, with a Revoke button each."""
    issuer = current_app.config["ISSUER"]
    return render_template(
        "account/apps.html",
        apps=authorized_apps(current_user()),
        form=RevokeForm(),
        audience_name=lambda audience: audience_name(audience, issuer),
        scope_words=lambda app: scope_words(app.scopes, app.audiences[0], issuer),
        client_hosts=client_hosts,
        is_unverified=is_unverified,
    )


@bp.post("/apps/revoke")
@login_required
def revoke():
    """Revoke one app's access (CSRF-protected); the app must sign the user in again."""
    form = RevokeForm()
    user = current_user()
    client = Client.by_client_id(form.client_id.data) if form.validate() else None
    if client is None:
        return error_page("Unknown application", "There is no such application to revoke.", 404)
    with db.atomic("IMMEDIATE"):
        count = revoke_app(user, client)
        changes = {"live_token_families": [count, 0]}
        audit(user.username, "account.app.revoke", "app", client.client_id, changes, client_ip())
    flash(f"{client.name} can no longer use your account.", "success")
    return redirect(url_for("account.apps"), 303)


# -- password and sessions -----------------------------------------------------------------


class PasswordForm(FlaskForm):
    """Change one's own password: the current one, then the new one twice."""

    current = PasswordField("Current password", validators=[InputRequired()])
    new = PasswordField("New password", validators=[InputRequired()])
    confirm = PasswordField(
        "New password again", validators=[EqualTo("new", "The two new passwords differ.")]
    )
    next = HiddenField()
    submit = SubmitField("Change password")


class EndSessionForm(FlaskForm):
    """End one session (its row id) or, without one, every other session."""

    session_id = IntegerField(validators=[InputRequired()])


# Where a person who must change their password may still go.
OPEN_DURING_CHANGE = {"account.password", "login.logout", "static"}


@bp.before_app_request
def password_change_gate():
    """After signing in with a one-time password, nothing but changing it (or signing out)."""
    # An empty session (every protocol endpoint's) has nobody signed in. Asked of the session
    # itself: the proxy's truth test is a context lookup of its own, on every request.
    current = session._get_current_object()  # type: ignore[attr-defined]
    if not current or request.endpoint in OPEN_DURING_CHANGE:
        return None
    user = current_user()
    if user is None or not user.must_change_password:
        return None
    if request.method == "GET":
        return redirect(url_for("account.password", next=request.full_path.rstrip("?")))
    return redirect(url_for("account.password"), 303)


@bp.get("")
@login_required
def overview():
    """Who you are, your password, and where you are signed in."""
    user = current_user()
    return render_template(
        "account/account.html",
        user=user,
        sessions=sessions.active_sessions(user),
        current=current_session(),
        device=sessions.describe_device,
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change your password; your other sessions end (CSRF-protected, audited)."""
    user = current_user()
    form = PasswordForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    error = None
    if form.validate_on_submit():
        try:
            ended = accounts.change_password(
                user, form.current.data, form.new.data, current_session(), client_ip()
            )
        except accounts.AccountError as exc:
            error = str(exc).capitalize() + "."
        else:
            others = f" {ended} other session(s) ended." if ended else ""
            flash("Your password is changed." + others, "success")
            return redirect(safe_next(form.next.data) or url_for("account.overview"), 303)
    status = 400 if error or form.errors else 200
    body = render_template(
        "account/password.html", form=form, error=error, rule=accounts.PASSWORD_RULE, user=user
    )
    return body, status


@bp.post("/sessions/end")
@login_required
def end_session():
    """Sign out one of your sessions (the current one too, if you choose it)."""
    user = current_user()
    form = EndSessionForm()
    if not form.validate():
        return error_page("Unknown session", "There is no such session to end.", 400)
    with db.atomic("IMMEDIATE"):
        ended = sessions.end_session(user.username, client_ip(), user, form.session_id.data)
    if not ended:
        return error_page("Unknown session", "That session has already ended.", 404)
    current = current_session()
    if current is not None and current.id == form.session_id.data:
        logout_user()
        return redirect(url_for("login.login"), 303)
    flash("That session is signed out.", "success")
    return redirect(url_for("account.overview"), 303)


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    """Sign out everywhere else: every session but this one ends."""
    user = current_user()
    with db.atomic("IMMEDIATE"):
        count = sessions.end_all(user.username, client_ip(), user, keep=current_session())
    flash(f"Signed out everywhere else ({count} session(s) ended).", "success")
    return redirect(url_for("account.overview"), 303)
