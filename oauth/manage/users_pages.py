"""Admin pages for users: /admin/users (the "admin_users" blueprint, shared with the audit log)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import ValidationError

from models import User, db
from oauth.manage import sessions
from oauth.manage import users as service  # the views `users`, `set_admin`... shadow names
from oauth.manage.pages import admin_users as bp
from oauth.session import admin_required, client_ip


def _rule(check):
    """A WTForms validator from an users.check_* function."""

    def validator(form: FlaskForm, field) -> None:
        try:
            check(field.data)
        except service.AccountError as exc:
            raise ValidationError(str(exc)) from None

    return validator


class UserForm(FlaskForm):
    """Create a user; the same rules as `flask users create`."""

    username = StringField("Username", validators=[_rule(service.check_username)])
    email = EmailField("Email (optional)", validators=[_rule(service.check_email)])
    name = StringField("Name (optional)", validators=[_rule(service.check_name)])
    password = PasswordField("Password", validators=[_rule(service.check_password)])
    is_admin = BooleanField("Administrator")
    submit = SubmitField("Create user")


class EditUserForm(FlaskForm):
    """Edit a user's name, email and admin flag; the same rules as `flask users update`."""

    email = EmailField("Email (optional)", validators=[_rule(service.check_email)])
    name = StringField("Name (optional)", validators=[_rule(service.check_name)])
    is_admin = BooleanField("Administrator")
    submit = SubmitField("Save changes")


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
        rows, error = list(service.search_users(q)), None
    except service.AccountError as exc:
        rows, error = [], str(exc)
    body = render_template("admin_users/users.html", users=rows, q=q, error=error)
    return body, 400 if error else 200


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = service.add_user(
                g.actor.username,
                client_ip(),
                form.username.data,
                form.password.data,
                form.email.data,
                form.name.data,
                form.is_admin.data,
            )
        except service.AccountError as exc:
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
            raise service.AccountError("you cannot remove your own admin rights")
        service.set_admin(g.actor.username, client_ip(), user, is_admin)
    except service.AccountError as exc:
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
            service.delete_user(g.actor.username, client_ip(), user)
        except service.AccountError as exc:
            error = f"Not deleted: {exc}."
        else:
            flash(f"Deleted user {user.username}.", "success")
            return redirect(url_for("admin_users.users"))
    body = render_template("admin_users/user_delete.html", user=user, form=form, error=error)
    return body, 400 if error and request.method == "POST" else 200


def _render_user(user: User, form: EditUserForm, status: int = 200, one_time: str | None = None):
    body = render_template(
        "admin_users/user.html",
        user=user,
        form=form,
        sessions=sessions.active_sessions(user),
        device=sessions.describe_device,
        one_time=one_time,
        button=ConfirmForm(),
    )
    headers = {"Cache-Control": "no-store"} if one_time else {}  # never cache a password
    return body, status, headers


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_page(user_id: int):
    """One user: edit name, email and admin flag; reset the password; end their sessions."""
    user = get_user_or_404(user_id)
    form = EditUserForm(obj=user)
    if form.validate_on_submit():
        try:
            if user.id == g.actor.id and not form.is_admin.data:
                raise service.AccountError("you cannot remove your own admin rights")
            changes = service.update_user(
                g.actor.username,
                client_ip(),
                user,
                email=form.email.data,
                name=form.name.data,
                is_admin=form.is_admin.data,
            )
        except service.AccountError as exc:
            form.is_admin.errors = [*form.is_admin.errors, str(exc)]
        else:
            flash(f"Saved {user.username}." if changes else "Nothing changed.", "success")
            return redirect(url_for("admin_users.user_page", user_id=user.id), 303)
    return _render_user(user, form, 400 if form.errors else 200)


@bp.post("/users/<int:user_id>/password")
@admin_required
def reset_password(user_id: int):
    """Set a one-time password, shown once on this response; the user must change it."""
    user = get_user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    one_time = service.reset_password(g.actor.username, client_ip(), user)
    return _render_user(user, EditUserForm(obj=user), one_time=one_time)


@bp.post("/users/<int:user_id>/sessions/end")
@admin_required
def end_sessions(user_id: int):
    """End every session of the user (they must sign in again); their app tokens stay."""
    user = get_user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with db.atomic("IMMEDIATE"):
        count = sessions.end_all(g.actor.username, client_ip(), user)
    flash(f"Ended {count} session(s) of {user.username}.", "success")
    return redirect(url_for("admin_users.user_page", user_id=user.id), 303)
