"""Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25).

A `client_id` that is an https URL names a JSON document describing the client. We fetch it
(`oauth.cimd_fetch`) outside any database transaction, check it, and keep the client as a
`registration="metadata_document"` row keyed by the URL, refreshed on every re-fetch, so codes
and tokens can reference it. Successes are cached briefly per worker (Cache-Control max-age,
capped at an hour); failures never are.

Test-only config: `CIMD_ALLOWLIST` (comma-separated `host` or `host:port` that may resolve to
a non-public address) and `CIMD_CA_BUNDLE` (a CA file to trust instead of the system store).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from models import Client, db, utcnow
from oauth.cimd_fetch import (
    CIMDError,
    allowlisted,
    client_id_url_problem,
    fetch_document,
    is_public_address,
    max_age,
)
from oauth.client_metadata import check_client_metadata
from oauth.errors import OAuthError

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
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


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


def load_metadata(url: str, allowlist: str = "", cafile: str | None = None) -> dict[str, Any]:
    """The checked metadata for `url`, from this worker's cache or freshly fetched."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(url)
    if hit is not None and hit[0] > now:
        return hit[1]
    document, ttl = fetch_document(url, allowlist, cafile)
    clean = check_document(document, url)
    with _cache_lock:
        _cache.pop(url, None)
        if ttl > 0:
            while len(_cache) >= MAX_CACHE_ENTRIES:
                _cache.pop(next(iter(_cache)))  # oldest first (dicts keep insertion order)
            _cache[url] = (now + ttl, clean)
    return clean


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def upsert_client(url: str, clean: dict[str, Any]) -> Client:
    """The `metadata_document` client row for `url`, created or refreshed to match `clean`."""
    with db.atomic("IMMEDIATE"):
        row = Client.by_client_id(url)
        if row is None:
            now = utcnow()
            return Client.create(
                client_id=url,
                registration="metadata_document",
                created_at=now,
                updated_at=now,
                **clean,
            )
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
        return Client.by_client_id(client_id)
    existing = Client.by_client_id(client_id)
    if existing is not None and existing.registration != "metadata_document":
        return existing  # an administrator registered this URL as a client_id
    if db.in_transaction():
        raise RuntimeError("fetch client metadata documents outside database transactions")
    config = current_app.config
    clean = load_metadata(client_id, config.get("CIMD_ALLOWLIST", ""), config.get("CIMD_CA_BUNDLE"))
    return upsert_client(client_id, clean)


def document_host(client: Client) -> str | None:
    """The host serving a metadata-document client's description (shown on consent)."""
    if client.registration != "metadata_document":
        return None
    return urlsplit(client.client_id).hostname
