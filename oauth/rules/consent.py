"""Consent (OIDC Core §3.1.2.4, §11): when to ask, what is remembered, the signed pending
request that ties a decision to the session that saw it, and the plain words people read on
the consent, device and account pages."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from models import Client, Consent, Resource, User, UserSession
from oauth.errors import UnverifiedRequest
from oauth.rules.authorization_request import AuthorizationRequest

CONSENT_MAX_AGE = 600  # seconds the consent page stays valid

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


def client_hosts(client: Client) -> list[str]:
    """Where an app sends people back to (its redirect URIs' hosts, each once): with the
    client ID, what tells two apps of the same name apart."""
    return list(dict.fromkeys(host_of(uri) for uri in client.redirect_uris))


def is_unverified(client: Client) -> bool:
    """Whether no administrator created or vetted this client (it registered itself)."""
    return not client.vetted


def consent_context(
    req: AuthorizationRequest, client: Client, user: User, issuer: str, remembered: str | None
) -> dict:
    """Everything the consent page shows (template variables).

    With a remembered consent (`remembered`, its scope), each scope says whether it is new:
    a step-up (MCP SEP-2350) asks for the union, and people should see what changes.
    """
    allowed = set((remembered or "").split())
    scopes = scope_words(req.scope, req.audience, issuer)
    if remembered is not None:
        scopes = [{**item, "new": item["scope"] not in allowed} for item in scopes]
    return {
        "client": client,
        "user": user,
        "unverified": is_unverified(client),
        "redirect_host": host_of(req.redirect_uri),
        "document_host": host_of(client.client_id)
        if client.registration == "metadata_document"
        else None,
        "scopes": scopes,
        "audience": req.audience,
        "audience_name": audience_name(req.audience, issuer),
    }


def needs_consent(req: AuthorizationRequest, remembered: str | None) -> bool:
    """Whether to show the consent page; `remembered` is the stored Consent scope, if any.

    offline_access (a refresh token) is always asked for explicitly (OIDC Core §11).
    """
    if remembered is None or "consent" in req.prompt or "offline_access" in req.scope:
        return True
    return not set(req.scope) <= set(remembered.split())


def remember_consent(
    req: AuthorizationRequest, client: Client, user_session: UserSession, now: datetime
) -> None:
    """Upsert the remembered consent: the union of every scope allowed (call inside atomic)."""
    row = Consent.get_or_none(user=user_session.user_id, client=client, audience=req.audience)
    if row is None:
        Consent.create(
            user=user_session.user_id,
            client=client,
            audience=req.audience,
            scope=" ".join(req.scope),
            created_at=now,
            updated_at=now,
        )
        return
    granted = row.scope.split()
    row.scope = " ".join(granted + [s for s in req.scope if s not in granted])
    row.updated_at = now
    row.save()


# -- consent CSRF: the pending request is signed and bound to one session ----------------------


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="consent")


def sign_pending(req: AuthorizationRequest, user_session: UserSession, secret_key: str) -> str:
    """The consent form's `pending` value: the request, bound to this session and user."""
    payload = {"req": req.to_payload(), "sid": user_session.id, "uid": user_session.user_id}
    return _serializer(secret_key).dumps(payload)


def load_pending(
    token: str, user_session: UserSession | None, secret_key: str
) -> AuthorizationRequest:
    """The signed request from the consent form, if unaltered, fresh and this session's own.

    With the form's CSRF token (oauth/csrf.py) this is what stops a cross-site page from
    submitting a decision: a pending request signed for another session is refused.
    """
    try:
        data = _serializer(secret_key).loads(token, max_age=CONSENT_MAX_AGE)
        req = AuthorizationRequest.from_payload(data["req"])
        bound_to = (data["sid"], data["uid"])
    except (BadSignature, KeyError, TypeError):
        raise UnverifiedRequest("This consent page expired or was altered.") from None
    if user_session is None or (user_session.id, user_session.user_id) != bound_to:
        raise UnverifiedRequest("This consent belongs to another sign-in.")
    return req
