"""CLI: `flask resources add|list|delete` (protected resources, RFC 8707 audiences)."""

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
