"""Protected resources (RFC 8707 audiences): registration rules and writes for the admin UI,
CLI and JSON API. A resource's scopes become valid scopes for requests that name it."""

from __future__ import annotations

from typing import Any

from models import Client, Resource, audit, db
from oauth.manage.apps import AppError, Problems, timestamp
from oauth.rules import jwt_access_token
from oauth.rules.client_metadata import MAX_NAME
from oauth.rules.resource import resource_problem
from oauth.rules.scope import parse_scope, scope_problem
from oauth.rules.text import text_problem
from oauth.urls import canonical_uri

# What can change after registration; the URI is the resource's identity (its `aud`).
EDITABLE = ("name", "scopes", "owner", "token_format")


def check_fields(data: dict[str, Any]) -> tuple[dict[str, Any], Problems]:
    """Check the editable fields present in `data`: (clean values, every problem).

    `scopes` is a list of scope tokens; `owner` a client_id or None; `token_format` is `jwt`
    (RFC 9068), `opaque`, or None to follow GATEHOUSE_ACCESS_TOKEN_FORMAT.
    """
    clean: dict[str, Any] = {}
    problems: Problems = []
    if "name" in data:
        name = data["name"]
        detail = None
        if not isinstance(name, str):
            detail = "must be a string"
        elif len(name.strip()) > MAX_NAME:
            detail = f"must be at most {MAX_NAME} characters"
        else:
            detail = text_problem(name)
        if detail:
            problems.append({"field": "name", "detail": detail})
        else:
            clean["name"] = name.strip()
    if "scopes" in data:
        scopes = data["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            problems.append({"field": "scopes", "detail": "must be a list of scope strings"})
        else:
            tokens = parse_scope(" ".join(scopes))
            if tokens is None:
                problems.append({"field": "scopes", "detail": scope_problem(" ".join(scopes))})
            else:
                clean["scopes"] = " ".join(tokens)
    if "owner" in data:
        owner_id = None if data["owner"] == "" else data["owner"]  # "": the form's "No owner"
        owner = Client.by_client_id(owner_id) if isinstance(owner_id, str) else None
        if owner_id is not None and not isinstance(owner_id, str):
            problems.append({"field": "owner", "detail": "must be a client_id or null"})
        elif owner_id is not None and owner is None:
            problems.append({"field": "owner", "detail": f"no client {owner_id!r}"})
        else:
            clean["owner"] = owner
    if "token_format" in data:
        token_format = data["token_format"]
        if token_format is not None and token_format not in jwt_access_token.FORMATS:
            problems.append({"field": "token_format", "detail": "must be `jwt`, `opaque` or null"})
        else:
            clean["token_format"] = token_format
    return clean, problems


def _audited(field: str, value: Any) -> Any:
    """A field's value as the audit log records it (the owner by client_id)."""
    if field == "owner":
        return value.client_id if value is not None else None
    return value


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
    fields = {"name": name, "scopes": scopes, "owner": owner_id, "token_format": token_format}
    clean, problems = check_fields(fields)
    problem = resource_problem(uri) if isinstance(uri, str) else "must be an absolute URI"
    if problem:
        problems.insert(0, {"field": "uri", "detail": problem})
    canonical = canonical_uri(uri) if not problem else uri
    if not problem and Resource.by_uri(canonical) is not None:
        problems.insert(0, {"field": "uri", "detail": f"{canonical} is already registered"})
    if problems:
        raise AppError("The resource has problems.", problems)
    with db.atomic():
        row = Resource.create(uri=canonical, **clean)
        changes = {"name": [None, row.name], "scopes": [None, row.scopes]}
        for field in ("token_format", "owner"):
            if clean[field] is not None:
                changes[field] = [None, _audited(field, clean[field])]
        audit(actor, "resource.add", "resource", canonical, changes, ip)
    return row


def update_resource(row: Resource, data: dict[str, Any], actor: str, ip: str = "") -> Resource:
    """Change the fields `data` names (see EDITABLE); audited with each [old, new] pair.

    A new token_format applies to tokens issued from now on; tokens already issued keep theirs.
    """
    clean, problems = check_fields(data)
    if problems:
        raise AppError("The resource has problems.", problems)
    changes = {}
    for field, new in clean.items():
        old = getattr(row, field)
        if _audited(field, old) != _audited(field, new):
            changes[field] = [_audited(field, old), _audited(field, new)]
            setattr(row, field, new)
    if changes:
        with db.atomic():
            row.save()
            audit(actor, "resource.update", "resource", row.uri, changes, ip)
    return row


def find_resource(uri: str) -> Resource | None:
    """The resource registered under `uri` (compared in canonical form)."""
    return Resource.by_uri(uri if resource_problem(uri) else canonical_uri(uri))


def delete_resource(row: Resource, actor: str, ip: str = "") -> None:
    """Forget a protected resource; tokens already issued for it keep their audience."""
    with db.atomic():
        Resource.delete().where(Resource.id == row.id).execute()
        audit(actor, "resource.delete", "resource", row.uri, {"name": [row.name, None]}, ip)


def resource_json(row: Resource) -> dict[str, Any]:
    """The management API's view of a resource; `token_format` null follows the default."""
    return {
        "id": row.id,
        "uri": row.uri,
        "name": row.name,
        "scopes": row.scope_list,
        "owner": row.owner.client_id if row.owner_id else None,
        "token_format": row.token_format,
        "created_at": timestamp(row.created_at),
    }
