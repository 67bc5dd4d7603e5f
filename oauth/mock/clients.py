"""Mock mode's clients and tokens: unknown clients adopted on the fly, minted test tokens.

GATEHOUSE_MOCK_ANY_CLIENT=1 registers an unknown `client_id` at /oauth2/authorize as a public
client (`registration="mock"`, unvetted) with the redirect URI it used, when that URI
passes the registration rules. Minted tokens are real: an opaque access token stored like any
other (so introspection and /api/v2/users/me accept it), or a JWT access token (RFC 9068) on
request or when the audience wants one, and an id_token signed with our keys.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import current_app
from peewee import IntegrityError

from models import Client, User, audit, db, utcnow
from oauth.grants import issue as tokens
from oauth.manage import apps
from oauth.mock.provider import MOCK_ACTOR, MockError, claims_problem, mock_on
from oauth.rules import id_token as claims
from oauth.rules import jwt_access_token
from oauth.rules.resource import resource_problem
from oauth.rules.scope import parse_scope
from oauth.urls import canonical_uri

# An adopted client_id is a plain token; URLs are client metadata documents, not ours to adopt.
_ADOPTABLE_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
DEFAULT_MINT_SCOPE = "openid profile email"
MAX_MINT_TTL = 366 * 86400


def adopt_unknown_client(params: dict[str, list[str]], ip: str = "") -> Client | None:
    """With GATEHOUSE_MOCK_ANY_CLIENT in mock mode: the new public client an unknown
    `client_id` becomes (audited), or None when nothing was adopted."""
    if not (mock_on() and current_app.config["MOCK_ANY_CLIENT"]):
        return None
    client_ids, uris = params.get("client_id") or [], params.get("redirect_uri") or []
    if len(client_ids) != 1 or len(uris) != 1 or not _ADOPTABLE_CLIENT_ID.match(client_ids[0]):
        return None
    client_id = client_ids[0]
    if Client.by_client_id(client_id) is not None:
        return None
    body = {"name": f"Mock client {client_id}", "client_type": "public", "redirect_uris": uris}
    clean, problems = apps.validate_app(body)  # the redirect URI must pass the usual rules
    if problems:
        return None
    now = utcnow()
    try:
        with db.atomic():
            client = Client.create(
                client_id=client_id,
                registration="mock",
                vetted=False,  # nobody chose it: it named itself
                created_at=now,
                updated_at=now,
                **clean,
            )
            changes = {field: [None, clean[field]] for field in ("name", "redirect_uris")}
            changes.update(apps.vetted_change(client))
            audit(MOCK_ACTOR, "app.create", "app", client_id, changes, ip)
    except IntegrityError:  # another worker adopted it first
        return None
    current_app.logger.warning("mock: adopted unknown client_id %r", client_id)
    return client


def create_client(data: Any, actor: str, ip: str) -> tuple[Client, str | None]:
    """An app from a management-API-shaped body (name defaults to "Test client")."""
    if isinstance(data, dict):
        data = {"name": "Test client", **data}
    clean, problems = apps.validate_app(data)
    if problems:
        raise MockError("Validation failed.", problems)
    return apps.create_client(clean, actor, ip, registration="mock", vetted=True)


def check_mint(data: Any, issuer: str) -> dict[str, Any]:
    """Validated fields of a mint request; every problem at once (MockError)."""
    if not isinstance(data, dict):
        raise MockError("The body must be a JSON object.")
    problems: apps.Problems = []

    def problem(field: str, detail: str) -> None:
        problems.append({"field": field, "detail": detail})

    for field in ("username", "client_id"):
        if not isinstance(data.get(field), str) or not data[field]:
            problem(field, "is required")
    client_id = data.get("client_id")
    client = Client.by_client_id(client_id) if isinstance(client_id, str) and client_id else None
    if client is None and isinstance(client_id, str) and client_id:
        problem("client_id", "no such client; create one with POST /api/v2/mock/clients")
    scope = data.get("scope", DEFAULT_MINT_SCOPE)
    scopes = parse_scope(scope) if isinstance(scope, str) else None
    if scopes is None:
        problem("scope", "must be space-separated scope tokens (RFC 6749 §3.3)")
    audience = data.get("audience", issuer)
    if not isinstance(audience, str) or resource_problem(audience):
        problem("audience", "must be an absolute URI without a fragment")
    extra = data.get("claims", {})
    if claims_problem(extra):
        problem("claims", claims_problem(extra) or "")
    ttl = data.get("expires_in", int(current_app.config["ACCESS_TOKEN_TTL"]))
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= MAX_MINT_TTL:
        problem("expires_in", f"must be an integer number of seconds, 1 to {MAX_MINT_TTL}")
    token_format = data.get("token_format")
    if token_format is not None and token_format not in jwt_access_token.FORMATS:
        problem("token_format", "must be `opaque` or `jwt` (RFC 9068); omit it for the default")
    nonce = data.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce) > 512):
        problem("nonce", "must be a string of at most 512 characters")
    if problems:
        raise MockError("Validation failed.", problems)
    return dict(
        username=data["username"],
        client=client,
        scopes=scopes,
        audience=canonical_uri(audience),
        claims=dict(extra),
        expires_in=ttl,
        nonce=nonce,
        token_format=token_format,
    )


def mint(user: User, fields: dict[str, Any], actor: str, ip: str) -> dict[str, Any]:
    """A stored access token and a signed id_token for `user`, as checked by check_mint()."""
    client, scopes, ttl = fields["client"], fields["scopes"], fields["expires_in"]
    now = utcnow()
    user.claims = {**(user.claims or {}), **fields["claims"]}  # these tokens only, not saved
    with db.atomic():
        body = tokens.issue(
            client,
            user,
            scopes,
            fields["audience"],
            "mock",
            refresh=False,
            auth_time=now,
            access_ttl=timedelta(seconds=ttl),
            token_format=fields["token_format"],
        )
        changes = {"scope": [None, " ".join(scopes)], "audience": [None, fields["audience"]]}
        audit(actor, "token.mint", "user", user.username, changes, ip)
    issuer = current_app.config["ISSUER"]
    id_token = claims.id_token(
        user,
        client.client_id,
        scopes,
        issuer,
        ttl,
        nonce=fields["nonce"],
        auth_time=now,
        access_token=body["access_token"],
        alg=client.id_token_signed_response_alg,
    )
    return {
        "access_token": body["access_token"],
        "token_type": tokens.TOKEN_TYPE,
        "expires_in": ttl,
        "scope": " ".join(scopes),
        "audience": fields["audience"],
        "id_token": id_token,
    }
