"""Reading protocol parameters: one value per parameter, and the bearer credential.

RFC 6749 §3.1 and §3.2: a parameter sent twice is invalid_request, an empty one counts as
absent. The authorization endpoint reads a dict of lists (`MultiDict.to_dict(flat=False)`),
the other endpoints the form itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import request
from werkzeug.datastructures import MultiDict

from oauth.errors import InvalidRequest

Params = Mapping[str, list[str]]

# Authorization request parameters whose meaning would be ambiguous if sent twice (RFC 6749
# §3.1). `resource` may legitimately repeat (RFC 8707 §2); rules/resource.py answers that.
PROTOCOL_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
)


def form_param(form: MultiDict, name: str, required: bool = False) -> str | None:
    """One protocol parameter: sent at most once (RFC 6749 §3.2), empty counts as absent."""
    values = form.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"The {name} parameter was sent more than once.")
    value = values[0] if values else None
    if value == "":
        value = None
    if required and value is None:
        raise InvalidRequest(f"The {name} parameter is missing.")
    return value


def first(params: Params, name: str) -> str | None:
    """The parameter's value, or None when absent."""
    values = params.get(name) or []
    return values[0] if values else None


def state_of(params: Params) -> str | None:
    """The `state` to echo: only when sent exactly once (RFC 6749 §4.1.2.1)."""
    values = params.get("state") or []
    return values[0] if len(values) == 1 else None


def check_duplicates(params: Params) -> None:
    """A protocol parameter sent twice is invalid_request (RFC 6749 §3.1)."""
    for name in PROTOCOL_PARAMS:
        if len(params.get(name) or []) > 1:
            raise InvalidRequest(f"The {name} parameter was sent more than once.")


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer` header (scheme case-insensitive, RFC 6750 §2.1)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def presented_token() -> str | None:
    """The access token from the header or a form body (RFC 6750 §2.1-2.2), never both."""
    header = bearer_token()
    body = None
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.get("access_token")
    if header and body:
        raise InvalidRequest("Send the access token in one place only.")
    return header or body
