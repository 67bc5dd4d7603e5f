"""OAuth error responses: JSON for clients (RFC 6749 §5.2), redirects (§4.1.2.1), HTML pages."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Response, jsonify, redirect, render_template

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the wire code, e.g. "invalid_grant"."""

    def __init__(
        self,
        error: str,
        description: str | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error, description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


def invalid_client(description: str) -> OAuthError:
    """401 invalid_client with a Basic challenge: RFC 7235 §3.1 wants one on every 401, and
    RFC 6749 §5.2 names the scheme the client should use."""
    headers = {"WWW-Authenticate": 'Basic realm="gatehouse"'}
    return OAuthError("invalid_client", description, 401, headers)


def too_many_requests(description: str, retry_after: int) -> OAuthError:
    """429 with Retry-After (RFC 6585 §4) in the RFC 6749 §5.2 error shape.

    OAuth defines no code for a rate limit (RFC 8628 `slow_down` is a polling answer of the
    token endpoint); the status and Retry-After are what clients act on.
    """
    headers = {"Retry-After": str(retry_after)}
    return OAuthError("too_many_requests", description, 429, headers)


def json_error(exc: OAuthError) -> Response:
    """Error body for endpoints clients call directly (RFC 6749 §5.2), never cached."""
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    response.headers.update(NO_STORE)
    response.headers.update(exc.headers)
    return response


def no_store(response: Response) -> Response:
    """Mark a response that carries a token or secret as never cacheable (RFC 6749 §5.1)."""
    response.headers.update(NO_STORE)
    return response


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
