"""Admin pages for protected resources (RFC 8707 audiences): /admin/resources.

The rules are oauth.manage.resources', as for `flask resources`; the routes are on the shared
"admin" blueprint (oauth/manage/pages.py).
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField

from models import Client, Resource
from oauth.manage.apps import AppError
from oauth.manage.pages import admin as bp
from oauth.manage.pages import attach_problems
from oauth.manage.resources import add_resource, delete_resource
from oauth.session import admin_required, client_ip


class ResourceForm(FlaskForm):
    uri = StringField("Resource URI")
    name = StringField("Name")
    scopes = StringField("Scopes (space-separated)")
    owner = SelectField(
        "Owner (may introspect its tokens)", choices=[SelectChoice("", "No owner")], default=""
    )
    token_format = SelectField(
        "Access token format",
        choices=[
            SelectChoice("", "Server default (GATEHOUSE_ACCESS_TOKEN_FORMAT)"),
            SelectChoice("opaque", "Opaque (resource servers introspect)"),
            SelectChoice("jwt", "JWT, RFC 9068 (resource servers may verify locally)"),
        ],
        default="",
    )


@bp.route("/resources", methods=["GET", "POST"])
@admin_required
def resources():
    form = ResourceForm()
    clients = Client.select().order_by(Client.name)
    form.owner.choices += [SelectChoice(c.client_id, c.name) for c in clients]
    if form.validate_on_submit():
        try:
            args = (form.uri.data or "", form.name.data or "", (form.scopes.data or "").split())
            owner, token_format = form.owner.data or None, form.token_format.data or None
            row = add_resource(
                *args, owner, g.actor.username, client_ip(), token_format=token_format
            )
        except AppError as error:
            attach_problems(form, error.problems, form.uri)
        else:
            flash(f"Added {row.uri}.", "success")
            return redirect(url_for("admin.resources"))
    rows = Resource.select().order_by(Resource.uri)
    default_format = current_app.config["ACCESS_TOKEN_FORMAT"]
    return render_template(
        "admin/resources.html", form=form, resources=rows, default_format=default_format
    )


@bp.post("/resources/<int:resource_id>/delete")
@admin_required
def resource_delete(resource_id: int):
    row = Resource.get_or_none(Resource.id == resource_id)
    if row is not None:
        delete_resource(row, g.actor.username, client_ip())
        flash(f"Deleted {row.uri}.", "success")
    return redirect(url_for("admin.resources"))
