"""CLI: `flask users create|list|update|passwd|delete|token` and `flask bootstrap`.

Every change is audited as actor "cli".
"""

from __future__ import annotations

import secrets
import sys

import click
from flask import current_app

from models import User, db
from oauth.manage import users
from oauth.rules.text import normalize_username

ACTOR = "cli"


@click.group("users")
def users_cli() -> None:
    """Manage user accounts."""


def _user_or_fail(username: str) -> User:
    user = User.by_username(normalize_username(username) or "")
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


@users_cli.command("create")
@click.argument("username")
@click.option("--password", "password", help="The password (visible in shell history).")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("--email", default=None)
@click.option("--name", default=None)
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
def create_user(
    username: str,
    password: str | None,
    password_stdin: bool,
    email: str | None,
    name: str | None,
    admin: bool,
) -> None:
    """Create a user; without a password option a random one is printed once."""
    if password is not None and password_stdin:
        raise click.UsageError("use either --password or --password-stdin, not both")
    generated = password is None and not password_stdin
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if generated:
        password = secrets.token_urlsafe(15)
    try:
        with db.connection_context():
            user = users.add_user(ACTOR, "", username, password, email, name, admin)
    except users.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    role = "administrator" if user.is_admin else "user"
    click.echo(f"created {role} {user.username}")
    if generated:
        click.echo(f"password: {password}   (shown once)")


@users_cli.command("list")
@click.option("--q", "query", default="", help='Search, e.g. "role:admin name:al".')
def list_users(query: str) -> None:
    """List users as a table; --q filters like GitHub's label search."""
    try:
        with db.connection_context():
            found = list(users.search_users(query))
    except users.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    rows = [("USERNAME", "EMAIL", "NAME", "ADMIN", "CREATED")]
    for u in found:
        created = u.created_at.strftime("%Y-%m-%d %H:%M")
        rows.append((u.username, u.email or "", u.name or "", "yes" if u.is_admin else "", created))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@users_cli.command("update")
@click.argument("username")
@click.option("--email", default=None, help='New email address ("" removes it).')
@click.option("--name", default=None, help='New display name ("" removes it).')
@click.option("--admin/--no-admin", "admin", default=None, help="Grant or remove admin rights.")
def update_user(username: str, email: str | None, name: str | None, admin: bool | None) -> None:
    """Change a user's email, name or admin flag; the last administrator keeps theirs."""
    given = {"email": email, "name": name, "is_admin": admin}
    fields = {key: value for key, value in given.items() if value is not None}
    if not fields:
        raise click.UsageError("nothing to change: give --email, --name, --admin or --no-admin")
    try:
        with db.connection_context():
            user = _user_or_fail(username)
            changes = users.update_user(ACTOR, "", user, **fields)
    except users.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    if not changes:
        click.echo(f"{user.username}: nothing changed")
    for key, (old, new) in changes.items():
        click.echo(f"{user.username}: {key}: {old!s} -> {new!s}")


@users_cli.command("passwd")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the new password from one line of stdin."
)
def passwd(username: str, password_stdin: bool) -> None:
    """Reset a password and end the user's sessions.

    Without --password-stdin a one-time password is printed once, and the user must choose a
    new one at the next sign-in; with it, the line read becomes their password.
    """
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        with db.connection_context():
            user = _user_or_fail(username)
            one_time = users.reset_password(ACTOR, "", user, password)
    except users.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    if one_time is None:
        click.echo(f"password of {user.username} changed; their sessions have ended")
    else:
        click.echo(f"one-time password for {user.username}: {one_time}   (shown once)")
        click.echo("they must choose a new password at the next sign-in")


@users_cli.command("delete")
@click.argument("username")
def delete_user(username: str) -> None:
    """Delete a user and everything of theirs (sessions, tokens, consents); no prompt."""
    try:
        with db.connection_context():
            user = _user_or_fail(username)
            users.delete_user(ACTOR, "", user)
    except users.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deleted user {user.username}")


@users_cli.command("token")
@click.argument("username")
def user_token(username: str) -> None:
    """Print a new personal access token for the management API (only the token)."""
    with db.connection_context():
        user = _user_or_fail(username)
        click.echo(users.new_personal_token(ACTOR, "", user, name="cli"))


@click.command("bootstrap")
def bootstrap_command() -> None:
    """Create the first admin (random password, printed once) when there are no users."""
    issuer = current_app.config["ISSUER"]
    with db.connection_context():
        if User.select().count() == 0:
            password = secrets.token_urlsafe(12)
            users.add_user(ACTOR, "", "admin", password, name="Administrator", is_admin=True)
            click.echo(
                f"Created the first administrator.\n  username: admin\n  "
                f"password: {password}   (shown once; change it at {issuer}/account/password\n"
                "            or with: flask --app app users passwd admin)"
            )
    click.echo(f"Gatehouse issuer: {issuer}\nAdmin pages:      {issuer}/admin/apps")
