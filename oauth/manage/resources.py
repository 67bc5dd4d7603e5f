"""Protected resources (RFC 8707 audiences): registration rules and writes for the admin UI and
CLI. A resource's scopes become valid scopes for requests that name it."""

from __future__ import annotations

from models import Client, Resource, audit, db
from oauth.manage.apps import AppError, Problems
from oauth.rules import jwt_access_token
from oauth.rules.resource import resource_problem
from oauth.rules.scope import parse_scope, scope_problem
from oauth.rules.text import text_problem
from oauth.urls import canonical_uri


def add_resource(
    uri: str,
    name: str,
    scopes: list[str],
    owner_id: str | None,
    actor: str,
    ip: str = "",
    token_format: str | None = None,
) -> Resource:
    """Register a protected resource (RFC 8707 audience) under its canonical URI.

    `token_format` is `jwt` (RFC 9068) or `opaque`; None follows GATEHOUSE_ACCESS_TOKEN_FORMAT.
    """
    problems: Problems = []
    if token_format is not None and token_format not in jwt_access_token.FORMATS:
        problems.append({"field": "token_format", "detail": "must be `jwt` or `opaque`"})
    problem = resource_problem(uri)
    if problem:
        problems.append({"field": "uri", "detail": problem})
    name_problem = text_problem(name)
    if name_problem:
        problems.append({"field": "name", "detail": name_problem})
    tokens = parse_scope(" ".join(scopes))
    if tokens is None:
        problems.append({"field": "scopes", "detail": scope_problem(" ".join(scopes))})
    owner = Client.by_client_id(owner_id) if owner_id else None
    if owner_id and owner is None:
        problems.append({"field": "owner", "detail": f"no client {owner_id!r}"})
    canonical = canonical_uri(uri) if not problem else uri
    if not problem and Resource.by_uri(canonical) is not None:
        problems.append({"field": "uri", "detail": f"{canonical} is already registered"})
    if problems:
        raise AppError("The resource has problems.", problems)
    with db.atomic():
        row = Resource.create(
            uri=canonical,
            name=name.strip(),
            scopes=" ".join(tokens or []),
            owner=owner,
            token_format=token_format,
        )
        changes = {"name": [None, row.name], "scopes": [None, row.scopes]}
        if token_format is not None:
            changes["token_format"] = [None, token_format]
        if owner is not None:
            changes["owner"] = [None, owner.client_id]
        audit(actor, "resource.add", "resource", canonical, changes, ip)
    return row


def find_resource(uri: str) -> Resource | None:
    """The resource registered under `uri` (compared in canonical form)."""
    return Resource.by_uri(uri if resource_problem(uri) else canonical_uri(uri))


def delete_resource(row: Resource, actor: str, ip: str = "") -> None:
    """Forget a protected resource; tokens already issued for it keep their audience."""
    with db.atomic():
        Resource.delete().where(Resource.id == row.id).execute()
        audit(actor, "resource.delete", "resource", row.uri, {"name": [row.name, None]}, ip)
