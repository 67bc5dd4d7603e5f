"""RP-Initiated Logout 1.0 (§2-3): the id_token_hint, and where the browser may be sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from werkzeug.datastructures import MultiDict

from models import Client
from oauth import keys


class LogoutError(Exception):
    """A logout request we must not act on; shown to the person, never redirected."""


@dataclass
class LogoutRequest:
    """A checked logout request: who the hint names and where we may send the browser."""

    params: dict[str, str]
    hint_sub: str | None = None
    client: Client | None = None
    redirect_uri: str | None = None


def verify_id_token_hint(token: str, issuer: str) -> dict[str, Any]:
    """Check an id_token_hint's signature and issuer; an expired hint is fine (§2)."""
    try:
        # Whichever key signed it (RS256 or ES256, by the client's id_token_signed_response_alg)
        return keys.decode(
            token,
            issuer=issuer,
            options={"verify_exp": False, "verify_aud": False, "require": ["iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise LogoutError("The id_token_hint is not an ID token from this server.") from exc


def hint_client_id(claims: dict[str, Any]) -> str | None:
    """The client an ID token was issued to: its `aud`, or `azp` when `aud` is a list."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and claims.get("azp") in aud:
        return claims["azp"]
    return aud[0] if isinstance(aud, list) and len(aud) == 1 else None


def check_logout_request(values: MultiDict, issuer: str) -> LogoutRequest:
    """Validate a logout request (RP-Initiated Logout §2-3); raises LogoutError."""
    names = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
    params = {n: values[n] for n in names if values.get(n)}
    req = LogoutRequest(params)
    client_id = params.get("client_id")
    if "id_token_hint" in params:
        claims = verify_id_token_hint(params["id_token_hint"], issuer)
        req.hint_sub = claims["sub"]
        if client_id is not None and client_id != hint_client_id(claims):
            raise LogoutError("client_id does not match the id_token_hint.")
        client_id = hint_client_id(claims)
    if client_id is not None:
        req.client = Client.by_client_id(client_id)
    uri = params.get("post_logout_redirect_uri")
    # §2-3: redirect only to a URI registered by the client a valid id_token_hint was issued
    # to. Without a hint anyone could name any client and its URI: the URI is then ignored
    # and the person ends on our signed-out page (RFC 9700 §4.11.2, open redirectors).
    if uri is not None and req.hint_sub is not None:
        if req.client is None or uri not in req.client.post_logout_redirect_uris:  # exact (§3)
            raise LogoutError("post_logout_redirect_uri is not registered for this client.")
        req.redirect_uri = uri
    return req
