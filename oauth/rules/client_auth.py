"""Client authentication at the token, revocation, introspection and device authorization
endpoints (RFC 6749 §2.3).

A client authenticates with the one method it registered: `client_secret_basic` (RFC 6749
§2.3.1, HTTP Basic), `client_secret_post` (the secret in the form body) or `none` (a public
client names itself with `client_id` and proves nothing; PKCE protects its codes). Failures
are counted per (client_id, address) and per address (RFC 6749 §10.10: guessing must be hard).

Clients and their secrets come from a per-process cache that any change, by any process,
invalidates before the next lookup (models.ClientCache); secrets are still compared in
constant time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

from flask import current_app, has_app_context
from werkzeug.datastructures import MultiDict

from models import (
    CLIENT_AUTH_VERSIONS_SQL,
    CachedClient,
    Client,
    ClientCache,
    ClientSecret,
    cache_versions,
    db,
    utcnow,
)
from oauth import crypto
from oauth.errors import InvalidClient, InvalidRequest, OAuthError, TooManyRequests
from oauth.params import form_param
from oauth.rules import throttle
from oauth.session import client_ip

TOUCH_INTERVAL = timedelta(minutes=1)
CACHE_KEY = "gatehouse.clients"
PASSED_KEY = "gatehouse.throttle_passed"


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(client_id, secret) from an `Authorization: Basic` header; None if not Basic.

    RFC 6749 §2.3.1: both parts are form-urlencoded before base64. Malformed → invalid_client.
    """
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidClient("The Basic credentials are not valid base64.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise InvalidClient("The Basic credentials must be client_id:client_secret.")
    return unquote_plus(client_id), unquote_plus(secret)


def check_method(client: Client, used: str) -> None:
    """The client must use exactly the method it registered, and no other."""
    registered = client.token_endpoint_auth_method
    if used == registered:
        return
    if registered == "none":
        raise InvalidClient("A public client must not send a client secret.")
    if used == "none":
        raise InvalidClient(f"This client must authenticate ({registered}).")
    raise InvalidClient(f"This client authenticates with {registered} only.")


def lookup_client(client_id: str, version: int | None = None) -> CachedClient | None:
    """The client registered as `client_id` and its secrets, from this app's cache (one per
    worker process; models.ClientCache), as of `version` if the caller has just read it.
    Outside an app (scripts, rule tests), uncached."""
    if not has_app_context():
        return CachedClient.load(client_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    extensions = app.extensions
    cache = extensions.get(CACHE_KEY)
    if cache is None:
        cache = extensions[CACHE_KEY] = ClientCache()
    return cache.lookup(client_id, version)


def cached_client(client_id: str) -> Client | None:
    """The client registered as `client_id`, from the cache: read it, never change or save it.

    As current as the database: any change to a client or a secret, by any process, is seen
    by the next lookup (the cache_version row).
    """
    entry = lookup_client(client_id)
    return entry.client if entry is not None else None


def check_secret(entry: CachedClient, secret: str) -> ClientSecret:
    """The client's secret row matching `secret`: found by prefix, compared in constant time."""
    prefix = crypto.client_secret_prefix(secret)
    row = entry.secret(prefix) if prefix else None  # None for another client's secret too
    digest = row.secret_hash if row is not None else crypto.sha256_hex("")
    ok = crypto.matches(secret, digest)  # run the comparison whether or not a row was found
    if row is None or not ok or row.client_id != entry.client.id:
        raise InvalidClient("Client authentication failed.")
    return row


def authenticate_client(
    form: MultiDict, headers: Mapping[str, str]
) -> tuple[Client, ClientSecret | None]:
    """The calling client and the secret it used (None for public clients).

    Raises invalid_client (401, `WWW-Authenticate: Basic`), invalid_request for two
    authentication mechanisms in one request (RFC 6749 §5.2), or 429 once the failures from
    the caller's address (for this client_id, or for any) reach their limit (throttle.py).
    """
    try:
        basic, malformed = parse_basic(headers.get("Authorization")), None
    except InvalidClient as exc:
        basic, malformed = None, exc  # counted as a failure below, like a wrong secret
    # The client_id the request names (Basic first): its failures are counted under it.
    claimed = basic[0] if basic is not None else form.get("client_id") or None
    buckets = throttle.client_auth_buckets(claimed, client_ip())
    client_version, passed = _cache_state()
    try:
        # Before the secret is compared: a locked guesser learns nothing.
        throttle.check(buckets, passed=passed)
    except throttle.Throttled as exc:
        description = "Too many failed client authentications from this address; retry later."
        raise TooManyRequests(description, exc.retry_after) from None
    try:
        if malformed is not None:
            raise malformed
        return _authenticate(basic, form, client_version)
    except OAuthError as exc:
        if exc.error == "invalid_client":
            throttle.fail(buckets)
        raise


def _cache_state() -> tuple[int | None, set[throttle.PassedKey] | None]:
    """This request's client_version and the throttle checks passed at its throttle_version:
    one read of the cache_version row serves both memories. (None, None) outside an app or
    inside a transaction (whose own uncommitted bumps could be rolled back)."""
    database = db.obj  # the proxy's target: one attribute lookup instead of three
    if not has_app_context() or database.in_transaction():
        return None, None
    client_version, throttle_version = cache_versions(CLIENT_AUTH_VERSIONS_SQL)
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    extensions = app.extensions
    memory = extensions.get(PASSED_KEY)
    if memory is None:
        memory = extensions[PASSED_KEY] = throttle.passed_memory()
    return client_version, memory.at(database.database, throttle_version)


def _authenticate(
    basic: tuple[str, str] | None, form: MultiDict, client_version: int | None = None
) -> tuple[Client, ClientSecret | None]:
    """Who `basic` (the parsed Basic credentials, or None) and the form say is calling."""
    body_id = form_param(form, "client_id")
    body_secret = form_param(form, "client_secret")
    if basic is not None:
        if body_secret is not None:
            raise InvalidRequest("Send the client secret in the header or the body, not both.")
        client_id, secret = basic
        if body_id is not None and body_id != client_id:
            raise InvalidClient("client_id in the body differs from the Basic credentials.")
        used = "client_secret_basic"
    else:
        client_id, secret = body_id, body_secret
        used = "client_secret_post" if secret is not None else "none"
    if client_id is None:
        raise InvalidClient("Client authentication is required (no client_id).")
    entry = lookup_client(client_id, client_version)
    if entry is None:
        raise InvalidClient("Unknown client.")
    client = entry.client
    check_method(client, used)
    if used == "none":
        return client, None
    row = check_secret(entry, secret or "")
    touch_secret(row)
    return client, row


def touch_secret(row: ClientSecret, now: datetime | None = None) -> bool:
    """Record that a secret was used, at most once a minute (no write on every request)."""
    now = now or utcnow()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_INTERVAL:
        return False
    stale = ClientSecret.last_used_at.is_null() | (
        ClientSecret.last_used_at <= now - TOUCH_INTERVAL
    )
    written = (
        ClientSecret.update(last_used_at=now).where(ClientSecret.id == row.id, stale).execute()
    )
    row.last_used_at = now
    return bool(written)
