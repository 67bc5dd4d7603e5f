"""Failure throttling counted in SQLite, so the limits hold across every gunicorn worker.

A caller names its buckets with their limits, e.g. `[("login:user:alice", 10),
("login:ip:203.0.113.9", 50)]`: `check()` refuses while any bucket has reached its limit
within the window, `fail()` counts one failure in each bucket. Sign-in and the device-code page
share this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models import ThrottleEvent, count_recent, db, utcnow
from oauth.validation import normalize_username

WINDOW = timedelta(minutes=15)
LOGIN_USER_LIMIT = 10
LOGIN_IP_LIMIT = 50

Bucket = tuple[str, int]


class Throttled(Exception):
    """Too many recent failures; `retry_after` is the number of seconds until one expires."""

    def __init__(self, bucket: str, retry_after: int) -> None:
        super().__init__(bucket, retry_after)
        self.bucket = bucket
        self.retry_after = retry_after


def login_buckets(username: str, ip: str) -> list[Bucket]:
    """Buckets for one sign-in attempt: the (normalised) username and the caller's IP."""
    buckets: list[Bucket] = [(f"login:ip:{ip}", LOGIN_IP_LIMIT)]
    normal = normalize_username(username or "")
    if normal is not None:  # a name that can't exist only counts against the IP
        buckets.insert(0, (f"login:user:{normal}", LOGIN_USER_LIMIT))
    return buckets


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


def check(buckets: list[Bucket], window: timedelta = WINDOW, now: datetime | None = None) -> None:
    """Raise Throttled if any bucket has reached its limit within `window`."""
    now = now or utcnow()
    for bucket, limit in buckets:
        if count_recent(bucket, window, now) >= limit:
            raise Throttled(bucket, _retry_after(bucket, limit, window, now))


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
