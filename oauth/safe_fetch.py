"""Fetching a JSON document from a URL someone else chose, without SSRF (CIMD §6, MCP).

https only, no redirects followed, 5 KB, 5 s for everything (DNS, connect, TLS, headers,
body), JSON only. Every address the host resolves to must be public; we then connect to that
vetted address ourselves (no second DNS lookup to rebind) while TLS verifies the URL's host
name with SNI. Test-only knobs: an allowlist of `host`/`host:port` that may resolve to a
non-public address, and a CA file to trust instead of the system store.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from oauth.errors import OAuthError

MAX_BYTES = 5 * 1024
TIMEOUT = 5.0
DEFAULT_TTL = 300
MAX_TTL = 3600
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
# Special-use space Python 3.11's is_global still calls global: IETF protocol assignments
# (RFC 6890; its two anycast addresses are no place for a document either) and the local-use
# NAT64 prefix (RFC 8215), where a local translator may reach any private IPv4 host.
# Also IPv6 forms Python may call global: IPv4-compatible (::/96, deprecated by RFC 4291
# §2.5.5.1), site-local (fec0::/10, deprecated by RFC 3879) and IPv4-translated
# (::ffff:0:0:0/96, RFC 2765), each of which a stack may route to a private IPv4 host.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.0.0/24", "64:ff9b:1::/48", "::/96", "fec0::/10", "::ffff:0:0:0/96")
)
# Every network failure (no address, a non-public address, refused, reset, TLS, timeout) gives
# the caller this one answer: what differs would tell an attacker which ports are open.
FETCH_FAILED = "Could not fetch the client metadata document."
_executor: concurrent.futures.ThreadPoolExecutor | None = None


class FetchError(OAuthError):
    """The document could not be used; the description says why (shown, never redirected).

    Its wire code is invalid_client: the only caller, a client ID metadata document lookup,
    cannot identify the client. `host_wide`: the host could not be reached at all, so its
    other URLs would fail too.
    """

    def __init__(
        self,
        description: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
        host_wide: bool = False,
    ) -> None:
        super().__init__("invalid_client", description, status, headers)
        self.host_wide = host_wide


def fetch_failed() -> FetchError:
    return FetchError(FETCH_FAILED, host_wide=True)


def is_public_address(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `ip` is globally routable unicast: never loopback, private, link-local, shared,
    documentation, multicast or other special-use space, even wrapped in IPv6 (mapped, 6to4,
    Teredo, NAT64)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo or (None, None))[1]
        if embedded is None and addr in NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    if any(addr in net for net in NOT_PUBLIC if net.version == addr.version):
        return False
    return addr.is_global and not addr.is_multicast


def _allow_entry(entry: str) -> tuple[str, str]:
    """An allowlist entry as (host, port or ""): `host`, `host:port`, `[v6]:port` or `v6`."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest.removeprefix(":")
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, ""


def allowlisted(host: str, port: int, allowlist: str) -> bool:
    """Whether the test-only allowlist names `host` or `host:port`."""
    for entry in (e.strip().lower() for e in (allowlist or "").split(",")):
        name, entry_port = _allow_entry(entry)
        if entry and name == host.lower() and entry_port in ("", str(port)):
            return True
    return False


def max_age(cache_control: str | None) -> int:
    """Seconds to cache a document: its max-age capped at MAX_TTL, 0 for no-store/no-cache."""
    directives = [d.strip().lower() for d in (cache_control or "").split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.strip('"').isdigit():
            return min(int(value.strip('"')), MAX_TTL)
    return DEFAULT_TTL


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("out of time")
    return left


class DeadlineSSLSocket(ssl.SSLSocket):
    """A TLS socket whose reads all end by `deadline`: a server sending a byte just inside
    each read's timeout cannot keep a fetch thread past the fetch's total time."""

    deadline = float("inf")

    def recv_into(self, buffer, nbytes=0, flags=0):  # type: ignore[override]
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to one vetted IP address, with SNI and certificate checks for the URL's host."""

    def __init__(self, host: str, port: int, address: str, tls: ssl.SSLContext, deadline: float):
        super().__init__(host, port, timeout=_remaining(deadline), context=tls)
        self.address = address
        self.tls = tls
        self.deadline = deadline

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), _remaining(self.deadline))
        try:
            sock.settimeout(_remaining(self.deadline))  # the handshake, as one operation
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            self.sock.deadline = self.deadline
        except BaseException:
            sock.close()  # a failed handshake must not leak the plain socket
            raise


def _vetted_addresses(host: str, port: int, allowlist: str) -> list[str]:
    """Resolve `host`; refuse if any address is non-public (unless allowlisted)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):  # ValueError: a name IDNA cannot encode
        raise fetch_failed() from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allowlisted(host, port, allowlist) and not all(map(is_public_address, addresses)):
        raise fetch_failed()
    return addresses


def _get(url: str, allowlist: str, cafile: str | None, deadline: float, limit: int):
    """One GET of `url` on a vetted address, done by `deadline` (time.monotonic()):
    (document bytes, Cache-Control header)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    tls = ssl.create_default_context(cafile=cafile or None)
    tls.sslsocket_class = DeadlineSSLSocket
    for address in _vetted_addresses(host, port, allowlist):
        conn = response = None
        try:
            conn = PinnedHTTPSConnection(host, port, address, tls, deadline)
            conn.request("GET", parts.path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            return _read(response, limit)
        except (OSError, http.client.HTTPException):
            if time.monotonic() >= deadline:
                raise TimeoutError("out of time") from None  # no time left for another address
            continue  # try the next vetted address
        finally:
            if response is not None:
                response.close()  # the response owns the socket once the server closes
            if conn is not None:
                conn.close()
    raise fetch_failed()


def _read(response: http.client.HTTPResponse, limit: int) -> tuple[bytes, str | None]:
    """Check status and type, then read at most `limit` bytes of the body."""
    if 300 <= response.status < 400:
        raise FetchError("The URL redirects; redirects are not followed.")
    if response.status != 200:
        raise FetchError(f"The URL answered HTTP {response.status}.")
    kind = (response.getheader("Content-Type") or "").partition(";")[0].strip().lower()
    if kind != "application/json" and not re.fullmatch(r"application/[\w.-]+\+json", kind):
        raise FetchError("The document must be served as application/json.")
    length = response.getheader("Content-Length") or ""
    too_long = length.isdigit() and int(length) > limit
    body = b"" if too_long else response.read(limit + 1)
    if too_long or len(body) > limit:
        raise FetchError(f"The document is larger than {limit} bytes.")
    return body, response.getheader("Cache-Control")


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    if _executor is None:  # lazily, after gunicorn forked this worker
        _executor = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="safe-fetch")
    return _executor


def fetch_json(
    url: str,
    allowlist: str = "",
    cafile: str | None = None,
    timeout: float = TIMEOUT,
    limit: int = MAX_BYTES,
) -> tuple[dict[str, Any], int]:
    """Fetch and parse a JSON document: (JSON object, seconds it may be cached).

    `timeout` bounds everything (DNS, connect, TLS, headers, body); raises FetchError.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise FetchError("The URL must be https, with a host and no userinfo.")
    deadline = time.monotonic() + timeout
    future = _pool().submit(_get, url, allowlist, cafile, deadline, limit)
    try:
        body, cache_control = future.result(timeout=timeout)
    except (concurrent.futures.TimeoutError, TimeoutError):  # waiting, or the fetch itself
        raise fetch_failed() from None
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FetchError("The document is not valid JSON.") from None
    if not isinstance(document, dict):
        raise FetchError("The document must be a JSON object.")
    return document, max_age(cache_control)
