"""Client metadata on the wire (RFC 7591 §2, OIDC Registration §2): check it, and echo it.

Shared by dynamic registration (RFC 7591/7592) and client ID metadata documents. Pure: the
checks raise OAuthError("invalid_client_metadata" | "invalid_redirect_uri") naming the field,
and return the values as `models.Client` columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from models import Client
from oauth.errors import OAuthError
from oauth.validation import (
    MAX_REDIRECT_URIS,
    https_url_problem,
    is_loopback_http,
    parse_scope,
    redirect_uri_problem,
    scope_problem,
    text_problem,
)

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_GRANT)
APPLICATION_TYPES = ("web", "native")
URL_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
TEXT_FIELDS = ("software_id", "software_version")
MAX_NAME = 100
MAX_TEXT = 200
MAX_CONTACTS = 10
DEFAULT_NAME = "Unnamed client"
MACHINE_GRANT_REFUSED = (
    "must not contain client_credentials: only clients an administrator created or vetted "
    "get tokens for themselves"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def invalid(field: str, detail: str) -> OAuthError:
    """RFC 7591 §3.2.2 invalid_client_metadata, naming the field."""
    return OAuthError("invalid_client_metadata", f"{field} {detail}.")


def _text(field: str, value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "must be a non-empty string")
    if len(value) > limit:
        raise invalid(field, f"must be at most {limit} characters")
    problem = text_problem(value)
    if problem:
        raise invalid(field, problem)
    return value.strip()


def _strings(field: str, value: Any, limit: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(field, "must be a JSON array of strings")
    if len(value) > limit:
        raise invalid(field, f"must have at most {limit} entries")
    return list(dict.fromkeys(value))  # de-duplicated, order kept


def check_uris(field: str, value: Any) -> list[str]:
    """Redirect-style URIs (redirect_uris, post_logout_redirect_uris): the foundation's rules."""
    uris = _strings(field, value, MAX_REDIRECT_URIS)
    for i, uri in enumerate(uris):
        problem = redirect_uri_problem(uri)
        if problem:
            raise OAuthError("invalid_redirect_uri", f"{field}[{i}] {problem}.")
    return uris


def check_url(field: str, value: Any) -> str:
    """A page about the client (homepage, logo, terms): https, or http on loopback for dev."""
    if isinstance(value, str) and is_loopback_http(value) and not _CONTROL.search(value):
        return value
    problem = https_url_problem(value)
    if problem:
        raise invalid(field, problem)
    return value


def check_contacts(value: Any) -> list[str]:
    contacts = _strings("contacts", value, MAX_CONTACTS)
    for i, contact in enumerate(contacts):
        _text(f"contacts[{i}]", contact, 254)
    return contacts


def check_scope(value: Any) -> str:
    """RFC 7591 §2 `scope`: syntax only. Unknown scopes are kept; authorize decides later."""
    scopes = parse_scope(value) if isinstance(value, str) else None
    if scopes is None:
        raise invalid(
            "scope", scope_problem(value) if isinstance(value, str) else "must be a string"
        )
    return " ".join(scopes)


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise invalid(field, f"must be one of {', '.join(choices)}")
    return value


def check_grants(grants: list[str], response_types: list[str], public: bool) -> None:
    """RFC 7591 §2.1: grant and response types agree; public clients hold no secret."""
    for grant in grants:
        check_choice("grant_types", grant, GRANT_TYPES)
    for response_type in response_types:
        check_choice("response_types", response_type, ("code",))
    if ("code" in response_types) != ("authorization_code" in grants):
        raise invalid("response_types", 'must be ["code"] exactly when authorization_code is used')
    if public and "client_credentials" in grants:
        raise invalid("grant_types", "client_credentials needs a client secret")


FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "post_logout_redirect_uris": lambda v: check_uris("post_logout_redirect_uris", v),
    "contacts": check_contacts,
    "scope": check_scope,
    "application_type": lambda v: check_choice("application_type", v, APPLICATION_TYPES),
    **{f: (lambda v, f=f: check_url(f, v)) for f in URL_FIELDS},
    **{f: (lambda v, f=f: _text(f, v)) for f in TEXT_FIELDS},
}


def check_client_metadata(
    data: Any, defaults: Mapping[str, Any] | None = None, vetted: bool = False
) -> dict[str, Any]:
    """Validate registration metadata; return `Client` column values.

    Unknown members are ignored and `null` counts as absent (RFC 7591 §2). `defaults` supplies
    values for absent members (an update keeps the stored auth method). Only a `vetted` client
    (an administrator vouched for it) may hold client_credentials.
    """
    if not isinstance(data, Mapping):
        raise invalid("The request body", "must be a JSON object")
    data = {k: v for k, v in data.items() if v is not None}
    method = data.get("token_endpoint_auth_method", (defaults or {}).get("auth_method"))
    method = check_choice("token_endpoint_auth_method", method or AUTH_METHODS[0], AUTH_METHODS)
    grants = _strings("grant_types", data.get("grant_types", ["authorization_code"]), 8)
    if not vetted and "client_credentials" in grants:
        # RFC 7591 §5 leaves it to policy; like Keycloak's anonymous-registration policies, a
        # client nobody vetted acts for people only, never as itself.
        raise invalid("grant_types", MACHINE_GRANT_REFUSED)
    default_response = ["code"] if "authorization_code" in grants else []
    response_types = _strings("response_types", data.get("response_types", default_response), 4)
    check_grants(grants, response_types, method == "none")
    if "redirect_uris" not in data and "authorization_code" in grants:
        raise OAuthError("invalid_redirect_uri", "redirect_uris is required.")
    uris = check_uris("redirect_uris", data.get("redirect_uris", []))
    if "authorization_code" in grants and not uris:
        raise OAuthError("invalid_redirect_uri", "redirect_uris must not be empty.")
    clean: dict[str, Any] = {
        "name": _text("client_name", data["client_name"], MAX_NAME)
        if "client_name" in data
        else DEFAULT_NAME,
        "client_type": "public" if method == "none" else "confidential",
        "token_endpoint_auth_method": method,
        "redirect_uris": uris,
        "grant_types": grants,
        "post_logout_redirect_uris": [],
        "contacts": [],
        "scope": "",
        "application_type": "web",
        **dict.fromkeys(URL_FIELDS + TEXT_FIELDS),
    }
    for field, check in FIELD_CHECKS.items():
        if field in data:
            clean[field] = check(data[field])
    return clean


def metadata_json(client: Client) -> dict[str, Any]:
    """The registered metadata as RFC 7591 §3.2.1 echoes it (absent values left out)."""
    doc: dict[str, Any] = {
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types),
        "response_types": ["code"] if "authorization_code" in client.grant_types else [],
        "application_type": client.application_type,
    }
    if client.scope:
        doc["scope"] = client.scope
    for field in ("post_logout_redirect_uris", "contacts", *URL_FIELDS, *TEXT_FIELDS):
        value = getattr(client, field)
        if value:
            doc[field] = value
    return doc
