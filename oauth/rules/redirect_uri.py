"""Redirect URIs (RFC 6749 §3.1.2, §4.1.3; RFC 8252 §7; RFC 9700 §4.11.2): every rule.

What may be registered, exact matching with the loopback port exception, which URI an
authorization request uses, the token request repeating it, and when an error may be sent
back to it at all. Pure: tests and Hypothesis call these directly.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from models import AuthorizationCode, Client
from oauth.errors import InvalidGrant, UnverifiedRequest
from oauth.params import Params
from oauth.urls import CONTROL_OR_SPACE, MAX_URI_BYTES, SCHEME, host_of, is_loopback_host

MAX_REDIRECT_URI_BYTES = MAX_URI_BYTES
MAX_REDIRECT_URIS = 32
LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}
FORBIDDEN_SCHEMES = {"javascript", "data", "file", "vbscript", "about", "blob", "filesystem"}


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered as a redirect URI, or None when it can.

    https with a host; http only on loopback (RFC 8252 §7.3); private-use schemes (§7.1);
    never a fragment (RFC 6749 §3.1.2), userinfo, wildcard or a script-bearing scheme.
    """
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri.encode("utf-8", "surrogatepass")) > MAX_REDIRECT_URI_BYTES:
        return f"must be at most {MAX_REDIRECT_URI_BYTES} bytes"
    if CONTROL_OR_SPACE.search(uri):
        return "must not contain spaces or control characters"
    scheme, sep, _ = uri.partition(":")
    if not sep or not SCHEME.match(scheme.lower()):
        return "must be an absolute URI with a scheme"
    if scheme.lower() in FORBIDDEN_SCHEMES:
        return f"the {scheme.lower()}: scheme is not allowed"
    if "#" in uri:
        return "must not contain a fragment"
    if "*" in uri:
        return "must not contain a wildcard"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URI"
    if "@" in parts.netloc:
        return "must not contain userinfo"
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            return "must have a host"
        if parts.scheme == "http" and host_of(parts.netloc) not in LOOPBACK_HOSTS:
            return "http is only allowed for loopback hosts (127.0.0.1, [::1], localhost)"
    return None


def uses_loopback_host(uri: str) -> bool:
    """Whether `uri` points at this machine (any scheme): 127.0.0.1, [::1] or localhost."""
    try:
        return host_of(urlsplit(uri).netloc) in LOOPBACK_HOSTS
    except ValueError:
        return False


def is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and host_of(parts.netloc) in LOOPBACK_HOSTS


def redirect_uri_matches(registered: str, presented: str) -> bool:
    """Exact match, except a loopback http URI may use any port (RFC 8252 §7.3)."""
    if registered == presented:
        return True
    if not (is_loopback_http(registered) and is_loopback_http(presented)):
        return False
    try:
        a, b = urlsplit(registered), urlsplit(presented)
        a.port, b.port  # noqa: B018 - validate both ports
    except ValueError:
        return False
    return (host_of(a.netloc), a.path, a.query) == (host_of(b.netloc), b.path, b.query) and (
        "@" not in b.netloc
    )


def find_redirect_uri(registered: list[str], presented: str | None) -> str | None:
    """The redirect URI to use: the presented one if it matches, the only one if omitted."""
    if presented is None:
        return registered[0] if len(registered) == 1 else None
    if any(redirect_uri_matches(r, presented) for r in registered):
        return presented
    return None


def check_redirect_uri(params: Params, client: Client) -> tuple[str, str | None]:
    """At authorize: (redirect URI to use, the one sent); a failure is a page, never a redirect.

    Exact match, loopback http any port (RFC 8252 §7.3); the only registered URI when omitted.
    """
    values = params.get("redirect_uri") or []
    if len(values) > 1:
        raise UnverifiedRequest("The redirect_uri parameter was sent more than once.")
    sent = values[0] if values else None
    used = find_redirect_uri(list(client.redirect_uris), sent)
    if used is None and sent is None:
        raise UnverifiedRequest(
            "The request must name one of this application's redirect URIs (redirect_uri)."
        )
    if used is None:
        raise UnverifiedRequest("The redirect_uri is not registered for this application.")
    return used, sent


def check_code_redirect_uri(
    code: AuthorizationCode, client: Client, redirect_uri: str | None
) -> None:
    """At the token endpoint (RFC 6749 §4.1.3 / OAuth 2.1 §4.1.3): repeat it exactly if sent.

    When authorize had none (the client's only registered URI was used), the parameter is
    optional here, and if sent it must still be one of the client's registered URIs.
    """
    if code.redirect_uri is not None:
        if redirect_uri != code.redirect_uri:
            raise InvalidGrant("redirect_uri must repeat the one sent to the authorize endpoint.")
    elif redirect_uri is not None and not any(
        redirect_uri_matches(r, redirect_uri) for r in client.redirect_uris
    ):
        raise InvalidGrant("redirect_uri is not registered for this client.")


def confirms_error_redirect(client: Client, redirect_uri: str) -> bool:
    """Whether an error before consent is shown on a page instead of redirected.

    RFC 9700 §4.11.2: anyone can register a client, so an error redirect to its https site
    would make us an open redirector. Native apps' loopback and private-use-scheme URIs
    cannot be abused that way and keep their redirect; so do vetted clients.
    """
    parts = urlsplit(redirect_uri)
    return (
        not client.vetted and parts.scheme == "https" and not is_loopback_host(parts.hostname or "")
    )
