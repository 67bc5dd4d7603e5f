"""The device authorization grant (RFC 8628), every rule of it: user codes (§6.1), creating a
device code (§3.2), the poll decision with slow_down (§3.5), the person's decision (§3.3) and
the device_code grant at the token endpoint (§3.4).

The endpoints (oauth/endpoints/device.py) only read requests and render pages.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from peewee import IntegrityError
from werkzeug.datastructures import MultiDict

from models import Client, ClientSecret, DeviceCode, UserSession, db, utcnow
from oauth import crypto, store
from oauth.constants import DEVICE_CODE_GRANT
from oauth.errors import InvalidGrant, OAuthError
from oauth.grants import issue
from oauth.params import form_param
from oauth.rules.resource import check_same_audience, resource_param

# RFC 8628 §6.1: base-20 consonants, no vowels (no words) and no look-alike digits;
# 8 characters give about 34.5 bits, enough with the wrong-code throttle (§5.1).
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
INTERVAL = 5  # seconds between polls (§3.2 default)
SLOW_DOWN_STEP = 5  # §3.5: slow_down adds 5 seconds for this and every later poll
# A poll that arrives up to this early still counts as on time: the server stamps each poll
# when it handles it, so queueing in front of a worker can bring two polls closer together.
POLL_LEEWAY = timedelta(seconds=1)

# What a poll of the token endpoint answers (RFC 8628 §3.5), besides "issue".
PENDING = "authorization_pending"
SLOW_DOWN = "slow_down"
DENIED = "access_denied"
EXPIRED = "expired_token"
USED = "invalid_grant"
ISSUE = "issue"


def new_user_code() -> str:
    """A random user code in its normalised form (8 characters, no dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))


def format_user_code(code: str) -> str:
    """The form people read and type: `XXXX-XXXX`."""
    half = USER_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_user_code(typed: str | None) -> str | None:
    """The normalised code for what a person typed, or None if it cannot be one of ours.

    §6.1: any case, with or without the dash (spaces too, as people copy them); anything
    else outside the alphabet means the code is wrong.
    """
    if typed is None or len(typed) > 32:
        return None
    code = "".join(typed.split()).replace("-", "")
    if not code.isascii():  # before upper(): "ß".upper() == "SS" would make a valid code
        return None
    code = code.upper()
    if len(code) != USER_CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def user_code_hash(code: str) -> bytes:
    """The at-rest digest of a normalised user code."""
    return crypto.sha256(code)


def poll_decision(
    status: str,
    expires_at: datetime,
    last_polled_at: datetime | None,
    interval: int,
    now: datetime,
) -> str:
    """What one poll of a device code answers (§3.5): an error code, or ISSUE.

    Used codes stay invalid_grant for good; expiry ends every other state; only a pending
    code is rate-checked, so an approved device gets its tokens on its next poll.
    """
    if status == "used":
        return USED
    if expires_at <= now:
        return EXPIRED
    if status == "denied":
        return DENIED
    if status == "approved":
        return ISSUE
    if last_polled_at is not None and now - last_polled_at < (
        timedelta(seconds=interval) - POLL_LEEWAY
    ):
        return SLOW_DOWN
    return PENDING


def next_interval(decision: str, interval: int) -> int:
    """The interval to persist after a poll: it grows by 5 s on every slow_down."""
    return interval + SLOW_DOWN_STEP if decision == SLOW_DOWN else interval


def code_problem(status: str, expires_at: datetime, now: datetime) -> str | None:
    """Why a person can no longer approve a code they entered: used, denied, expired, or None."""
    if status in ("approved", "used"):
        return "used"
    if status == "denied":
        return "denied"
    if expires_at <= now:
        return "expired"
    return None


POLL_ERRORS = {
    PENDING: "The user has not approved the request yet.",
    DENIED: "The user denied the request.",
    EXPIRED: "The device code has expired; start again.",
    USED: "The device code was already used.",
}


def create_device_code(
    client: Client, scopes: list[str], resource: str | None, audience: str
) -> tuple[str, str]:
    """Store a new pending device code; returns (device_code, normalised user_code)."""
    device_code, device_hash = crypto.new_token(crypto.DEVICE_CODE)
    now = utcnow()
    row = {
        "device_code_hash": device_hash,
        "client": client,
        "scope": " ".join(scopes),
        "resource": resource,
        "audience": audience,
        "interval": INTERVAL,
        "created_at": now,
        "expires_at": now + timedelta(seconds=int(current_app.config["DEVICE_CODE_TTL"])),
    }
    for _ in range(2):
        try:
            return device_code, _insert(row)
        except IntegrityError:  # user codes are short: a clash with a stored one, draw again
            pass
    return device_code, _insert(row)


def _insert(row: dict) -> str:
    """Insert the device code row with a fresh user code; returns the user code."""
    user_code = new_user_code()
    with db.atomic():
        DeviceCode.create(user_code_hash=user_code_hash(user_code), **row)
    return user_code


# -- the device access token request (RFC 8628 §3.4, §3.5) ----------------------------------


def find_device_code(value: str) -> DeviceCode | None:
    if not crypto.has_kind(value, crypto.DEVICE_CODE) or len(value) > 200:
        return None
    return DeviceCode.get_or_none(DeviceCode.device_code_hash == crypto.sha256(value))


def device_code(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """One poll: tokens once approved (exactly once), else the §3.5 error for its state."""
    presented = form_param(form, "device_code", required=True)
    resource = resource_param(form)
    now = utcnow()
    with db.atomic("IMMEDIATE"):  # read, decide and write the poll under the write lock
        row = find_device_code(presented)
        if row is None or row.client_id != client.id:
            raise InvalidGrant("The device code is invalid.")
        decision = poll_decision(row.status, row.expires_at, row.last_polled_at, row.interval, now)
        if decision == ISSUE:
            check_same_audience(resource, row.audience, current_app.config["ISSUER"])
            return issue_for(row, client, secret)
        interval = next_interval(decision, row.interval)
        if decision in (PENDING, SLOW_DOWN):
            (
                DeviceCode.update(last_polled_at=now, interval=interval)
                .where(DeviceCode.device_code_hash == row.device_code_hash)
                .execute()
            )
    # The poll is recorded (and committed); now answer with its error.
    if decision == SLOW_DOWN:
        raise OAuthError(decision, f"Polling too fast; wait {interval} seconds between polls.")
    raise OAuthError(decision, POLL_ERRORS[decision])


def issue_for(row: DeviceCode, client: Client, secret: ClientSecret | None) -> dict:
    """Claim an approved code (compare-and-set) and issue its tokens, inside the caller's lock."""
    claimed = store.claim_device_code(row.device_code_hash)  # one UPDATE ... RETURNING
    if claimed is None:
        raise InvalidGrant(POLL_ERRORS[USED])
    body = issue.issue(
        client,
        claimed.user,
        claimed.scope.split(),
        claimed.audience,
        DEVICE_CODE_GRANT,
        client_secret=secret,
        auth_time=claimed.auth_time,
        refresh="refresh_token" in client.grant_types,
    )
    store.link_device_code(row.device_code_hash, body.family.id)
    return body


def record_decision(row: DeviceCode, allow: bool, user_session: UserSession, now: datetime) -> bool:
    """The person's decision (§3.3), recorded once: only a pending, unexpired code can be
    approved or denied. Call inside a write transaction; False when someone decided first."""
    decided = (
        DeviceCode.update(
            status="approved" if allow else "denied",
            user=user_session.user_id,
            auth_time=user_session.auth_time,
        )
        .where(
            DeviceCode.device_code_hash == row.device_code_hash,
            DeviceCode.status == "pending",
            DeviceCode.expires_at > now,
        )
        .execute()
    )
    return bool(decided)
