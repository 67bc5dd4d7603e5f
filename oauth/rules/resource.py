"""Resource indicators (RFC 8707): a request's `resource` becomes its token's one audience.

All of it here: the indicator's syntax (§2), the built-in API and registered resources, one
resource per request, the authorize and token requests agreeing (§2.2), and a refresh never
widening the audience.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.datastructures import MultiDict

from models import Resource
from oauth.constants import BUILTIN_API_PATH
from oauth.errors import InvalidTarget
from oauth.params import Params, form_param
from oauth.urls import CONTROL_OR_SPACE, MAX_URI_BYTES, SCHEME, canonical_uri


def resource_problem(uri: str) -> str | None:
    """Why `uri` is not a valid RFC 8707 §2 resource indicator, or None."""
    if not uri or len(uri) > MAX_URI_BYTES or CONTROL_OR_SPACE.search(uri):
        return "must be an absolute URI without spaces"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a valid URI"
    if not parts.scheme or not SCHEME.match(parts.scheme.lower()):
        return "must be an absolute URI"
    if "#" in uri:
        return "must not contain a fragment"
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        return "must have a host"
    return None


def is_builtin_api(uri: str, issuer: str) -> bool:
    """Whether `uri` names the built-in API: the issuer itself, `/api/v2`, or below it."""
    api = issuer + BUILTIN_API_PATH
    return uri in (issuer, issuer + "/", api) or uri.startswith(api + "/")


def audience_for(resource: str | None, issuer: str) -> str:
    """The audience for a request's `resource` (RFC 8707 §2); the issuer when it is absent.

    Raises invalid_target for a malformed or unregistered resource.
    """
    if resource is None:
        return issuer
    problem = resource_problem(resource)
    if problem:
        raise InvalidTarget(f"The resource {problem}.")
    canonical = canonical_uri(resource)
    if is_builtin_api(canonical, issuer):  # what our RFC 9728 documents advertise
        return issuer
    row = Resource.by_uri(canonical)
    if row is None:
        raise InvalidTarget("The resource is not known to this server.")
    return row.uri


def check_request_resource(params: Params, issuer: str) -> tuple[str | None, str]:
    """At authorize: (resource as sent, audience): one resource, or the issuer (§2)."""
    values = params.get("resource") or []
    if len(values) > 1:
        raise InvalidTarget("Request one resource at a time: a token has a single audience.")
    resource = values[0] if values else None
    return resource, audience_for(resource, issuer)


def resource_param(form: MultiDict) -> str | None:
    """The token request's `resource`; tokens are for one audience at a time (RFC 8707)."""
    if len(form.getlist("resource")) > 1:
        raise InvalidTarget("Send one resource per request.")
    return form_param(form, "resource")


def check_code_resource(resource: str | None, code_resource: str | None) -> None:
    """§2.2: redeeming a code names the same resource the authorization request did."""
    if resource != code_resource:
        raise InvalidTarget("resource must be the same as at the authorize step.")


def check_same_audience(resource: str | None, audience: str, issuer: str) -> None:
    """A `resource` sent on refresh or a device poll must resolve to the grant's audience."""
    if resource is not None and audience_for(resource, issuer) != audience:
        raise InvalidTarget("The resource differs from the original grant.")
