"""Admin UI for users and the audit log: /admin/users, /admin/audit."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import ValidationError

from models import AuditEvent, User
from oauth import accounts
from oauth.session import admin_required, client_ip

bp = Blueprint("admin_users", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50
MAX_PAGE = 100_000


def _rule(check):
    """A WTForms validator from an accounts.check_* function."""

    def validator(form: FlaskForm, field) -> None:
        try:
            check(field.data)
        except accounts.AccountError as exc:
            raise ValidationError(str(exc)) from None

    return validator


class UserForm(FlaskForm):
    """Create a user; the same rules as `flask users create`."""

    username = StringField("Username", validators=[_rule(accounts.check_username)])
    email = EmailField("Email (optional)", validators=[_rule(accounts.check_email)])
    name = StringField("Name (optional)", validators=[_rule(accounts.check_name)])
    password = PasswordField("Password", validators=[_rule(accounts.check_password)])
    is_admin = BooleanField("Administrator")
    submit = SubmitField("Create user")


class ConfirmForm(FlaskForm):
    """A button-only form (CSRF token and submit)."""

    submit = SubmitField("Delete")


def get_user_or_404(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404, "No such user.")
    return user


@bp.get("/users")
@admin_required
def users():
    """Users, filtered by a GitHub-style search (`role:admin name:al`, free text)."""
    q = request.args.get("q", "")
    try:
        rows, error = list(accounts.search_users(q)), None
    except accounts.AccountError as exc:
        rows, error = [], str(exc)
    body = render_template("admin_users/users.html", users=rows, q=q, error=error)
    return body, 400 if error else 200


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = accounts.add_user(
                g.actor.username,
                client_ip(),
                form.username.data,
                form.password.data,
                form.email.data,
                form.name.data,
                form.is_admin.data,
            )
        except accounts.AccountError as exc:
            form.username.errors = [*form.username.errors, str(exc)]
        else:
            flash(f"Created user {user.username}.", "success")
            return redirect(url_for("admin_users.users"))
    status = 400 if form.errors else 200
    return render_template("admin_users/user_new.html", form=form), status


@bp.post("/users/<int:user_id>/admin")
@admin_required
def set_admin(user_id: int):
    """Grant (`is_admin=1`) or remove (`is_admin=0`) admin rights."""
    user = get_user_or_404(user_id)
    is_admin = request.form.get("is_admin") == "1"
    try:
        if user.id == g.actor.id and not is_admin:
            raise accounts.AccountError("you cannot remove your own admin rights")
        accounts.set_admin(g.actor.username, client_ip(), user, is_admin)
    except accounts.AccountError as exc:
        flash(f"Not changed: {exc}.", "error")
    else:
        role = "an administrator" if is_admin else "a regular user"
        flash(f"{user.username} is now {role}.", "success")
    return redirect(url_for("admin_users.users"))


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_user(user_id: int):
    """Confirm, then delete a user with their sessions, tokens and consents."""
    user = get_user_or_404(user_id)
    form = ConfirmForm()
    error = "You cannot delete your own account." if user.id == g.actor.id else None
    if error is None and form.validate_on_submit():
        try:
            accounts.delete_user(g.actor.username, client_ip(), user)
        except accounts.AccountError as exc:
            error = f"Not deleted: {exc}."
        else:
            flash(f"Deleted user {user.username}.", "success")
            return redirect(url_for("admin_users.users"))
    body = render_template("admin_users/user_delete.html", user=user, form=form, error=error)
    return body, 400 if error and request.method == "POST" else 200


@bp.get("/audit")
@admin_required
def audit_log():
    """Audit events, newest first, filtered by exact actor/target and action (or prefix)."""
    filters = {key: request.args.get(key, "").strip() for key in ("actor", "action", "target")}
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    query = AuditEvent.select().order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if filters["actor"]:
        query = query.where(AuditEvent.actor == filters["actor"])
    if filters["target"]:
        query = query.where(AuditEvent.target == filters["target"])
    if filters["action"]:  # "login" matches login.success, login.failure, ...
        action = filters["action"].rstrip(".")
        query = query.where(
            (AuditEvent.action == action) | AuditEvent.action.startswith(action + ".")
        )
    # One row more than a page tells whether an older page exists.
    rows = list(query.limit(AUDIT_PAGE_SIZE + 1).offset((page - 1) * AUDIT_PAGE_SIZE))
    more = len(rows) > AUDIT_PAGE_SIZE
    return render_template(
        "admin_users/audit.html",
        events=rows[:AUDIT_PAGE_SIZE],
        filters=filters,
        filter_args={key: value for key, value in filters.items() if value},
        page=page,
        more=more,
    )
