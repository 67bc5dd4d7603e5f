"""Pure validators shared by the views: redirect URIs, resources, scopes, usernames, `next`.

No Flask here: every rule is a small function that tests (and Hypothesis) call directly.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

MAX_REDIRECT_URI_BYTES = 2048
MAX_REDIRECT_URIS = 32
LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}
FORBIDDEN_SCHEMES = {"javascript", "data", "file", "vbscript", "about", "blob", "filesystem"}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3
MAX_SCOPES = 64  # distinct values in one scope parameter
MAX_SCOPE_BYTES = 2048
_USERNAME = re.compile(r"^[a-z0-9._-]{1,64}$")


def _host(netloc: str) -> str:
    """The host part of a netloc, lower-cased, brackets kept for IPv6."""
    hostport = netloc.rpartition("@")[2].lower()
    if hostport.startswith("["):
        return hostport[: hostport.find("]") + 1]
    return hostport.partition(":")[0]


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered as a redirect URI, or None when it can.

    https with a host; http only on loopback (RFC 8252 §7.3); private-use schemes (§7.1);
    never a fragment (RFC 6749 §3.1.2), userinfo, wildcard or a script-bearing scheme.
    """
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri.encode("utf-8", "surrogatepass")) > MAX_REDIRECT_URI_BYTES:
        return f"must be at most {MAX_REDIRECT_URI_BYTES} bytes"
    if _CONTROL_OR_SPACE.search(uri):
        return "must not contain spaces or control characters"
    scheme, sep, _ = uri.partition(":")
    if not sep or not _SCHEME.match(scheme.lower()):
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
        if parts.scheme == "http" and _host(parts.netloc) not in LOOPBACK_HOSTS:
            return "http is only allowed for loopback hosts (127.0.0.1, [::1], localhost)"
    return None


def is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and _host(parts.netloc) in LOOPBACK_HOSTS


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
    return (_host(a.netloc), a.path, a.query) == (_host(b.netloc), b.path, b.query) and (
        "@" not in b.netloc
    )


def find_redirect_uri(registered: list[str], presented: str | None) -> str | None:
    """The redirect URI to use: the presented one if it matches, the only one if omitted."""
    if presented is None:
        return registered[0] if len(registered) == 1 else None
    if any(redirect_uri_matches(r, presented) for r in registered):
        return presented
    return None


def https_url_problem(url: str) -> str | None:
    """Why `url` is not an acceptable https URL (logo, homepage), or None."""
    if not isinstance(url, str) or len(url) > MAX_REDIRECT_URI_BYTES:
        return "must be an https URL of at most 2048 bytes"
    if _CONTROL_OR_SPACE.search(url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return "must be an https URL with a host and no userinfo"
    return None


def resource_problem(uri: str) -> str | None:
    """Why `uri` is not a valid RFC 8707 §2 resource indicator, or None."""
    if not uri or len(uri) > MAX_REDIRECT_URI_BYTES or _CONTROL_OR_SPACE.search(uri):
        return "must be an absolute URI without spaces"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a valid URI"
    if not parts.scheme or not _SCHEME.match(parts.scheme.lower()):
        return "must be an absolute URI"
    if "#" in uri:
        return "must not contain a fragment"
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        return "must have a host"
    return None


def canonical_uri(uri: str) -> str:
    """Lower-case scheme and host, drop a default port (MCP: accept upper-case scheme/host)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc
    for default in ((":80", "http"), (":443", "https")):
        if scheme == default[1] and netloc.endswith(default[0]):
            netloc = netloc[: -len(default[0])]
    rest = uri[len(parts.scheme) + 1 :]
    if rest.startswith("//"):
        rest = "//" + netloc + rest[2 + len(parts.netloc) :]
    return f"{scheme}:{rest}"


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


# Unicode categories no name or free text needs, and that let text misstate itself on consent
# and admin pages, in the audit log and in terminals: controls (Cc: C0 and C1), format (Cf: bidi
# overrides, zero-width), surrogates (Cs), private use (Co), line and paragraph separators (Zl,
# Zp). Unicode TR #36 §2 and "Trojan Source" (CVE-2021-42574).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def text_problem(text: str) -> str | None:
    """Why a name or free-text value is refused (a hidden or control character), or None."""
    for ch in text:
        if unicodedata.category(ch) in HIDDEN_CATEGORIES:
            return f"must not contain control or invisible characters (U+{ord(ch):04X})"
    return None


def normalize_username(username: str) -> str | None:
    """Lower-cased username if it is 1-64 of [a-z0-9._-], else None."""
    if not isinstance(username, str):
        return None
    value = username.strip().lower()
    if value in (".", "..") or not _USERNAME.match(value):  # never a path segment trick
        return None
    return value


def safe_next(target: str | None) -> str | None:
    """`target` if it is a same-origin relative path (not //evil, not /\\evil), else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or _CONTROL_OR_SPACE.search(target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def normalize_issuer(url: str) -> str:
    """scheme://host[:port][/path] with lower-case scheme and host, no default port, no slash."""
    canonical = canonical_uri(url.strip())
    parts = urlsplit(canonical)
    if parts.query or parts.fragment or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("issuer must be an http(s) URL without query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_loopback_host(host: str) -> bool:
    """Whether a hostname is loopback (localhost or a loopback IP literal)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
