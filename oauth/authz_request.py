"""The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2, OIDC Core §3.1.2.1).

Ordered `check_*` rules, one per function, turn the request's parameters (a dict of lists, as
`MultiDict.to_dict(flat=False)` gives) into an `AuthorizationRequest`. Until the client and its
redirect URI are verified, a rule raises `UnverifiedRequest`: shown as a page, never redirected
(RFC 6749 §4.1.2.1). After that it raises `OAuthError`, sent back to the redirect URI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from models import Client
from oauth import cimd, pkce, scopes
from oauth.errors import OAuthError
from oauth.validation import find_redirect_uri

Params = Mapping[str, list[str]]

# Parameters whose meaning would be ambiguous if sent twice (RFC 6749 §3.1). `resource` may
# legitimately repeat (RFC 8707 §2); check_resource answers that with invalid_target.
PROTOCOL_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
)
PROMPTS = {"none", "login", "consent", "select_account"}  # OIDC Core §3.1.2.1
MAX_NONCE = 512
MAX_LOGIN_HINT = 256
MAX_AGE_CAP = 10**12  # larger values mean "no limit"; keeps int() and arithmetic small


class UnverifiedRequest(Exception):
    """The client or redirect URI could not be verified: explain on a page, never redirect."""

    def __init__(self, message: str, status: int = 400, headers: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # 429 or 503 (with Retry-After) when a document fetch must wait
        self.headers = headers or {}


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorization request: everything consent and the code depend on."""

    client_id: str
    redirect_uri: str  # where the response goes: the one sent, or the only one registered
    redirect_uri_sent: str | None  # as sent; the token request must repeat it (§4.1.3)
    scope: tuple[str, ...]
    resource: str | None  # as sent; the token request compares this string
    audience: str
    code_challenge: str
    state: str | None
    nonce: str | None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None

    def to_payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict) -> AuthorizationRequest:
        data = dict(data, scope=tuple(data["scope"]), prompt=tuple(data["prompt"]))
        return cls(**data)


def first(params: Params, name: str) -> str | None:
    """The parameter's value, or None when absent."""
    values = params.get(name) or []
    return values[0] if values else None


def state_of(params: Params) -> str | None:
    """The `state` to echo: only when sent exactly once (RFC 6749 §4.1.2.1)."""
    values = params.get("state") or []
    return values[0] if len(values) == 1 else None


# -- before the redirect URI is trusted: errors are pages -------------------------------------


def check_client(params: Params) -> Client:
    """The registered client named by `client_id` (sent exactly once)."""
    values = params.get("client_id") or []
    if len(values) > 1:
        raise UnverifiedRequest("The client_id parameter was sent more than once.")
    if not values or not values[0]:
        raise UnverifiedRequest("The request has no client_id, so it cannot be answered.")
    try:
        client = cimd.find_client(values[0])  # an https client_id is a metadata document
    except cimd.CIMDError as exc:
        message = exc.description or "The client metadata document is unusable."
        raise UnverifiedRequest(message, exc.status, exc.headers) from exc
    if client is None:
        raise UnverifiedRequest("No application is registered with this client_id.")
    return client


def check_redirect_uri(params: Params, client: Client) -> tuple[str, str | None]:
    """(redirect URI to use, the one sent): exact match, loopback http any port (RFC 8252 §7.3)."""
    values = params.get("redirect_uri") or []
    if len(values) > 1:
        raise UnverifiedRequest("The redirect_uri parameter was sent more than once.")
    sent = values[0] if values else None
    used = find_redirect_uri(list(client.redirect_uris), sent)
    if used is None and sent is None:
        raise UnverifiedRequest(
            "The request must name one of this application's redirect URIs (redirect_uri)."
        )
    if used is None:
        raise UnverifiedRequest("The redirect_uri is not registered for this application.")
    return used, sent


def verify_client(params: Params) -> tuple[Client, str, str | None]:
    """Rules whose failure must never redirect: (client, redirect URI, redirect URI sent)."""
    client = check_client(params)
    return (client, *check_redirect_uri(params, client))


# -- after: errors go back to the client --------------------------------------------------------


def check_duplicates(params: Params) -> None:
    """A protocol parameter sent twice is invalid_request (RFC 6749 §3.1)."""
    for name in PROTOCOL_PARAMS:
        if len(params.get(name) or []) > 1:
            raise OAuthError("invalid_request", f"The {name} parameter was sent more than once.")


def check_request_object(params: Params) -> None:
    """Request objects are not supported (OIDC Core §6)."""
    if "request" in params:
        raise OAuthError("request_not_supported", "The request parameter is not supported.")
    if "request_uri" in params:
        raise OAuthError("request_uri_not_supported", "The request_uri parameter is not supported.")


def check_response_type(params: Params) -> None:
    """Only the authorization code flow (OAuth 2.1 drops the implicit grant)."""
    response_type = first(params, "response_type")
    if not response_type:
        raise OAuthError("invalid_request", "The response_type parameter is required.")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")


def check_response_mode(params: Params) -> None:
    """Responses are sent in the query (OAuth 2.0 Multiple Response Types §2.1)."""
    mode = first(params, "response_mode")
    if mode is not None and mode != "query":
        raise OAuthError("invalid_request", "Only response_mode=query is supported.")


def check_grant_type(client: Client) -> None:
    """The client must have registered the authorization_code grant."""
    if "authorization_code" not in client.grant_types:
        raise OAuthError(
            "unauthorized_client", "This client may not use the authorization code flow."
        )


def check_pkce(params: Params) -> str:
    """PKCE with S256 for every client (RFC 7636 §4.3; OAuth 2.1 forbids `plain`)."""
    challenge = first(params, "code_challenge")
    method = first(params, "code_challenge_method")
    if challenge is None:
        raise OAuthError("invalid_request", "code_challenge is required (PKCE, RFC 7636).")
    if method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256.")
    if not pkce.valid_challenge(challenge):
        raise OAuthError("invalid_request", "code_challenge must be 43 base64url characters.")
    return challenge


def check_scope(params: Params, client: Client) -> tuple[str, ...]:
    """Known scopes the client may request; its default when none were asked for (§3.3)."""
    return tuple(scopes.check_scope(client, first(params, "scope")))


def check_resource(params: Params, issuer: str) -> tuple[str | None, str]:
    """(resource as sent, audience): one registered resource, or the issuer (RFC 8707 §2)."""
    values = params.get("resource") or []
    if len(values) > 1:
        raise OAuthError(
            "invalid_target", "Request one resource at a time: a token has a single audience."
        )
    resource = values[0] if values else None
    return resource, scopes.check_resource(resource, issuer)


def check_prompt(params: Params) -> tuple[str, ...]:
    """OIDC `prompt`: known values, and `none` only on its own (OIDC Core §3.1.2.1)."""
    raw = first(params, "prompt")
    values = tuple(dict.fromkeys(raw.split())) if raw else ()
    if any(v not in PROMPTS for v in values):
        raise OAuthError("invalid_request", "Unsupported prompt value.")
    if "none" in values and len(values) > 1:
        raise OAuthError("invalid_request", "prompt=none cannot be combined with other values.")
    return values


def check_max_age(params: Params) -> int | None:
    """OIDC `max_age`: a non-negative integer number of seconds."""
    raw = first(params, "max_age")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise OAuthError("invalid_request", "max_age must be a non-negative integer.")
    return min(int(raw[:15]), MAX_AGE_CAP)


def check_nonce(params: Params) -> str | None:
    """OIDC `nonce`, stored on the code and returned in the id_token."""
    nonce = first(params, "nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise OAuthError("invalid_request", f"nonce must be at most {MAX_NONCE} characters.")
    return nonce


def login_hint_of(params: Params) -> str | None:
    """OIDC `login_hint`, only used to prefill the sign-in form; an unusable hint is dropped."""
    hint = first(params, "login_hint")
    return hint if hint and len(hint) <= MAX_LOGIN_HINT else None


def validate(
    params: Params, client: Client, redirect_uri: str, redirect_uri_sent: str | None, issuer: str
) -> AuthorizationRequest:
    """Run the redirectable rules in order; raises OAuthError for the first that fails."""
    check_duplicates(params)
    check_request_object(params)
    check_response_type(params)
    check_response_mode(params)
    check_grant_type(client)
    code_challenge = check_pkce(params)
    scope = check_scope(params, client)
    resource, audience = check_resource(params, issuer)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        redirect_uri_sent=redirect_uri_sent,
        scope=scope,
        resource=resource,
        audience=audience,
        code_challenge=code_challenge,
        state=state_of(params),
        nonce=check_nonce(params),
        prompt=check_prompt(params),
        max_age=check_max_age(params),
        login_hint=login_hint_of(params),
    )


# -- what the signed-in user still has to do ----------------------------------------------------


def needs_login(req: AuthorizationRequest, auth_time: datetime | None, now: datetime) -> bool:
    """Whether a (fresh) sign-in is needed: none yet, prompt=login, or max_age exceeded."""
    if auth_time is None:
        return True
    if "login" in req.prompt or "select_account" in req.prompt:
        return True
    if req.max_age is None:
        return False
    # OIDC Core §3.1.2.1: max_age=0 is equivalent to prompt=login.
    return req.max_age == 0 or (now - auth_time).total_seconds() > req.max_age


def needs_consent(req: AuthorizationRequest, remembered: str | None) -> bool:
    """Whether to show the consent page; `remembered` is the stored Consent scope, if any.

    offline_access (a refresh token) is always asked for explicitly (OIDC Core §11).
    """
    if remembered is None or "consent" in req.prompt or "offline_access" in req.scope:
        return True
    return not set(req.scope) <= set(remembered.split())
