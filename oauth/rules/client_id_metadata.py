"""Over 250 lines: the document rules, the registration policy and the per-worker cache share state.

Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25).

A `client_id` that is an https URL names a JSON document describing the client. We fetch it
through the SSRF guard (oauth/safe_fetch.py) outside any database transaction, check it, and
keep the client as a `registration="metadata_document"` row keyed by the URL, refreshed on
every re-fetch, so codes and tokens can reference it; it is unvetted until an administrator
vets it.

The registration policy covers documents as it covers RFC 7591: `off` accepts none, `admin`
only those on the hosts `GATEHOUSE_CIMD_HOSTS` names, `open` any. Fetches are limited: per
caller IP (counted in SQLite, across workers), at most MAX_FETCHES at once per worker (503
beyond), and a failure is remembered for FAILURE_TTL seconds per URL (per host when the host
could not be reached) instead of being retried. Successes are cached briefly per worker
(Cache-Control max-age, capped at an hour).

Test-only config: `CIMD_ALLOWLIST` (comma-separated `host` or `host:port` that may resolve to
a non-public address) and `CIMD_CA_BUNDLE` (a CA file to trust instead of the system store).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from models import Client, audit, db, utcnow
from oauth.errors import OAuthError
from oauth.rules import throttle
from oauth.rules.client_auth import cached_client
from oauth.rules.client_metadata import check_client_metadata
from oauth.safe_fetch import FetchError as CIMDError
from oauth.safe_fetch import allowlisted, fetch_json, is_public_address, max_age
from oauth.session import client_ip
from oauth.settings import host_list

__all__ = [
    "CIMDError",
    "allowlisted",
    "client_id_url_problem",
    "fetch_document",
    "find_client",
    "is_metadata_url",
    "is_public_address",
    "max_age",
]
MAX_CACHE_ENTRIES = 256
MAX_FETCHES = 4  # concurrent fetches per worker process; each may hold a thread for 5 s
FAILURE_TTL = 30.0  # seconds a failed URL (or unreachable host) is not fetched again
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_failures: dict[str, tuple[float, str]] = {}  # "url:…" / "host:…" -> (until, description)
_cache_lock = threading.Lock()
_fetch_slots = threading.BoundedSemaphore(MAX_FETCHES)


def client_id_url_problem(url: str) -> str | None:
    """Why `url` cannot be a document client_id (CIMD §3), or None."""
    if len(url) > 2048 or _CONTROL_OR_SPACE.search(url):
        return "must be at most 2048 characters without spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https URL with a host"
    if "@" in parts.netloc or "#" in url or parts.query:
        return "must not contain userinfo, a query or a fragment"
    segments = parts.path.split("/")[1:]
    if not parts.path or parts.path == "/" or any(s in (".", "..") for s in segments):
        return "must have a path without . or .. segments"
    return None


def fetch_document(
    url: str, allowlist: str = "", cafile: str | None = None, **limits: Any
) -> tuple[dict[str, Any], int]:
    """Fetch a metadata document through the SSRF guard (oauth/safe_fetch.py): (JSON, TTL)."""
    problem = client_id_url_problem(url)
    if problem:
        raise CIMDError(f"The client_id URL {problem}.")
    return fetch_json(url, allowlist, cafile, **limits)


def is_metadata_url(client_id: str) -> bool:
    """Whether a client_id names a metadata document rather than a registered client."""
    return isinstance(client_id, str) and client_id.startswith("https://")


def check_document(document: dict[str, Any], url: str) -> dict[str, Any]:
    """CIMD §4: `client_id` equals the URL; name and redirect URIs present; no shared secret.

    Returns `Client` column values (a public client: there is no way to share a secret).
    """
    if document.get("client_id") != url:
        raise CIMDError("The document's client_id must equal its URL exactly.")
    for field in ("client_name", "redirect_uris"):
        if field not in document:
            raise CIMDError(f"The client metadata document must contain {field}.")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise CIMDError("A client metadata document must not contain a client_secret.")
    if document.get("token_endpoint_auth_method", "none") != "none":
        raise CIMDError(
            "A client metadata document client must use token_endpoint_auth_method none."
        )
    try:
        return check_client_metadata({**document, "token_endpoint_auth_method": "none"})
    except OAuthError as exc:
        raise CIMDError(f"The client metadata document is invalid: {exc.description}") from None


def trusted_hosts(setting: str) -> set[str]:
    """GATEHOUSE_CIMD_HOSTS as a set: host names separated by commas and/or whitespace."""
    return {host.lower().rstrip(".") for host in host_list(setting or "")}


def check_policy(url: str, config: Mapping[str, Any]) -> None:
    """The registration policy, applied to metadata documents as to RFC 7591."""
    policy = config["REGISTRATION"]
    if policy == "off":
        raise CIMDError(
            "This server does not accept client metadata documents (registration is off). "
            "Ask its administrator to register the application."
        )
    host = (urlsplit(url).hostname or "").rstrip(".")
    if policy == "admin" and host not in trusted_hosts(config.get("CIMD_HOSTS", "")):
        raise CIMDError(
            f"This server accepts client metadata documents only from hosts its administrator "
            f"trusts, and {host} is not one of them."
        )


def _remember(table: dict[str, tuple[float, Any]], key: str, value: tuple[float, Any]) -> None:
    """Store in a bounded per-worker table, evicting the oldest entries (call under the lock)."""
    table.pop(key, None)
    while len(table) >= MAX_CACHE_ENTRIES:
        table.pop(next(iter(table)))  # oldest first (dicts keep insertion order)
    table[key] = value


def _failure_keys(url: str) -> tuple[str, str]:
    return f"url:{url}", f"host:{urlsplit(url).hostname}"


def recent_failure(url: str, now: float) -> str | None:
    """Why `url` (or its host) failed within FAILURE_TTL, or None."""
    with _cache_lock:
        for key in _failure_keys(url):
            hit = _failures.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
    return None


def check_fetch_rate() -> None:
    """Document fetches per caller address, counted in SQLite (rules/throttle.py)."""
    try:
        throttle.reserve(throttle.cimd_fetch_buckets(client_ip()), throttle.CIMD_FETCH_WINDOW)
    except throttle.Throttled as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        raise CIMDError(
            "Too many client metadata documents fetched from your address; retry later.",
            429,
            headers,
        ) from None


def fetch_checked(url: str, allowlist: str, cafile: str | None) -> tuple[dict[str, Any], int]:
    """Fetch and check a document within this worker's limit of concurrent fetches."""
    if not _fetch_slots.acquire(blocking=False):
        raise CIMDError(
            "The server is fetching too many client metadata documents; retry shortly.",
            503,
            {"Retry-After": "5"},
        )
    try:
        document, ttl = fetch_document(url, allowlist, cafile)
        return check_document(document, url), ttl
    finally:
        _fetch_slots.release()


def load_metadata(url: str, allowlist: str = "", cafile: str | None = None) -> dict[str, Any]:
    """The checked metadata for `url`, from this worker's cache or freshly fetched.

    A recent failure is answered again without fetching; call inside a request (the fetch
    limit counts the caller's IP).
    """
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(url)
    if hit is not None and hit[0] > now:
        return hit[1]
    failure = recent_failure(url, now)
    if failure is not None:
        raise CIMDError(failure)
    check_fetch_rate()
    try:
        clean, ttl = fetch_checked(url, allowlist, cafile)
    except CIMDError as exc:
        if exc.status == 400:  # a busy or throttled answer says nothing about the URL
            url_key, host_key = _failure_keys(url)
            with _cache_lock:
                for key in (url_key, host_key) if exc.host_wide else (url_key,):
                    _remember(_failures, key, (now + FAILURE_TTL, exc.description))
        raise
    with _cache_lock:
        _cache.pop(url, None)
        if ttl > 0:
            _remember(_cache, url, (now + ttl, clean))
    return clean


def clear_cache() -> None:
    """Forget this worker's cached documents and failures."""
    with _cache_lock:
        _cache.clear()
        _failures.clear()


def upsert_client(url: str, clean: dict[str, Any]) -> Client:
    """The `metadata_document` client row for `url`, created or refreshed to match `clean`."""
    with db.atomic("IMMEDIATE"):
        row = Client.by_client_id(url)
        if row is None:
            now = utcnow()
            row = Client.create(
                client_id=url,
                registration="metadata_document",
                vetted=False,  # it describes itself; an administrator may vet it later
                created_at=now,
                updated_at=now,
                **clean,
            )
            changes = {"name": [None, row.name], "redirect_uris": [None, row.redirect_uris]}
            changes.update(vetted=[None, False], registration=[None, row.registration])
            audit("cimd", "app.create", "app", url, changes, client_ip())
            return row
        changed = {k: v for k, v in clean.items() if getattr(row, k) != v}
        if changed and row.registration == "metadata_document":
            Client.update(updated_at=utcnow(), **changed).where(Client.id == row.id).execute()
            row = Client.get_by_id(row.id)
        return row


def find_client(client_id: str) -> Client | None:
    """The client a `client_id` names: a registered row, or a fetched metadata document.

    For an https URL the document is fetched (or taken from the cache) and checked, then
    the row upserted; raises CIMDError when the document cannot be used. Call it outside
    any database transaction: the fetch must not hold the write lock.
    """
    if not is_metadata_url(client_id):
        return cached_client(client_id)
    existing = cached_client(client_id)
    if existing is not None and existing.registration != "metadata_document":
        return existing  # an administrator registered this URL as a client_id
    config = current_app.config
    check_policy(client_id, config)
    if db.in_transaction():
        raise RuntimeError("fetch client metadata documents outside database transactions")
    clean = load_metadata(client_id, config.get("CIMD_ALLOWLIST", ""), config.get("CIMD_CA_BUNDLE"))
    return upsert_client(client_id, clean)


def document_host(client: Client) -> str | None:
    """The host serving a metadata-document client's description (shown on consent)."""
    if client.registration != "metadata_document":
        return None
    return urlsplit(client.client_id).hostname
