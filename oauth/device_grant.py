"""Device codes (RFC 8628): creating them, and polling them at the token endpoint.

oauth/device.py registers `device_code_grant` into `token.GRANTS` and serves the pages;
the rules themselves are pure functions in oauth/device_flow.py.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from peewee import IntegrityError
from werkzeug.datastructures import MultiDict

from models import Client, ClientSecret, DeviceCode, db, utcnow
from oauth import crypto, device_flow, token, tokens
from oauth.client_auth import form_param
from oauth.device_flow import DEVICE_GRANT
from oauth.errors import OAuthError

POLL_ERRORS = {
    device_flow.PENDING: "The user has not approved the request yet.",
    device_flow.DENIED: "The user denied the request.",
    device_flow.EXPIRED: "The device code has expired; start again.",
    device_flow.USED: "The device code was already used.",
}


def create_device_code(
    client: Client, scopes: list[str], resource: str | None, audience: str
) -> tuple[str, str]:
    """Store a new pending device code; returns (device_code, normalised user_code)."""
    device_code, device_hash = crypto.new_secret(crypto.DEVICE_CODE)
    now = utcnow()
    row = {
        "device_code_hash": device_hash,
        "client": client,
        "scope": " ".join(scopes),
        "resource": resource,
        "audience": audience,
        "interval": device_flow.INTERVAL,
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
    user_code = device_flow.new_user_code()
    with db.atomic():
        DeviceCode.create(user_code_hash=device_flow.user_code_hash(user_code), **row)
    return user_code


# -- the device access token request (RFC 8628 §3.4, §3.5) ----------------------------------


def find_device_code(value: str) -> DeviceCode | None:
    if not crypto.has_kind(value, crypto.DEVICE_CODE) or len(value) > 200:
        return None
    return DeviceCode.get_or_none(DeviceCode.device_code_hash == crypto.sha256_hex(value))


def device_code_grant(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """One poll: tokens once approved (exactly once), else the §3.5 error for its state."""
    presented = form_param(form, "device_code", required=True)
    resource = token.resource_param(form)
    now = utcnow()
    with db.atomic("IMMEDIATE"):  # read, decide and write the poll under the write lock
        row = find_device_code(presented)
        if row is None or row.client_id != client.id:
            raise token.invalid_grant("The device code is invalid.")
        decision = device_flow.poll_decision(
            row.status, row.expires_at, row.last_polled_at, row.interval, now
        )
        if decision == device_flow.ISSUE:
            token.check_same_audience(resource, row.audience, current_app.config["ISSUER"])
            return issue_for(row, client, secret)
        interval = device_flow.next_interval(decision, row.interval)
        if decision in (device_flow.PENDING, device_flow.SLOW_DOWN):
            (
                DeviceCode.update(last_polled_at=now, interval=interval)
                .where(DeviceCode.id == row.id)
                .execute()
            )
    # The poll is recorded (and committed); now answer with its error.
    if decision == device_flow.SLOW_DOWN:
        raise OAuthError(decision, f"Polling too fast; wait {interval} seconds between polls.")
    raise OAuthError(decision, POLL_ERRORS[decision])


def issue_for(row: DeviceCode, client: Client, secret: ClientSecret | None) -> dict:
    """Claim an approved code (compare-and-set) and issue its tokens, inside the caller's lock."""
    claimed = (
        DeviceCode.update(status="used")
        .where(DeviceCode.id == row.id, DeviceCode.status == "approved")
        .execute()
    )
    if claimed != 1:
        raise token.invalid_grant(POLL_ERRORS[device_flow.USED])
    body = tokens.issue(
        client,
        row.user,
        row.scope.split(),
        row.audience,
        DEVICE_GRANT,
        client_secret=secret,
        auth_time=row.auth_time,
        refresh="refresh_token" in client.grant_types,
    )
    DeviceCode.update(family=body.family).where(DeviceCode.id == row.id).execute()
    return body
