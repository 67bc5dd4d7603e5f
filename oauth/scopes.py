"""Scopes and audiences: which scopes a request may ask for, and what its token is for."""

from __future__ import annotations

from models import Client, Resource
from oauth.errors import OAuthError
from oauth.validation import canonical_uri, parse_scope, resource_problem, scope_problem

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# Scopes the built-in API (/api/v2, audience = the issuer) understands; /users/me needs profile.
BUILTIN_API_SCOPES = ("openid", "profile", "email")
DEFAULT_SCOPES = ["openid", "profile", "email"]
BUILTIN_API_PATH = "/api/v2"


def is_builtin_api(uri: str, issuer: str) -> bool:
    """Whether `uri` names the built-in API: the issuer itself, `/api/v2`, or below it."""
    api = issuer + BUILTIN_API_PATH
    return uri in (issuer, issuer + "/", api) or uri.startswith(api + "/")


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
        raise OAuthError("invalid_scope", f"Unknown scope: {unknown[0]}")
    if allowed:
        refused = [s for s in requested if s not in allowed]
        if refused:
            raise OAuthError("invalid_scope", f"This client may not request scope: {refused[0]}")
    return requested


def check_scope(client: Client, scope: str | None) -> list[str]:
    """Parse and check a request's `scope` for `client`; raises OAuthError(invalid_scope)."""
    return select_scopes(parse_scope_param(scope), known_scopes(), client.scope.split())


def parse_scope_param(scope: str | None) -> list[str]:
    """A request's `scope` as tokens; raises invalid_scope when unusable.

    RFC 6749 §5.2 names invalid_scope for a scope that is "invalid, unknown, or malformed",
    so a scope over our size limits is answered as that too, not as invalid_request.
    """
    requested = parse_scope(scope)
    if requested is None:
        raise OAuthError("invalid_scope", f"The scope parameter {scope_problem(scope or '')}.")
    return requested


def check_machine_scope(client: Client, scope: str | None) -> list[str]:
    """The scopes of a client_credentials token: never a user scope, since no user is there.

    RFC 6749 §3.3 default without `scope`: the client's allowed scopes minus the user ones,
    or none at all.
    """
    requested = parse_scope_param(scope)
    user_scopes = [s for s in requested if s in OIDC_SCOPES]
    if user_scopes:
        raise OAuthError(
            "invalid_scope", f"A client_credentials token has no user: {user_scopes[0]} is refused."
        )
    allowed = [s for s in client.scope.split() if s not in OIDC_SCOPES]
    if not requested:
        return allowed
    return select_scopes(requested, known_scopes(), client.scope.split())


def check_resource(resource: str | None, issuer: str) -> str:
    """The audience for a request's `resource` (RFC 8707 §2); the issuer when it is absent.

    Raises invalid_target for a malformed or unregistered resource.
    """
    if resource is None:
        return issuer
    problem = resource_problem(resource)
    if problem:
        raise OAuthError("invalid_target", f"The resource {problem}.")
    canonical = canonical_uri(resource)
    if is_builtin_api(canonical, issuer):  # what our RFC 9728 documents advertise
        return issuer
    row = Resource.by_uri(canonical)
    if row is None:
        raise OAuthError("invalid_target", "The resource is not known to this server.")
    return row.uri
