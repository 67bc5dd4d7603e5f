"""The signed-in user's own pages: /account/apps (authorized apps, revoke)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from peewee import fn
from wtforms import HiddenField
from wtforms.validators import DataRequired

from models import (
    AccessToken,
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
from oauth.rules.consent import audience_name, client_hosts, is_unverified, scope_words
from oauth.session import client_ip, current_user, login_required

bp = Blueprint("account", __name__, url_prefix="/account")


class RevokeForm(FlaskForm):
    """Revoke one app's access: every token and the remembered consent."""

    client_id = HiddenField(validators=[DataRequired()])


@dataclass
class AuthorizedApp:
    """What the user granted one app: scopes, audiences, and when it last got a token."""

    client: Client
    scopes: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    last_used: datetime | None = None

    def add(self, scope: str, audience: str) -> None:
        self.scopes += [s for s in scope.split() if s not in self.scopes]
        if audience not in self.audiences:
            self.audiences.append(audience)


def authorized_apps(user: User) -> list[AuthorizedApp]:
    """Apps with a remembered consent or a live token family for `user`, newest use first."""
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
    last_used = (
        AccessToken.select(AccessToken.client, fn.MAX(AccessToken.created_at).alias("newest"))
        .where(AccessToken.user == user, AccessToken.client.in_(list(apps)))
        .group_by(AccessToken.client)
    )
    for row in last_used.namedtuples():
        apps[row.client].last_used = _as_datetime(row.newest)
    return sorted(apps.values(), key=lambda a: a.last_used or datetime.min, reverse=True)


def _as_datetime(value: datetime | str | None) -> datetime | None:
    # SQLite aggregates return the stored text, not the field's Python type.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


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
