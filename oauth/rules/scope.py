"""Scopes (RFC 6749 §3.3, OIDC Core §5.4, RFC 7591 §2): syntax, what a request may ask for,
what a refresh may narrow to, what a machine token may hold, what a client may register."""

from __future__ import annotations

import re
from typing import Any

from models import Client, Resource
from oauth.errors import InvalidClientMetadata, InvalidScope

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# Scopes the built-in API (/api/v2, audience = the issuer) understands; /users/me needs profile.
BUILTIN_API_SCOPES = ("openid", "profile", "email")
DEFAULT_SCOPES = ["openid", "profile", "email"]
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3
MAX_SCOPES = 64  # distinct values in one scope parameter
MAX_SCOPE_BYTES = 2048


def scope_problem(scope: str) -> str | None:
    """Why a `scope` value is unusable (RFC 6749 §3.3 syntax, our size limits), or None."""
    if len(scope.encode("utf-8", "surrogatepass")) > MAX_SCOPE_BYTES:
        return f"must be at most {MAX_SCOPE_BYTES} bytes"
    tokens = [token for token in scope.split(" ") if token]
    if not all(_SCOPE_TOKEN.match(token) for token in tokens):
        return "must be space-separated scope tokens (RFC 6749 §3.3)"
    if len(set(tokens)) > MAX_SCOPES:
        return f"must name at most {MAX_SCOPES} scopes"
    return None


def parse_scope(scope: str | None) -> list[str] | None:
    """Scope tokens in order without duplicates (RFC 6749 §3.3); None if unusable.

    De-duplicated through a dict (linear time): a list search per token cost seconds of CPU
    for thousands of values.
    """
    if scope is None:
        return []
    if scope_problem(scope) is not None:
        return None
    return list(dict.fromkeys(token for token in scope.split(" ") if token))


def parse_scope_param(scope: str | None) -> list[str]:
    """A request's `scope` as tokens; raises invalid_scope when unusable.

    RFC 6749 §5.2 names invalid_scope for a scope that is "invalid, unknown, or malformed",
    so a scope over our size limits is answered as that too, not as invalid_request.
    """
    requested = parse_scope(scope)
    if requested is None:
        raise InvalidScope(f"The scope parameter {scope_problem(scope or '')}.")
    return requested


def known_scopes() -> set[str]:
    """The OIDC scopes plus every registered resource's scopes."""
    known = set(OIDC_SCOPES)
    for resource in Resource.select(Resource.scopes):
        known.update(resource.scope_list)
    return known


def select_scopes(requested: list[str], known: set[str], allowed: list[str]) -> list[str]:
    """The scopes to grant (pure): the request, or the client's default when it asked for none.

    RFC 6749 §3.3: a request without `scope` gets a pre-defined default. Raises invalid_scope
    for a scope the server doesn't know or the client may not request.
    """
    if not requested:
        requested = list(allowed) if allowed else list(DEFAULT_SCOPES)
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise InvalidScope(f"Unknown scope: {unknown[0]}")
    if allowed:
        refused = [s for s in requested if s not in allowed]
        if refused:
            raise InvalidScope(f"This client may not request scope: {refused[0]}")
    return requested


def check_requested_scope(client: Client, scope: str | None) -> list[str]:
    """A request's `scope` for `client` (authorize, device authorization): known scopes it may
    request, its default when none were asked for (§3.3); raises invalid_scope.

    A client that registered itself (RFC 7591, a metadata document) chose its `scope` itself
    and could register again with any other, so there it bounds nothing: the person's consent
    does. MCP step-up (SEP-2350) asks for more than the scope the client first registered.
    Only an administrator's list (a vetted client) limits what may be asked.
    """
    requested = parse_scope_param(scope)
    allowed = client.scope.split()
    return select_scopes(
        requested, known_scopes(), allowed if client.vetted or not requested else []
    )


def narrow_scope(scope: str | None, granted: str) -> list[str]:
    """A refresh's scopes (RFC 6749 §6): the original ones, or a subset (never wider)."""
    requested = parse_scope_param(scope)
    allowed = granted.split()
    wider = [s for s in requested if s not in allowed]
    if wider:
        raise InvalidScope(f"Scope {wider[0]} was not granted originally.")
    return requested or allowed


def check_machine_scope(client: Client, scope: str | None) -> list[str]:
    """The scopes of a client_credentials token: never a user scope, since no user is there.

    RFC 6749 §3.3 default without `scope`: the client's allowed scopes minus the user ones,
    or none at all.
    """
    requested = parse_scope_param(scope)
    user_scopes = [s for s in requested if s in OIDC_SCOPES]
    if user_scopes:
        raise InvalidScope(f"A client_credentials token has no user: {user_scopes[0]} is refused.")
    allowed = [s for s in client.scope.split() if s not in OIDC_SCOPES]
    if not requested:
        return allowed
    return select_scopes(requested, known_scopes(), client.scope.split())


def check_registered_scope(value: Any) -> str:
    """A client's registered `scope` (RFC 7591 §2): syntax only. Unknown scopes are kept;
    authorize decides later."""
    scopes = parse_scope(value) if isinstance(value, str) else None
    if scopes is None:
        detail = scope_problem(value) if isinstance(value, str) else "must be a string"
        raise InvalidClientMetadata(f"scope {detail}.")
    return " ".join(scopes)
