"""The developer server's perimeter: a loopback issuer answers only loopback Host names, and
mock mode answers only callers on this machine.

- DNS rebinding: a page on `rebind.attacker.example` can make its name resolve to 127.0.0.1 and
  read a loopback server's answers, but the browser still sends `Host: rebind.attacker.example`.
  So when the issuer's host is loopback, a request whose Host is neither a loopback name nor the
  issuer's host gets 421 Misdirected Request (RFC 9110 §15.5.20; the MCP specification asks
  local servers to validate Host).
- Mock mode signs anyone in without a password: a caller from another address gets 403 unless
  GATEHOUSE_MOCK_ALLOW_REMOTE=1.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, abort, request
from werkzeug.exceptions import MisdirectedRequest

from oauth.urls import is_loopback_host

HOST_CHECK = "gatehouse.host_check"  # app.extensions: the HostCheck, if the issuer is loopback
MAX_KNOWN_HOSTS = 64  # Host values remembered as accepted (any *.localhost name is one)


def init_app(app: Flask) -> None:
    """Install the checks this configuration needs (before the database is touched)."""
    issuer_host = urlsplit(app.config["ISSUER"]).hostname or ""
    if is_loopback_host(issuer_host):
        check = app.extensions[HOST_CHECK] = HostCheck(issuer_host)
        app.before_request(check)
    if app.config["MOCK"] and not app.config["MOCK_ALLOW_REMOTE"]:
        app.before_request(loopback_callers_only)


def host_name(host_header: str) -> str | None:
    """The host name in a Host header value (lower case, without the port), or None."""
    try:
        return urlsplit("//" + host_header).hostname
    except ValueError:
        return None


class HostCheck:
    """421 for a Host that is neither a loopback name nor the issuer's host.

    A server is called by a handful of Host values, so the accepted ones are remembered and
    a request costs one set lookup; refused ones are never kept (anyone can invent more).
    """

    def __init__(self, issuer_host: str) -> None:
        self.issuer_host = issuer_host
        self.accepted: set[str] = set()

    def __call__(self) -> None:
        host = request._get_current_object().host  # type: ignore[attr-defined]  # one proxy lookup
        if host in self.accepted:
            return
        name = host_name(host)
        if name is None or not (is_loopback_host(name) or name == self.issuer_host):
            raise MisdirectedRequest(
                "This server answers only for its own address (a loopback name or the "
                "issuer's host), not for the host name in this request."
            )
        if len(self.accepted) < MAX_KNOWN_HOSTS:
            self.accepted.add(host)


def is_loopback_address(address: str) -> bool:
    """Whether a peer address is loopback (127.0.0.0/8, ::1, or ::ffff:127.x.y.z)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def loopback_callers_only() -> None:
    """Mock mode: 403 for a caller that is not on this machine."""
    if not is_loopback_address(request.remote_addr or ""):
        abort(
            403,
            "Mock mode signs anyone in, so it answers only this machine. Start Gatehouse with "
            "GATEHOUSE_MOCK_ALLOW_REMOTE=1 to let other machines in.",
        )
