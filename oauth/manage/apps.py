"""Applications (OAuth clients): the rules and writes shared by the JSON API, admin UI and CLI.

`validate_app()` collects every problem at once as `[{"field", "detail"}]`; the write helpers
run in one transaction and record an audit event that never holds a secret or a hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
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
from oauth.validation import (
    MAX_REDIRECT_URIS,
    https_url_problem,
    parse_scope,
    redirect_uri_problem,
    scope_problem,
    text_problem,
)

CLIENT_TYPES = ("confidential", "public")
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_CODE)
DEFAULT_GRANT_TYPES = ["authorization_code", "refresh_token"]
MAX_NAME = 100
# Fields an app carries, in the order the JSON shows them; `homepage` is an alias of client_uri.
FIELDS = (
    "name",
    "client_type",
    "token_endpoint_auth_method",
    "redirect_uris",
    "grant_types",
    "scope",
    "logo_uri",
    "client_uri",
)
ENDPOINTS = {
    "authorization": "/oauth2/authorize",
    "token": "/oauth2/token",
    "revocation": "/oauth2/revoke",
    "introspection": "/oauth2/introspect",
    "device_authorization": "/oauth2/device_authorization",
}
TOUCH_INTERVAL = timedelta(minutes=1)

Problems = list[dict[str, str]]


class AppError(ValueError):
    """Input that breaks the rules; `problems` lists every one as {"field", "detail"}."""

    def __init__(self, message: str, problems: Problems | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


# -- validation (pure) ---------------------------------------------------------------------


def _name(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, "is required"
    value = value.strip()
    if len(value) > MAX_NAME:
        return None, f"must be at most {MAX_NAME} characters"
    problem = text_problem(value)
    if problem:
        return None, problem
    return value, None


def _string_list(value: Any) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return list(dict.fromkeys(value))  # de-duplicated, order kept


def _redirect_uris(value: Any, problems: Problems) -> list[str] | None:
    uris = _string_list(value)
    if uris is None:
        problems.append({"field": "redirect_uris", "detail": "must be a list of strings"})
        return None
    if len(uris) > MAX_REDIRECT_URIS:
        detail = f"at most {MAX_REDIRECT_URIS} redirect URIs per app"
        problems.append({"field": "redirect_uris", "detail": detail})
    for i, uri in enumerate(uris):
        problem = redirect_uri_problem(uri)
        if problem:
            problems.append({"field": f"redirect_uris[{i}]", "detail": f"{uri!r} {problem}"})
    return uris


def _grant_types(value: Any, problems: Problems) -> list[str] | None:
    grants = _string_list(value)
    if not grants:
        problems.append({"field": "grant_types", "detail": "must be a non-empty list of strings"})
        return None
    for grant in grants:
        if grant not in GRANT_TYPES:
            detail = f"{grant!r} is not supported; use one of {', '.join(GRANT_TYPES)}"
            problems.append({"field": "grant_types", "detail": detail})
    return grants


def _optional_https(field: str, value: Any, problems: Problems) -> str | None:
    if value is None or value == "":
        return None
    problem = https_url_problem(value)
    if problem:
        problems.append({"field": field, "detail": problem})
    return value.strip() if isinstance(value, str) else None


def _check_combination(clean: dict[str, Any], problems: Problems) -> None:
    """Rules between fields: auth method follows client type; public clients have no secret."""
    kind = clean.get("client_type")
    method = clean.get("token_endpoint_auth_method")
    grants = clean.get("grant_types") or []
    if kind == "public" and method not in (None, "none"):
        detail = "public clients have no secret, so it must be 'none'"
        problems.append({"field": "token_endpoint_auth_method", "detail": detail})
    if kind == "confidential" and method not in (None, *CONFIDENTIAL_AUTH_METHODS):
        detail = f"confidential clients use one of {', '.join(CONFIDENTIAL_AUTH_METHODS)}"
        problems.append({"field": "token_endpoint_auth_method", "detail": detail})
    if kind == "public" and "client_credentials" in grants:
        detail = "client_credentials needs a client secret; public clients cannot use it"
        problems.append({"field": "grant_types", "detail": detail})
    # RFC 6749 §3.1.2.2: the redirect URI must be registered for the code flow.
    if "authorization_code" in grants and clean.get("redirect_uris") == []:
        detail = "at least one redirect URI is required for authorization_code"
        problems.append({"field": "redirect_uris", "detail": detail})


def _defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """A full payload: what was sent, with defaults for what was left out."""
    full = dict(data)
    full.setdefault("client_type", "confidential")
    if full.get("token_endpoint_auth_method") in (None, ""):
        public = full["client_type"] == "public"
        full["token_endpoint_auth_method"] = "none" if public else "client_secret_basic"
    full.setdefault("redirect_uris", [])
    full.setdefault("grant_types", list(DEFAULT_GRANT_TYPES))
    full.setdefault("scope", "")
    full.setdefault("logo_uri", None)
    full.setdefault("client_uri", None)
    return full


def validate_app(data: Any, partial: bool = False) -> tuple[dict[str, Any], Problems]:
    """Check an app payload: (clean fields, every problem as {"field", "detail"}).

    `partial` (PATCH) checks only the fields present and applies no defaults; merge the result
    over the stored app and validate the whole again (`validate_update`) before writing.
    """
    if not isinstance(data, Mapping):
        return {}, [{"field": "", "detail": "the body must be a JSON object"}]
    data = dict(data)
    if "homepage" in data and "client_uri" not in data:
        data["client_uri"] = data.pop("homepage")
    if not partial:
        data = _defaults(data)
    clean: dict[str, Any] = {}
    problems: Problems = []
    if "name" in data or not partial:
        clean["name"], problem = _name(data.get("name"))
        if problem:
            problems.append({"field": "name", "detail": problem})
    if "client_type" in data:
        clean["client_type"] = data["client_type"]
        if data["client_type"] not in CLIENT_TYPES:
            problems.append({"field": "client_type", "detail": "must be confidential or public"})
    if "token_endpoint_auth_method" in data:
        clean["token_endpoint_auth_method"] = data["token_endpoint_auth_method"]
        if data["token_endpoint_auth_method"] not in (*CONFIDENTIAL_AUTH_METHODS, "none"):
            detail = "must be client_secret_basic, client_secret_post or none"
            problems.append({"field": "token_endpoint_auth_method", "detail": detail})
    if "redirect_uris" in data:
        clean["redirect_uris"] = _redirect_uris(data["redirect_uris"], problems)
    if "grant_types" in data:
        clean["grant_types"] = _grant_types(data["grant_types"], problems)
    if "scope" in data:
        data["scope"] = "" if data["scope"] is None else data["scope"]
        scopes = parse_scope(data["scope"]) if isinstance(data["scope"], str) else None
        if scopes is None:
            detail = scope_problem(data["scope"]) if isinstance(data["scope"], str) else None
            problems.append({"field": "scope", "detail": detail or "must be a string"})
        clean["scope"] = " ".join(scopes or [])
    for field in ("logo_uri", "client_uri"):
        if field in data:
            clean[field] = _optional_https(field, data[field], problems)
    _check_combination(clean, problems)
    return clean, problems


def app_fields(client: Client) -> dict[str, Any]:
    """The editable fields of a stored app, as validate_app() returns them."""
    return {field: getattr(client, field) for field in FIELDS}


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
        query = query.where(fn.instr(fn.lower(Client.name), q.lower()) > 0)
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


def touch_secret(row: ClientSecret, now: datetime | None = None) -> bool:
    """Record that a secret was used, at most once a minute (no write on every request)."""
    now = now or utcnow()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_INTERVAL:
        return False
    stale = ClientSecret.last_used_at.is_null() | (
        ClientSecret.last_used_at <= now - TOUCH_INTERVAL
    )
    written = (
        ClientSecret.update(last_used_at=now).where(ClientSecret.id == row.id, stale).execute()
    )
    row.last_used_at = now
    return bool(written)
