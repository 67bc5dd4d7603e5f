"""Abuse limits counted in SQLite, so they hold across every gunicorn worker.

A caller names its buckets with their limits, e.g. `[("login:user:alice", 100),
("login:ip:203.0.113.9", 50)]`: `check()` refuses while any bucket has reached its limit
within the window, `fail()` counts one event in each bucket. Sign-in, client authentication,
device authorization, the device-code page and registration share this module; the README's
"Abuse limits" table lists every bucket.
"""

from __future__ import annotations

import functools
import ipaddress
from datetime import datetime, timedelta

from models import ThrottleEvent, VersionMemory, db, utcnow
from oauth.rules.text import normalize_username
from oauth.store import count_recent_each

WINDOW = timedelta(minutes=15)
# Sign-in. The lock is per (username, address): a hard per-account lock would let anyone lock
# the owner out (OWASP Authentication Cheat Sheet); the per-username ceiling only slows
# guessing spread over many addresses.
LOGIN_USER_IP_LIMIT = 10
LOGIN_USER_LIMIT = 100
LOGIN_IP_LIMIT = 50
# Failed client authentication (token, revocation, introspection, device authorization): per
# (client_id, address) and per address, never per client alone, so nobody elsewhere can lock a
# client out.
CLIENT_AUTH_CLIENT_IP_LIMIT = 10
CLIENT_AUTH_IP_LIMIT = 50
# Device authorization requests (RFC 8628 §3.1) per address, successful or not: each one
# stores a device code.
DEVICE_AUTHORIZATION_IP_LIMIT = 60
# Wrong user codes on the device page (RFC 8628 §5.1), per session and per address.
WRONG_CODES_LIMIT = 10
# Dynamic client registration (RFC 7591) attempts per address, per minute.
REGISTRATION_IP_LIMIT = 20
REGISTRATION_WINDOW = timedelta(minutes=1)
# Client ID metadata document fetches per address, per minute: each one costs an outbound
# request of up to 5 s.
CIMD_FETCH_IP_LIMIT = 20
CIMD_FETCH_WINDOW = timedelta(minutes=1)
MAX_CLIENT_ID_IN_BUCKET = 255
PASSED_MAX = 10_000  # bucket sets remembered per throttle_version (passed_memory)

Bucket = tuple[str, int]
PassedKey = tuple[tuple[Bucket, ...], timedelta]  # a checked set of buckets and its window


class Throttled(Exception):
    """Too many recent failures; `retry_after` is the number of seconds until one expires."""

    def __init__(self, bucket: str, retry_after: int) -> None:
        super().__init__(bucket, retry_after)
        self.bucket = bucket
        self.retry_after = retry_after


@functools.lru_cache(maxsize=4096)  # a pure function of the text; parsing it is the cost
def address(ip: str) -> str:
    """The caller's address as counted: an IPv4 address, or the /64 an IPv6 address is in.

    One IPv6 host usually holds a whole /64 (RFC 7421), so counting single addresses would let
    it step past every per-address limit.
    """
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def login_buckets(username: str, ip: str) -> list[Bucket]:
    """Buckets for one sign-in attempt: (username, address), the username, the address."""
    where = address(ip)
    buckets: list[Bucket] = [(f"login:ip:{where}", LOGIN_IP_LIMIT)]
    normal = normalize_username(username or "")
    if normal is not None:  # a name that can't exist only counts against the address
        buckets[:0] = [
            (f"login:user-ip:{normal}|{where}", LOGIN_USER_IP_LIMIT),
            (f"login:user:{normal}", LOGIN_USER_LIMIT),
        ]
    return buckets


def client_auth_buckets(client_id: str | None, ip: str) -> list[Bucket]:
    """Buckets for failed client authentication: (client_id as sent, address), the address."""
    where = address(ip)
    buckets: list[Bucket] = [(f"client-auth:ip:{where}", CLIENT_AUTH_IP_LIMIT)]
    if client_id:
        named = client_id[:MAX_CLIENT_ID_IN_BUCKET]
        buckets.insert(0, (f"client-auth:client-ip:{named}|{where}", CLIENT_AUTH_CLIENT_IP_LIMIT))
    return buckets


def device_authorization_buckets(ip: str) -> list[Bucket]:
    """The bucket counting device authorization requests from the caller's address."""
    return [(f"device-authorization:ip:{address(ip)}", DEVICE_AUTHORIZATION_IP_LIMIT)]


def device_code_entry_buckets(session_id: int, ip: str) -> list[Bucket]:
    """Wrong device user codes count per server-side session and per address."""
    return [
        (f"device:session:{session_id}", WRONG_CODES_LIMIT),
        (f"device:ip:{address(ip)}", WRONG_CODES_LIMIT),
    ]


def registration_buckets(ip: str) -> list[Bucket]:
    """The bucket counting registration attempts from the caller's address (with
    REGISTRATION_WINDOW)."""
    return [(f"register:ip:{address(ip)}", REGISTRATION_IP_LIMIT)]


def cimd_fetch_buckets(ip: str) -> list[Bucket]:
    """The bucket counting metadata document fetches for the caller's address (with
    CIMD_FETCH_WINDOW)."""
    return [(f"cimd:ip:{address(ip)}", CIMD_FETCH_IP_LIMIT)]


def _retry_after(bucket: str, limit: int, window: timedelta, now: datetime) -> int:
    """Seconds until the bucket drops below its limit (its oldest counted events expire)."""
    recent = (
        ThrottleEvent.select(ThrottleEvent.created_at)
        .where(ThrottleEvent.bucket == bucket, ThrottleEvent.created_at > now - window)
        .order_by(ThrottleEvent.created_at.desc())
        .limit(1)
        .offset(limit - 1)
        .first()
    )
    if recent is None:
        return 1
    return max(1, int((recent.created_at + window - now).total_seconds()) + 1)


def check(
    buckets: list[Bucket],
    window: timedelta = WINDOW,
    now: datetime | None = None,
    passed: set[PassedKey] | None = None,
) -> None:
    """Raise Throttled if any bucket has reached its limit within `window`.

    With `passed` (`passed_memory().at()` the current throttle_version), buckets that passed
    before at that version pass without counting: no event was added since.
    """
    if not buckets:
        return
    key = (tuple(buckets), window)
    if passed is not None and key in passed:
        return
    now = now or utcnow()
    counts = count_recent_each([bucket for bucket, _ in buckets], window, now)
    for (bucket, limit), count in zip(buckets, counts, strict=True):
        if count >= limit:
            raise Throttled(bucket, _retry_after(bucket, limit, window, now))
    if passed is not None:
        passed.add(key)


def passed_memory() -> VersionMemory:
    """The bucket sets one process found under their limits, as of one `throttle_version`
    (`.at(database, version)`: the set to pass to `check()`).

    Triggers bump the version with every new throttle event (migrations.sql block 11), so
    while it stands still the counts of every bucket can only have fallen: a set that passed
    passes again without a count. Read the version before counting, outside a transaction
    (an uncommitted bump could be rolled back and its number reused).
    """
    return VersionMemory(set, PASSED_MAX)


def fail(
    buckets: list[Bucket], window: timedelta = WINDOW, now: datetime | None = None
) -> list[int]:
    """Count one failure in every bucket, dropping that bucket's events that no longer count.

    Returns the new events' ids (for `forgive()`).
    """
    now = now or utcnow()
    names = [bucket for bucket, _ in buckets]
    with db.atomic():
        (
            ThrottleEvent.delete()
            .where(ThrottleEvent.bucket.in_(names), ThrottleEvent.created_at <= now - window)
            .execute()
        )
        return [ThrottleEvent.create(bucket=bucket, created_at=now).id for bucket in names]


def reserve(buckets: list[Bucket], window: timedelta = WINDOW) -> list[int]:
    """check(), then count this attempt as a failure before it is judged, under one write lock.

    Attempts racing on other workers see it at once, so no more than the limit ever get past
    (counting after a slow password check let 22 of 40 concurrent guesses through a limit of
    10). `forgive()` the returned events when the attempt succeeds.
    """
    with db.atomic("IMMEDIATE"):
        check(buckets, window)
        return fail(buckets, window)


def forgive(event_ids: list[int]) -> None:
    """Uncount events recorded by `reserve()` for an attempt that turned out to be good."""
    ThrottleEvent.delete().where(ThrottleEvent.id.in_(event_ids)).execute()
