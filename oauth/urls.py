"""URL words shared by settings, rules and ops: the canonical form, loopback hosts, https URLs
for pages about a client, and the local `next` path after sign-in. Pure, no Flask.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

MAX_URI_BYTES = 2048
CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def host_of(netloc: str) -> str:
    """The host part of a netloc, lower-cased, brackets kept for IPv6."""
    hostport = netloc.rpartition("@")[2].lower()
    if hostport.startswith("["):
        return hostport[: hostport.find("]") + 1]
    return hostport.partition(":")[0]


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


def https_url_problem(url: str) -> str | None:
    """Why `url` is not an acceptable https URL (logo, homepage), or None."""
    if not isinstance(url, str) or len(url) > MAX_URI_BYTES:
        return "must be an https URL of at most 2048 bytes"
    if CONTROL_OR_SPACE.search(url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return "must be an https URL with a host and no userinfo"
    return None


def safe_next(target: str | None) -> str | None:
    """`target` if it is a same-origin relative path (not //evil, not /\\evil), else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or CONTROL_OR_SPACE.search(target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


_WRAP_POINT = re.compile(r"(?<=/)(?!/)|(?=[?&#=])")
_SCHEME_PART = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?://)?")


def breakable(value: object) -> Markup:
    """A URL (or any text) for a page, with <wbr> where it may wrap: after each "/" and
    before "?", "&", "#" and "=" past the scheme, never inside "https://" or a word."""
    text = "" if value is None else str(value)
    scheme = _SCHEME_PART.match(text)
    head = scheme.group(0) if scheme else ""
    parts = _WRAP_POINT.split(text[len(head) :])
    parts[0] = head + parts[0]  # the scheme stays with the host: "https://host/"
    # Browsers also wrap after "-" and "//": keep such parts (`https://my-api.example/`) whole.
    nobr = Markup('<span class="nobr">%s</span>')
    return Markup("<wbr>").join(nobr % p if "-" in p or "/" in p[:-1] else escape(p) for p in parts)
