"""Discovery: RFC 8414 and OIDC metadata, RFC 9728 protected resource metadata, JWKS.

Every document is public and cacheable (`Cache-Control: public, max-age=300`, an ETag, 304 on
a matching If-None-Match) and readable from any origin (`Access-Control-Allow-Origin: *`, never
with credentials; set with all CORS in oauth/ops/hardening.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, request

from models import RESOURCE_VERSION_SQL, Resource, cache_versions
from oauth import keys
from oauth.constants import (
    AS_WELL_KNOWN,
    AUTH_METHODS,
    AUTHORIZE_PATH,
    CODE_CHALLENGE_METHODS,
    CONFIDENTIAL_AUTH_METHODS,
    DEVICE_AUTHORIZATION_PATH,
    END_SESSION_PATH,
    GRANT_TYPES,
    INTROSPECTION_PATH,
    JWKS_PATH,
    OIDC_WELL_KNOWN,
    PRM_WELL_KNOWN,
    REGISTRATION_PATH,
    RESPONSE_MODES,
    RESPONSE_TYPES,
    REVOCATION_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from oauth.errors import OAuthError, json_error
from oauth.rules.authorization_request import PROMPTS
from oauth.rules.resource import is_builtin_api
from oauth.rules.scope import BUILTIN_API_SCOPES, known_scopes

bp = Blueprint("metadata", __name__)

CACHE_CONTROL = "public, max-age=300"
DOCUMENTS = "gatehouse.discovery"  # app.extensions: (resource version, {key: (body, ETag)})
METADATA = "metadata"  # the key of the authorization server metadata in DOCUMENTS
CLAIMS = [
    *("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash"),
    *("name", "preferred_username", "updated_at", "email", "email_verified"),
]


def build_metadata(issuer: str, registration: bool, scopes: list[str]) -> dict[str, Any]:
    """The authorization server metadata (RFC 8414 §2, OIDC Discovery §3), one dict for both."""
    doc: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "revocation_endpoint": issuer + REVOCATION_PATH,
        "introspection_endpoint": issuer + INTROSPECTION_PATH,
        "device_authorization_endpoint": issuer + DEVICE_AUTHORIZATION_PATH,
        "end_session_endpoint": issuer + END_SESSION_PATH,
    }
    if registration:
        doc["registration_endpoint"] = issuer + REGISTRATION_PATH
    doc.update(
        scopes_supported=sorted(scopes),
        response_types_supported=list(RESPONSE_TYPES),
        response_modes_supported=list(RESPONSE_MODES),
        grant_types_supported=list(GRANT_TYPES),
        code_challenge_methods_supported=list(CODE_CHALLENGE_METHODS),
        token_endpoint_auth_methods_supported=list(AUTH_METHODS),
        revocation_endpoint_auth_methods_supported=list(AUTH_METHODS),
        # Only confidential clients may introspect (DESIGN.md), so no "none" here.
        introspection_endpoint_auth_methods_supported=list(CONFIDENTIAL_AUTH_METHODS),
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=list(keys.ALGS),
        claims_supported=CLAIMS,
        claims_parameter_supported=False,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,  # OIDC Discovery §3: the default is true
        prompt_values_supported=sorted(PROMPTS),  # every value /oauth2/authorize accepts
        authorization_response_iss_parameter_supported=True,  # RFC 9207 §3
        # GATEHOUSE_REGISTRATION=off turns off both ways a client can register itself.
        client_id_metadata_document_supported=registration,
    )
    return doc


def current_document(app: Flask, key: str) -> tuple[bytes, str] | None:
    """Document `key` and its ETag as this worker built them, if they are still current (one
    counter read); None when only `_cached` can tell (it may have to build it)."""
    cache = app.extensions.get(DOCUMENTS)
    if cache is None or cache[0] != cache_versions(RESOURCE_VERSION_SQL)[0]:
        return None
    return cache[1].get(key)


def _cached(key: str, build: Any) -> tuple[bytes, str] | None:
    """This worker's serialised document `key` and its ETag, from `build()` (a dict or None)
    when the resources changed since it was last built.

    Everything the documents read from the database is the few resource rows (registered by
    administrators): a counter that triggers bump with any change to them (migrations.sql
    block 10) says whether they changed, so a resource added, changed or deleted by any
    process (page, API, CLI) shows in the very next response. Exact, with no time-to-live.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    (version,) = cache_versions(RESOURCE_VERSION_SQL)
    cache = app.extensions.get(DOCUMENTS)
    if cache is None or cache[0] != version:
        cache = app.extensions[DOCUMENTS] = (version, {})
    documents: dict[str, tuple[bytes, str]] = cache[1]
    if key not in documents:
        # `version` was read first: a change while building makes the next request rebuild.
        doc = build()
        if doc is None:
            return None
        body = json.dumps(doc, indent=None, separators=(",", ":")).encode("utf-8") + b"\n"
        documents[key] = (body, etag_of(body))
    return documents[key]


def etag_of(body: bytes) -> str:
    """A strong entity tag for `body` (RFC 9110 §8.8.3)."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def cache_headers(etag: str) -> list[tuple[str, str]]:
    """Every discovery document's and the JWKS's validator and caching (RFC 8414 §3)."""
    return [("ETag", f'"{etag}"'), ("Cache-Control", CACHE_CONTROL)]


def json_document(body: bytes, etag: str) -> Response:
    """`body` as JSON with its ETag, or 304 when the client has it (RFC 9110 §13.1.2).

    Cacheable (RFC 8414 §3): `Cache-Control` is set here, with the other headers in one list;
    CORS for this blueprint is in oauth/ops/hardening.py.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    cached = "HTTP_IF_NONE_MATCH" in req.environ and req.if_none_match.contains(etag)
    headers = cache_headers(etag)
    if cached:
        return Response(status=304, headers=headers)
    return Response(body, headers=headers, content_type="application/json")


def _build_metadata() -> dict[str, Any]:
    cfg = current_app.config
    return build_metadata(cfg["ISSUER"], cfg["REGISTRATION"] != "off", list(known_scopes()))


@functools.lru_cache(maxsize=8)
def path_of(issuer: str) -> str:
    """The issuer's path ("" for most), where RFC 8414 §3.1 puts its metadata."""
    return urlsplit(issuer).path


def _issuer_path() -> str:
    return path_of(current_app.config["ISSUER"])


def _called_path() -> str:
    """The path the client called, including any mount point (SCRIPT_NAME)."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    return req.script_root + req.path


def _metadata_response() -> Response:
    body, etag = _cached(METADATA, _build_metadata)  # type: ignore[misc]
    return json_document(body, etag)


@bp.errorhandler(404)
def _not_found(exc: Exception):
    # JSON even under an issuer path prefix, where the app-wide handler would render HTML.
    return json_error(OAuthError("not_found", getattr(exc, "description", None), 404))


@bp.route(AS_WELL_KNOWN, methods=["GET"])
@bp.route(f"{AS_WELL_KNOWN}/<path:suffix>", methods=["GET"])
def authorization_server(suffix: str | None = None):
    """RFC 8414 §3.1: the issuer's path, if any, is inserted after the well-known part."""
    if _called_path() != AS_WELL_KNOWN + _issuer_path():
        abort(404, "No authorization server with that issuer here.")
    return _metadata_response()


@bp.route(OIDC_WELL_KNOWN, methods=["GET"])
@bp.route(f"{OIDC_WELL_KNOWN}/<path:suffix>", methods=["GET"])
@bp.route(f"/<path:prefix>{OIDC_WELL_KNOWN}", methods=["GET"])
def openid_configuration(suffix: str | None = None, prefix: str | None = None):
    """OIDC Discovery §4 (issuer path + well-known) and the RFC 8414 §5 inserted form."""
    path = _issuer_path()
    if _called_path() not in (path + OIDC_WELL_KNOWN, OIDC_WELL_KNOWN + path):
        abort(404, "No OpenID provider with that issuer here.")
    return _metadata_response()


def _resource_for(called: str) -> str:
    """RFC 9728 §3.1: the resource a PRM URL names (the URL minus the well-known part)."""
    before, _, after = called.partition(PRM_WELL_KNOWN)
    parts = urlsplit(current_app.config["ISSUER"])
    return f"{parts.scheme}://{parts.netloc}{before}{after}"


def protected_resource_metadata(resource: str, issuer: str) -> dict[str, Any] | None:
    """The RFC 9728 §2 document for `resource`, or None when we don't protect it."""
    doc: dict[str, Any] = {"resource": resource, "authorization_servers": [issuer]}
    if is_builtin_api(resource, issuer):
        doc["scopes_supported"] = list(BUILTIN_API_SCOPES)
        doc["resource_name"] = "Gatehouse API"
    else:
        row = Resource.by_uri(resource)
        if row is None:
            return None
        # SEP-2207: offline_access is the AS's business, never a resource's scope to advertise
        doc["scopes_supported"] = [s for s in row.scope_list if s != "offline_access"]
        doc["resource_name"] = row.name or row.uri
    doc["bearer_methods_supported"] = ["header"]
    return doc


@bp.route(PRM_WELL_KNOWN, methods=["GET"])
@bp.route(f"{PRM_WELL_KNOWN}/<path:path>", methods=["GET"])
@bp.route(f"/<path:prefix>{PRM_WELL_KNOWN}", methods=["GET"])
def protected_resource(path: str | None = None, prefix: str | None = None):
    """RFC 9728 protected resource metadata, path-aware (its `resource` is the URL called)."""
    resource = _resource_for(_called_path())
    issuer = current_app.config["ISSUER"]
    cached = _cached(f"prm {resource}", lambda: protected_resource_metadata(resource, issuer))
    if cached is None:
        abort(404, "This server protects no resource at that URL.")
    return json_document(*cached)


# The JWK Set last served and its ETag: hashed again only when keys.jwks_body() rebuilt it.
_jwks_etag: tuple[bytes, str] = (b"", "")


def jwks_document(body: bytes) -> tuple[bytes, str]:
    """The JWK Set `body` and its ETag, hashed again only when the set changed."""
    global _jwks_etag
    if body is not _jwks_etag[0]:
        _jwks_etag = (body, etag_of(body))
    return _jwks_etag


@bp.route(JWKS_PATH, methods=["GET"])
def jwks():
    """The JWK Set (RFC 7517 §5): public signing keys only."""
    return json_document(*jwks_document(keys.jwks_body()))
