"""CLI: `flask resources add|update|list|delete` (protected resources, RFC 8707 audiences)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from models import Resource, db
from oauth.manage import resources
from oauth.manage.apps import AppError
from oauth.manage.apps_cli import ACTOR, fail
from oauth.rules import jwt_access_token


@click.group("resources", cls=AppGroup)
def resources_cli() -> None:
    """Manage protected resources (RFC 8707 audiences) and their scopes."""


@resources_cli.command("add")
@click.argument("uri")
@click.option("--name", default="", help="A label for people.")
@click.option("--scope", "scopes", multiple=True, help="A scope of this resource; repeat.")
@click.option("--owner", help="client_id of the resource server that may introspect its tokens.")
@click.option(
    "--token-format",
    type=click.Choice(jwt_access_token.FORMATS),
    help="Its access tokens: `jwt` (RFC 9068, verifiable locally) or `opaque`; "
    "default: GATEHOUSE_ACCESS_TOKEN_FORMAT.",
)
def resources_add(
    uri: str, name: str, scopes: tuple[str, ...], owner: str | None, token_format: str | None
) -> None:
    """Register a protected resource; its scopes become valid for requests naming it."""
    with db.connection_context():
        try:
            row = resources.add_resource(
                uri, name, list(scopes), owner, ACTOR, token_format=token_format
            )
        except AppError as error:
            raise fail(error) from None
    click.echo(f"added resource {row.uri}")


@resources_cli.command("update")
@click.argument("uri")
@click.option("--name", help="A new label for people.")
@click.option("--scope", "scopes", multiple=True, help="Replace its scopes with these; repeat.")
@click.option("--owner", help="client_id of the resource server that may introspect ('' for none).")
@click.option(
    "--token-format",
    type=click.Choice((*jwt_access_token.FORMATS, "default")),
    help="Its access tokens from now on: `jwt`, `opaque`, or `default` "
    "(GATEHOUSE_ACCESS_TOKEN_FORMAT); tokens already issued keep their format.",
)
def resources_update(
    uri: str,
    name: str | None,
    scopes: tuple[str, ...],
    owner: str | None,
    token_format: str | None,
) -> None:
    """Change a protected resource's name, scopes, owner or token format (audited)."""
    given = {"name": name, "scopes": list(scopes) or None, "owner": owner}
    changes = {field: value for field, value in given.items() if value is not None}
    if token_format is not None:  # `default`: follow GATEHOUSE_ACCESS_TOKEN_FORMAT again
        changes["token_format"] = token_format if token_format in jwt_access_token.FORMATS else None
    with db.connection_context():
        row = resources.find_resource(uri)
        if row is None:
            raise click.ClickException(f"no resource {uri!r}")
        try:
            resources.update_resource(row, changes, ACTOR)
        except AppError as error:
            raise fail(error) from None
    click.echo(f"updated resource {row.uri}")


@resources_cli.command("list")
def resources_list() -> None:
    """List protected resources: URI, scopes, owner, token format."""
    default = current_app.config["ACCESS_TOKEN_FORMAT"]
    with db.connection_context():
        for row in Resource.select().order_by(Resource.uri):
            owner = row.owner.client_id if row.owner_id else "-"
            tokens = row.token_format or f"{default} (default)"
            click.echo(
                f"{row.uri}  scopes={row.scopes or '-'}  owner={owner}  tokens={tokens}  {row.name}"
            )


@resources_cli.command("delete")
@click.argument("uri")
def resources_delete(uri: str) -> None:
    """Forget a protected resource."""
    with db.connection_context():
        row = resources.find_resource(uri)
        if row is None:
            raise click.ClickException(f"no resource {uri!r}")
        resources.delete_resource(row, ACTOR)
    click.echo(f"deleted resource {row.uri}")
