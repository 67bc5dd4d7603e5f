"""OAuth errors: a class per RFC error code, and the three ways to answer one.

Each class knows its wire code, its HTTP status and whether it `may_redirect`: only errors an
authorization response defines (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 8707 §2) go back
to a verified redirect URI; the rest are answered as JSON (RFC 6749 §5.2) or as a page.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, jsonify, redirect, render_template
from flask.json.provider import DefaultJSONProvider

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JSON_NO_STORE = (("Content-Type", "application/json"), *NO_STORE.items())


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the wire code, e.g. "invalid_grant".

    Subclasses fix the code (`InvalidGrant("...")`); `OAuthError(code, ...)` builds any other
    (the mock forced-error hook replays codes clients choose).
    """

    error = "server_error"
    status = 400
    may_redirect = False

    def __init__(
        self,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error, description)
        self.error = error or type(self).error
        self.description = description
        self.status = status or type(self).status
        self.headers = headers or {}

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class _Coded(OAuthError):
    """An error whose code is its class: `InvalidScope("Unknown scope: x")`."""

    def __init__(
        self,
        description: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(None, description, status, headers)


def _code(name: str, error: str, status: int = 400, may_redirect: bool = False) -> type:
    doc = f"`{error}` (HTTP {status}{', may be redirected' if may_redirect else ''})."
    attrs = {"error": error, "status": status, "may_redirect": may_redirect, "__doc__": doc}
    return type(name, (_Coded,), attrs)


# RFC 6749 §4.1.2.1 (authorization response) and §5.2 (token response).
InvalidRequest = _code("InvalidRequest", "invalid_request", may_redirect=True)
UnauthorizedClient = _code("UnauthorizedClient", "unauthorized_client", may_redirect=True)
AccessDenied = _code("AccessDenied", "access_denied", may_redirect=True)
UnsupportedResponseType = _code(
    "UnsupportedResponseType", "unsupported_response_type", may_redirect=True
)
InvalidScope = _code("InvalidScope", "invalid_scope", may_redirect=True)
ServerError = _code("ServerError", "server_error", 500, may_redirect=True)
TemporarilyUnavailable = _code(
    "TemporarilyUnavailable", "temporarily_unavailable", 503, may_redirect=True
)
InvalidGrant = _code("InvalidGrant", "invalid_grant")
UnsupportedGrantType = _code("UnsupportedGrantType", "unsupported_grant_type")
# RFC 8707 §2: a resource the server will not issue a token for.
InvalidTarget = _code("InvalidTarget", "invalid_target", may_redirect=True)
# OIDC Core §3.1.2.6 and §6.
LoginRequired = _code("LoginRequired", "login_required", may_redirect=True)
ConsentRequired = _code("ConsentRequired", "consent_required", may_redirect=True)
InteractionRequired = _code("InteractionRequired", "interaction_required", may_redirect=True)
RequestNotSupported = _code("RequestNotSupported", "request_not_supported", may_redirect=True)
RequestUriNotSupported = _code(
    "RequestUriNotSupported", "request_uri_not_supported", may_redirect=True
)
# RFC 7591 §3.2.2.
InvalidClientMetadata = _code("InvalidClientMetadata", "invalid_client_metadata")
InvalidRedirectUri = _code("InvalidRedirectUri", "invalid_redirect_uri")
# RFC 8628 §3.5: device access token polling.
AuthorizationPending = _code("AuthorizationPending", "authorization_pending")
SlowDown = _code("SlowDown", "slow_down")
ExpiredToken = _code("ExpiredToken", "expired_token")
# RFC 6750 §3.1.
InsufficientScope = _code("InsufficientScope", "insufficient_scope", 403)


class InvalidClient(_Coded):
    """401 invalid_client with a Basic challenge: RFC 7235 §3.1 wants one on every 401, and
    RFC 6749 §5.2 names the scheme the client should use. Never redirected (§4.1.2.1)."""

    error = "invalid_client"
    status = 401

    def __init__(self, description: str | None = None, status=None, headers=None) -> None:
        headers = (
            headers if headers is not None else {"WWW-Authenticate": 'Basic realm="gatehouse"'}
        )
        super().__init__(description, status, headers)


class InvalidToken(_Coded):
    """401 for a missing or wrong bearer token (RFC 6750 §3.1), with its challenge."""

    error = "invalid_token"
    status = 401

    def __init__(self, description: str | None = None, status=None, headers=None) -> None:
        challenge = (
            f'Bearer realm="gatehouse", error="invalid_token", error_description="{description}"'
        )
        super().__init__(description, status, headers or {"WWW-Authenticate": challenge})


class TooManyRequests(_Coded):
    """429 with Retry-After (RFC 6585 §4) in the RFC 6749 §5.2 error shape.

    OAuth defines no code for a rate limit (RFC 8628 `slow_down` is a polling answer of the
    token endpoint); the status and Retry-After are what clients act on.
    """

    error = "too_many_requests"
    status = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})


class UnverifiedRequest(_Coded):
    """The client or redirect URI of an authorization request could not be verified: explain on
    a page, never redirect (RFC 6749 §4.1.2.1). 429/503 (with Retry-After) when a client
    metadata document fetch must wait."""

    error = "invalid_request"

    @property
    def message(self) -> str:
        return self.description or ""


def json_error(exc: OAuthError) -> Response:
    """Error body for endpoints clients call directly (RFC 6749 §5.2), never cached."""
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    response.headers.update(NO_STORE)
    response.headers.update(exc.headers)
    return response


def answer_oauth_errors_as_json(bp: Blueprint) -> Blueprint:
    """Register the one JSON OAuthError handler on a blueprint clients call directly."""
    bp.register_error_handler(OAuthError, json_error)
    return bp


def api_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A management-API error in the {"message": ...} shape, never cached."""
    response = jsonify({"message": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def no_store(response: Response) -> Response:
    """Mark a response that carries a token or secret as never cacheable (RFC 6749 §5.1)."""
    response.headers.update(NO_STORE)
    return response


# Flask's JSON as jsonify writes it outside debug mode: sorted keys, compact, ASCII.
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=DefaultJSONProvider.default)


def json_no_store(body: dict, status: int = 200) -> Response:
    """`no_store(jsonify(body))` built in one step, the same bytes and headers: every JSON
    answer that carries a token, a secret or a user's claims (RFC 6749 §5.1: never cached)."""
    return Response(_JSON.encode(body) + "\n", status=status, headers=_JSON_NO_STORE)


def add_query(uri: str, params: dict[str, str | None]) -> str:
    """Append params to a URI's query, keeping what it already has (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def error_redirect_uri(redirect_uri: str, exc: OAuthError, state: str | None, issuer: str) -> str:
    """Where an authorization error response goes: the redirect URI with the error added."""
    params = {"error": exc.error, "error_description": exc.description, "state": state}
    params["iss"] = issuer
    return add_query(redirect_uri, params)


def redirect_error(
    redirect_uri: str, exc: OAuthError, state: str | None, issuer: str, status: int = 302
) -> Response:
    """Authorization error sent back to a verified redirect_uri (§4.1.2.1, RFC 9207 `iss`)."""
    response = redirect(error_redirect_uri(redirect_uri, exc, state, issuer), code=status)
    response.headers.update(NO_STORE)
    return response


def error_page(title: str, message: str, status: int = 400) -> tuple[str, int]:
    """A readable error page for people (never a redirect)."""
    return render_template("error.html", title=title, message=message, status=status), status


def authorization_error_page(
    title: str, message: str, status: int = 400, headers: dict[str, str] | None = None
) -> tuple:
    """An authorization or consent error shown as a page, never cached (as its redirect isn't)."""
    return *error_page(title, message, status), {**NO_STORE, **(headers or {})}
