"""Plain words for people: what scopes and audiences mean, on the consent and account pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from models import Client, Resource, User
from oauth.authz_request import AuthorizationRequest

SCOPE_WORDS = {
    "openid": "Confirm your identity",
    "profile": "See your name and username",
    "email": "See your email address",
    "offline_access": "Stay signed in (refresh tokens)",
}


def audience_name(audience: str, issuer: str) -> str:
    """A readable name for a token audience: this server's API or a registered resource."""
    if audience == issuer:
        return "Gatehouse account API"
    resource = Resource.by_uri(audience)
    return resource.name if resource is not None and resource.name else audience


def scope_words(scopes: list[str] | tuple[str, ...], audience: str, issuer: str) -> list[dict]:
    """Each scope with a plain-words description; resource scopes name their resource."""
    resources = list(Resource.select())
    words = []
    for scope in scopes:
        text = SCOPE_WORDS.get(scope)
        if text is None:
            owners = [r for r in resources if scope in r.scope_list]
            owners.sort(key=lambda r: r.uri != audience)  # prefer the requested resource
            name = audience_name(owners[0].uri, issuer) if owners else audience
            text = f"Access {name}: {scope}"
        words.append({"scope": scope, "text": text})
    return words


def host_of(uri: str) -> str:
    """The host a redirect URI sends people to (its scheme for private-use URIs)."""
    parts = urlsplit(uri)
    if parts.hostname:
        return parts.hostname + (f":{parts.port}" if parts.port else "")
    return parts.scheme + ":"


def is_unverified(client: Client) -> bool:
    """Whether no administrator created or vetted this client (it registered itself)."""
    return not client.vetted


def consent_context(req: AuthorizationRequest, client: Client, user: User, issuer: str) -> dict:
    """Everything the consent page shows (template variables)."""
    return {
        "client": client,
        "user": user,
        "unverified": is_unverified(client),
        "redirect_host": host_of(req.redirect_uri),
        "document_host": host_of(client.client_id)
        if client.registration == "metadata_document"
        else None,
        "scopes": scope_words(req.scope, req.audience, issuer),
        "audience": req.audience,
        "audience_name": audience_name(req.audience, issuer),
    }
