"""CLI: `flask clients create|list|delete|secret` (apps, through oauth.manage.apps)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from models import Client, db
from oauth import keys
from oauth.manage import apps

ACTOR = "cli"


def fail(error: apps.AppError) -> click.ClickException:
    lines = [error.message] + [f"  {p['field'] or 'input'}: {p['detail']}" for p in error.problems]
    return click.ClickException("\n".join(lines))


def _client_orfail(client_id: str) -> Client:
    client = Client.by_client_id(client_id)
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    return client


@click.group("clients", cls=AppGroup)
def clients_cli() -> None:
    """Manage OAuth2 clients (applications)."""


@clients_cli.command("create")
@click.option("--name", required=True, help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for several.")
@click.option("--public", is_flag=True, help="A public client (no secret, PKCE only).")
@click.option(
    "--auth-method",
    type=click.Choice(apps.CONFIDENTIAL_AUTH_METHODS),
    help="Token endpoint authentication (confidential clients; default client_secret_basic).",
)
@click.option("--grant-type", "grant_types", multiple=True, type=click.Choice(apps.GRANT_TYPES))
@click.option("--scope", default="", help="Allowed scopes, space-separated ('' = any known).")
@click.option(
    "--id-token-alg",
    type=click.Choice(keys.ALGS),
    default=keys.ALG,
    show_default=True,
    help="How its id_tokens are signed (OIDC Registration §2 id_token_signed_response_alg).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def clients_create(
    name, redirect_uris, public, auth_method, grant_types, scope, id_token_alg, as_json
):
    """Create a client; prints client_id and, for confidential clients, client_secret (once)."""
    data = {
        "name": name,
        "client_type": "public" if public else "confidential",
        "redirect_uris": list(redirect_uris),
        "grant_types": list(grant_types) or list(apps.DEFAULT_GRANT_TYPES),
        "scope": scope,
        "id_token_signed_response_alg": id_token_alg,
    }
    if auth_method:
        data["token_endpoint_auth_method"] = auth_method
    with db.connection_context():
        try:
            client, secret = apps.create_client(apps.check_app(data), ACTOR, vetted=True)
        except apps.AppError as error:
            raise fail(error) from None
        body = apps.app_json(client, current_app.config["ISSUER"])
    if secret is not None:
        body["client_secret"] = secret
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"client_id: {client.client_id}")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("(the secret is shown once; store it now)", err=True)


@clients_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def clients_list(as_json: bool) -> None:
    """List clients, newest first."""
    with db.connection_context():
        rows, _ = apps.find_apps(limit=None)
        issuer = current_app.config["ISSUER"]
        bodies = [apps.app_json(client, issuer) for client in rows]
    if as_json:
        click.echo(json.dumps(bodies, indent=2))
        return
    for body in bodies:
        click.echo(f"{body['client_id']}  {body['client_type']:<12}  {body['name']}")


@clients_cli.command("delete")
@click.argument("client_id")
def clients_delete(client_id: str) -> None:
    """Delete a client with its secrets and every token it holds."""
    with db.connection_context():
        apps.delete_client(_client_orfail(client_id), ACTOR)
    click.echo(f"deleted client {client_id}")


@clients_cli.command("secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (as the API does).")
def clients_secret(client_id: str, as_json: bool) -> None:
    """Add a new secret to a confidential client and print it (once); old secrets stay valid."""
    with db.connection_context():
        try:
            row, value = apps.create_secret(_client_orfail(client_id), ACTOR)
        except apps.AppError as error:
            raise fail(error) from None
        body = {**apps.secret_json(row), "client_secret": value}
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"client_secret: {value}")
