"""Over 250 lines: one validator with two front ends; split, one field's rule would span files.

Client metadata (RFC 7591 §2, OIDC Registration §2): the ONE validator behind the admin
pages, the management API, the CLI, dynamic registration and client ID metadata documents.

Each field has one rule and one limit (below); two front ends give two error shapes:
`validate_app()` collects every problem as `[{"field", "detail"}]` for the management API's
validations block, `check_client_metadata()` raises the first as RFC 7591 §3.2.2
`invalid_client_metadata` / `invalid_redirect_uri`. Both return `models.Client` column values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models import Client
from oauth.constants import (
    APPLICATION_TYPES,
    AUTH_METHODS,
    CLIENT_TYPES,
    CONFIDENTIAL_AUTH_METHODS,
    DEFAULT_GRANT_TYPES,
    GRANT_TYPES,
    RESPONSE_TYPES,
)
from oauth.errors import InvalidClientMetadata, InvalidRedirectUri
from oauth.keys import ALG as DEFAULT_ID_TOKEN_ALG
from oauth.keys import ALGS as ID_TOKEN_ALGS
from oauth.rules.redirect_uri import (
    MAX_REDIRECT_URIS,
    is_loopback_http,
    redirect_uri_problem,
    uses_loopback_host,
)
from oauth.rules.scope import parse_scope, scope_problem
from oauth.rules.text import text_problem
from oauth.urls import CONTROL_OR_SPACE, https_url_problem

MAX_NAME = 100
MAX_TEXT = 200
MAX_CONTACTS = 10
MAX_CONTACT = 254
MAX_GRANT_TYPES = 8
MAX_RESPONSE_TYPES = 4
DEFAULT_NAME = "Unnamed client"
URL_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
TEXT_FIELDS = ("software_id", "software_version")
MACHINE_GRANT_REFUSED = (
    "must not contain client_credentials: only clients an administrator created or vetted "
    "get tokens for themselves"
)

Problems = list[dict[str, str]]


class Found:
    """Problems found so far, in order; `redirect` marks the invalid_redirect_uri ones."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str, bool]] = []

    def add(self, field: str, detail: str, redirect: bool = False) -> None:
        self.problems.append((field, detail, redirect))

    def as_list(self) -> Problems:
        return [{"field": field, "detail": detail} for field, detail, _ in self.problems]

    def raise_first(self) -> None:
        if self.problems:
            field, detail, redirect = self.problems[0]
            error = InvalidRedirectUri if redirect else InvalidClientMetadata
            raise error(f"{field} {detail}." if field else f"{detail}.")


# -- one rule per field -----------------------------------------------------------------------


def check_text(
    found: Found,
    field: str,
    value: Any,
    limit: int = MAX_TEXT,
    *,
    missing: str = "must be a non-empty string",
) -> str | None:
    """A name or free text: a non-empty string within `limit`, no hidden characters."""
    if not isinstance(value, str) or not value.strip():
        found.add(field, missing)
        return None
    value = value.strip()
    if len(value) > limit:
        found.add(field, f"must be at most {limit} characters")
        return None
    problem = text_problem(value)
    if problem:
        found.add(field, problem)
        return None
    return value


def check_strings(found: Found, field: str, value: Any, limit: int) -> list[str] | None:
    """A JSON array of strings, at most `limit` entries, de-duplicated in order."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        found.add(field, "must be a list of strings")
        return None
    unique = list(dict.fromkeys(value))
    if len(unique) > limit:
        found.add(field, f"must have at most {limit} entries")
    return unique


def check_redirect_uris(found: Found, field: str, value: Any) -> list[str] | None:
    """Redirect-style URIs (redirect_uris, post_logout_redirect_uris): rules/redirect_uri.py."""
    uris = check_strings(found, field, value, MAX_REDIRECT_URIS)
    for i, uri in enumerate(uris or []):
        problem = redirect_uri_problem(uri)
        if problem:
            found.add(f"{field}[{i}]", f"{uri[:100]!r} {problem}", redirect=True)
    return uris


def check_application_type(found: Found, kind: Any, uris: list[str] | None) -> None:
    """The redirect URIs an application type may register (OIDC Registration §2, SEP-837).

    `native`: loopback http, private-use schemes or claimed https (RFC 8252 §7), all that
    rules/redirect_uri.py allows. `web`: https only, never on a loopback host. Not declared
    (`None`, stored as the default `web`): as native, so MCP clients that predate SEP-837 keep
    their loopback redirects.
    """
    if kind != "web":
        return
    for i, uri in enumerate(uris or []):
        if uri.partition(":")[0].lower() != "https" or uses_loopback_host(uri):
            detail = f"{uri[:100]!r} is not allowed for a web client: use https on a public host"
            found.add(f"redirect_uris[{i}]", f"{detail}, or declare application_type native", True)


def check_grant_types(found: Found, value: Any) -> list[str] | None:
    """Known grant types, at least one (a client with none could do nothing)."""
    grants = check_strings(found, "grant_types", value, MAX_GRANT_TYPES)
    if grants == []:
        found.add("grant_types", "must be a non-empty list of strings")
    for grant in grants or []:
        if grant not in GRANT_TYPES:
            detail = f"{grant[:64]!r} is not supported; use one of {', '.join(GRANT_TYPES)}"
            found.add("grant_types", detail)
    return grants


def _loopback_page(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2048 or CONTROL_OR_SPACE.search(value):
        return False
    try:
        return is_loopback_http(value)
    except ValueError:  # a malformed netloc, e.g. "http://[::1"
        return False


def check_page_url(found: Found, field: str, value: Any) -> str | None:
    """A page about the client (homepage, logo, terms, policy): https, http on loopback (a
    local development client's own page, as MCP clients running on this machine send), or
    absent."""
    if value is None or value == "":
        return None
    if _loopback_page(value):
        return value
    problem = https_url_problem(value)
    if problem:
        found.add(field, problem)
        return None
    return value.strip()


def check_scope_value(found: Found, value: Any) -> str:
    """The scopes a client may request (RFC 7591 §2 `scope`): syntax only; unknown scopes are
    kept and authorize decides (rules/scope.py)."""
    scopes = parse_scope(value) if isinstance(value, str) else None
    if scopes is None:
        found.add("scope", scope_problem(value) if isinstance(value, str) else "must be a string")
    return " ".join(scopes or [])


def check_choice(found: Found, field: str, value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        found.add(field, f"must be one of {', '.join(choices)}")
    return value


def check_contacts(found: Found, value: Any) -> list[str]:
    contacts = check_strings(found, "contacts", value, MAX_CONTACTS) or []
    for i, contact in enumerate(contacts):
        check_text(found, f"contacts[{i}]", contact, MAX_CONTACT)
    return contacts


def check_combination(found: Found, clean: Mapping[str, Any]) -> None:
    """Rules between fields: the auth method follows the client type, public clients hold no
    secret (so no client_credentials), and the code flow needs a redirect URI (§3.1.2.2)."""
    kind = clean.get("client_type")
    method = clean.get("token_endpoint_auth_method")
    grants = clean.get("grant_types") or []
    if kind == "public" and method not in (None, "none"):
        found.add(
            "token_endpoint_auth_method", "public clients have no secret, so it must be 'none'"
        )
    if kind == "confidential" and method not in (None, *CONFIDENTIAL_AUTH_METHODS):
        detail = f"confidential clients use one of {', '.join(CONFIDENTIAL_AUTH_METHODS)}"
        found.add("token_endpoint_auth_method", detail)
    if kind == "public" and "client_credentials" in grants:
        found.add(
            "grant_types", "client_credentials needs a client secret; public clients cannot use it"
        )
    if "authorization_code" in grants and clean.get("redirect_uris") == []:
        detail = "at least one redirect URI is required for authorization_code"
        found.add("redirect_uris", detail, redirect=True)


# -- the management shape: UI, JSON API, CLI -----------------------------------------------------

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
    "application_type",
    "id_token_signed_response_alg",
)


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
    full.setdefault("application_type", None)
    full.setdefault("id_token_signed_response_alg", DEFAULT_ID_TOKEN_ALG)
    return full


def validate_app(data: Any, partial: bool = False) -> tuple[dict[str, Any], Problems]:
    """Check an app payload: (clean fields, every problem as {"field", "detail"}).

    `partial` (PATCH) checks only the fields present and applies no defaults; merge the result
    over the stored app and validate the whole again (`apps.validate_update`) before writing.
    """
    if not isinstance(data, Mapping):
        return {}, [{"field": "", "detail": "the body must be a JSON object"}]
    data = dict(data)
    if "homepage" in data and "client_uri" not in data:
        data["client_uri"] = data.pop("homepage")
    if not partial:
        data = _defaults(data)
    found = Found()
    clean: dict[str, Any] = {}
    if "name" in data or not partial:
        clean["name"] = check_text(found, "name", data.get("name"), MAX_NAME, missing="is required")
    if "client_type" in data:
        clean["client_type"] = data["client_type"]
        if data["client_type"] not in CLIENT_TYPES:
            found.add("client_type", "must be confidential or public")
    if "token_endpoint_auth_method" in data:
        method = data["token_endpoint_auth_method"]
        clean["token_endpoint_auth_method"] = check_choice(
            found, "token_endpoint_auth_method", method, AUTH_METHODS
        )
    if "redirect_uris" in data:
        clean["redirect_uris"] = check_redirect_uris(found, "redirect_uris", data["redirect_uris"])
    if "grant_types" in data:
        clean["grant_types"] = check_grant_types(found, data["grant_types"])
    if "scope" in data:
        clean["scope"] = check_scope_value(found, "" if data["scope"] is None else data["scope"])
    for field in ("logo_uri", "client_uri"):
        if field in data:
            clean[field] = check_page_url(found, field, data[field])
    if "application_type" in data:
        # null or "": not declared (stored as the default web, with the native URI rules)
        clean.update(declared_application_type(found, data["application_type"] or None))
        check_application_type(found, data["application_type"], clean.get("redirect_uris"))
    if "id_token_signed_response_alg" in data:
        alg = data["id_token_signed_response_alg"]
        clean["id_token_signed_response_alg"] = check_id_token_alg(found, alg)
    check_combination(found, clean)
    return clean, found.as_list()


def check_id_token_alg(found: Found, alg: Any) -> Any:
    """OIDC Registration §2 `id_token_signed_response_alg`: one we hold a key for (never
    `none`: every id_token from the token endpoint is signed); absent means RS256."""
    return check_choice(found, "id_token_signed_response_alg", alg, ID_TOKEN_ALGS)


def declared_application_type(found: Found, kind: Any) -> dict[str, Any]:
    """The two columns for an application_type that was declared (`kind`) or not (None)."""
    if kind is not None:
        check_choice(found, "application_type", kind, APPLICATION_TYPES)
    return {"application_type": kind or "web", "application_type_declared": kind is not None}


def management_application_type(client: Client) -> str | None:
    """The management shape of a stored application_type: None when it was not declared."""
    return client.application_type if client.application_type_declared else None


# -- the RFC 7591 shape: dynamic registration and metadata documents ---------------------------


FIELD_CHECKS: dict[str, Callable[[Found, Any], Any]] = {
    "post_logout_redirect_uris": lambda f, v: check_redirect_uris(
        f, "post_logout_redirect_uris", v
    ),
    "contacts": check_contacts,
    "scope": check_scope_value,
    **{field: (lambda f, v, n=field: check_page_url(f, n, v)) for field in URL_FIELDS},
    **{field: (lambda f, v, n=field: check_text(f, n, v)) for field in TEXT_FIELDS},
}


def check_client_metadata(
    data: Any, defaults: Mapping[str, Any] | None = None, vetted: bool = False
) -> dict[str, Any]:
    """Validate registration metadata; return `Client` column values or raise the first problem.

    Unknown members are ignored and `null` counts as absent (RFC 7591 §2). `defaults` supplies
    values for absent members (an update keeps the stored auth method). Only a `vetted` client
    (an administrator vouched for it) may hold client_credentials.
    """
    if not isinstance(data, Mapping):
        raise InvalidClientMetadata("The request body must be a JSON object.")
    data = {k: v for k, v in data.items() if v is not None}
    found = Found()
    method = data.get("token_endpoint_auth_method", (defaults or {}).get("auth_method"))
    method = check_choice(
        found, "token_endpoint_auth_method", method or AUTH_METHODS[0], AUTH_METHODS
    )
    found.raise_first()
    grants = check_grant_types(found, data.get("grant_types", ["authorization_code"])) or []
    if not vetted and "client_credentials" in grants:
        # RFC 7591 §5 leaves it to policy; like Keycloak's anonymous-registration policies, a
        # client nobody vetted acts for people only, never as itself.
        found.add("grant_types", MACHINE_GRANT_REFUSED)
    default_response = list(RESPONSE_TYPES) if "authorization_code" in grants else []
    response_types = check_strings(
        found, "response_types", data.get("response_types", default_response), MAX_RESPONSE_TYPES
    )
    found.raise_first()
    for response_type in response_types or []:
        check_choice(found, "response_types", response_type, RESPONSE_TYPES)
    if ("code" in (response_types or [])) != ("authorization_code" in grants):
        found.add("response_types", 'must be ["code"] exactly when authorization_code is used')
    if "redirect_uris" not in data and "authorization_code" in grants:
        found.add("redirect_uris", "is required", redirect=True)
    found.raise_first()
    clean: dict[str, Any] = {
        "name": check_text(found, "client_name", data["client_name"], MAX_NAME)
        if "client_name" in data
        else DEFAULT_NAME,
        "client_type": "public" if method == "none" else "confidential",
        "token_endpoint_auth_method": method,
        "redirect_uris": check_redirect_uris(found, "redirect_uris", data.get("redirect_uris", [])),
        "grant_types": grants,
        "post_logout_redirect_uris": [],
        "contacts": [],
        "scope": "",
        **declared_application_type(found, data.get("application_type")),
        "id_token_signed_response_alg": check_id_token_alg(
            found, data.get("id_token_signed_response_alg", DEFAULT_ID_TOKEN_ALG)
        ),
        **dict.fromkeys(URL_FIELDS + TEXT_FIELDS),
    }
    found.raise_first()
    check_application_type(found, data.get("application_type"), clean["redirect_uris"])
    check_combination(found, clean)
    for field, check in FIELD_CHECKS.items():
        if field in data:
            clean[field] = check(found, data[field])
    found.raise_first()
    return clean


def metadata_json(client: Client) -> dict[str, Any]:
    """The registered metadata as RFC 7591 §3.2.1 echoes it (absent values left out)."""
    doc: dict[str, Any] = {
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types),
        "response_types": list(RESPONSE_TYPES)
        if "authorization_code" in client.grant_types
        else [],
        "application_type": client.application_type,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
    }
    if client.scope:
        doc["scope"] = client.scope
    for field in ("post_logout_redirect_uris", "contacts", *URL_FIELDS, *TEXT_FIELDS):
        value = getattr(client, field)
        if value:
            doc[field] = value
    return doc
