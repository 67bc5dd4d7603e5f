"""Device authorization grant rules (RFC 8628), pure: user codes and polling decisions.

No Flask and no database here; oauth/device.py applies these rules to rows and requests.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from oauth import crypto

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
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


def user_code_hash(code: str) -> str:
    """The at-rest digest of a normalised user code."""
    return crypto.sha256_hex(code)


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
