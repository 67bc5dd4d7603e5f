"""Applications (OAuth clients): the rules and writes shared by the JSON API, admin UI and CLI.

The rules are oauth/rules/client_metadata.py (`validate_app()`); the write helpers
run in one transaction and record an audit event that never holds a secret or a hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from peewee import fn

from models import (
    Client,
    ClientSecret,
    TokenFamily,
    audit,
    db,
    revoke_families,
    utcnow,
)
from oauth import crypto
from oauth.constants import APP_ENDPOINTS as ENDPOINTS
from oauth.constants import (  # noqa: F401 - admin.py and cli_clients.py read them as apps.*
    CONFIDENTIAL_AUTH_METHODS,
    DEFAULT_GRANT_TYPES,
    GRANT_TYPES,
    JWKS_PATH,
    OIDC_WELL_KNOWN,
    USERINFO_PATH,
)
from oauth.constants import DEVICE_CODE_GRANT as DEVICE_CODE  # noqa: F401 - as above
from oauth.rules.client_metadata import (
    FIELDS,
    Problems,
    management_application_type,
    validate_app,
)


class AppError(ValueError):
    """Input that breaks the rules; `problems` lists every one as {"field", "detail"}."""

    def __init__(self, message: str, problems: Problems | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def app_fields(client: Client) -> dict[str, Any]:
    """The editable fields of a stored app, as validate_app() returns them."""
    fields = {field: getattr(client, field) for field in FIELDS}
    return {**fields, "application_type": management_application_type(client)}


def validate_update(client: Client, data: Any, partial: bool) -> tuple[dict, Problems]:
    """Check an update (PUT = whole app, PATCH = some fields) against the stored app."""
    if partial:
        patch, problems = validate_app(data, partial=True)
        if problems:
            return patch, problems
        data = {**app_fields(client), **patch}
    return validate_app(data)


def check_app(data: Any, partial: bool = False) -> dict[str, Any]:
    """validate_app(), raising AppError with every problem."""
    clean, problems = validate_app(data, partial)
    if problems:
        raise AppError("The application has problems.", problems)
    return clean


# -- JSON shapes ---------------------------------------------------------------------------


def timestamp(value: datetime | None) -> str | None:
    """A stored naive-UTC datetime as RFC 3339 text."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def endpoints(issuer: str) -> dict[str, str]:
    """The absolute endpoint URLs an app is configured with."""
    return {name: issuer + path for name, path in ENDPOINTS.items()}


def documents(issuer: str) -> dict[str, str]:
    """What an OIDC library asks for first: the issuer, its discovery document (OIDC
    Discovery §4), the signing keys and userinfo, as absolute URLs by id."""
    return {
        "issuer": issuer,
        "discovery": issuer + OIDC_WELL_KNOWN,
        "jwks": issuer + JWKS_PATH,
        "userinfo": issuer + USERINFO_PATH,
    }


def app_json(client: Client, issuer: str) -> dict[str, Any]:
    """The management API's view of an app (never a secret or hash)."""
    return {
        "id": client.client_id,
        "client_id": client.client_id,
        **app_fields(client),
        "registration": client.registration,
        "vetted": client.vetted,
        "created_at": timestamp(client.created_at),
        "updated_at": timestamp(client.updated_at),
        "endpoints": endpoints(issuer),
    }


def secret_json(row: ClientSecret) -> dict[str, Any]:
    """A stored secret as lists show it: its last six characters, never the hash."""
    return {
        "id": row.id,
        "created_at": timestamp(row.created_at),
        "last_used_at": timestamp(row.last_used_at),
        "last6": row.last6,
    }


# -- queries and writes --------------------------------------------------------------------


def find_apps(
    q: str = "", limit: int | None = 50, offset: int = 0, vetted: bool | None = None
) -> tuple[list[Client], int]:
    """Apps whose name contains `q` (any case), vetted or not (None: both), newest first:
    (page, total count)."""
    query = Client.select()
    if q:
        query = query.where(fn.lower(Client.name).contains(q.lower()))  # wildcards escaped
    if vetted is not None:
        query = query.where(Client.vetted == vetted)
    total = query.count()
    rows = list(query.order_by(Client.id.desc()).limit(limit).offset(offset))
    return rows, total


def _new_secret(client: Client, now: datetime) -> tuple[ClientSecret, str]:
    value, prefix, digest = crypto.new_client_secret()
    row = ClientSecret.create(
        client=client, prefix=prefix, secret_hash=digest, last6=value[-6:], created_at=now
    )
    return row, value


def create_client(
    clean: dict[str, Any], actor: str, ip: str = "", *, registration: str = "admin", vetted: bool
) -> tuple[Client, str | None]:
    """Store a validated app; a confidential one gets its first secret: (client, secret).

    `vetted`: an administrator created it (UI, API, CLI, mock control API); a client that
    registered itself is not, and may do less (README "Security model").
    """
    now = utcnow()
    with db.atomic():
        client = Client.create(
            client_id=crypto.new_client_id(),
            registration=registration,
            vetted=vetted,
            created_at=now,
            updated_at=now,
            **clean,
        )
        value = None
        if not client.is_public:
            _, value = _new_secret(client, now)
        changes = {field: [None, clean[field]] for field in FIELDS if field in clean}
        audit(
            actor, "app.create", "app", client.client_id, {**changes, **vetted_change(client)}, ip
        )
    return client, value


def vetted_change(client: Client) -> dict[str, list]:
    """How a new client's trust shows in its `app.create` audit event."""
    return {"vetted": [None, client.vetted], "registration": [None, client.registration]}


def vet_client(client: Client, actor: str, ip: str = "") -> bool:
    """An administrator vouches for a self-registered client (audited); False if it already was."""
    if client.vetted:
        return False
    with db.atomic():
        Client.update(vetted=True, updated_at=utcnow()).where(Client.id == client.id).execute()
        audit(actor, "app.vet", "app", client.client_id, {"vetted": [False, True]}, ip)
    client.vetted = True
    return True


def update_client(client: Client, clean: dict[str, Any], actor: str, ip: str = "") -> dict:
    """Write validated fields; returns and audits {field: [old, new]} for what changed."""
    changes = {
        field: [getattr(client, field), value]
        for field, value in clean.items()
        if getattr(client, field) != value
    }
    if not changes:
        return changes
    with db.atomic():
        for field, (_, new) in changes.items():
            setattr(client, field, new)
        client.updated_at = utcnow()
        client.save()
        audit(actor, "app.update", "app", client.client_id, changes, ip)
    return changes


def delete_client(client: Client, actor: str, ip: str = "") -> None:
    """Delete an app; foreign keys cascade to its secrets, codes, families and tokens."""
    with db.atomic():
        Client.delete().where(Client.id == client.id).execute()
        audit(actor, "app.delete", "app", client.client_id, {"name": [client.name, None]}, ip)


def create_secret(client: Client, actor: str, ip: str = "") -> tuple[ClientSecret, str]:
    """A new secret for a confidential app: (row, plaintext shown this once)."""
    if client.is_public:
        raise AppError("Public clients have no secret.")
    with db.atomic():
        row, value = _new_secret(client, utcnow())
        audit(actor, "secret.create", "app", client.client_id, {"secret": [None, row.last6]}, ip)
    return row, value


def live_grants_of_secret(row: ClientSecret) -> int:
    """How many live token families (a grant's access and refresh tokens) used this secret:
    what stops working when it is deleted."""
    return (
        TokenFamily.select()
        .where(
            TokenFamily.client_secret == row,
            TokenFamily.revoked_at.is_null(),
            TokenFamily.expires_at > utcnow(),
        )
        .count()
    )


def delete_secret(row: ClientSecret, actor: str, ip: str = "") -> None:
    """Delete a secret and revoke every token minted with it (their families cascade away)."""
    client_id = row.client.client_id
    with db.atomic("IMMEDIATE"):
        family_ids = [
            f.id for f in TokenFamily.select(TokenFamily.id).where(TokenFamily.client_secret == row)
        ]
        revoke_families(family_ids)
        ClientSecret.delete().where(ClientSecret.id == row.id).execute()
        audit(actor, "secret.delete", "app", client_id, {"secret": [row.last6, None]}, ip)
