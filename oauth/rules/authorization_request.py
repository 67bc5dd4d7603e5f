"""The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2, OIDC Core §3.1.2.1).

Ordered `check_*` rules turn the request's parameters (a dict of lists, as
`MultiDict.to_dict(flat=False)` gives) into an `AuthorizationRequest`. Until the client and its
redirect URI are verified, a rule raises `UnverifiedRequest`: shown as a page, never redirected
(RFC 6749 §4.1.2.1). After that it raises an OAuthError that `may_redirect`, sent back to the
redirect URI. The rules of one spec live in their own module (redirect_uri, pkce, scope,
resource) and are called from here in order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from models import Client
from oauth.errors import (
    InvalidRequest,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
    UnverifiedRequest,
)
from oauth.params import Params, check_duplicates, first, state_of
from oauth.rules import client_id_metadata
from oauth.rules.pkce import check_challenge
from oauth.rules.redirect_uri import check_redirect_uri
from oauth.rules.resource import check_request_resource
from oauth.rules.scope import check_requested_scope

PROMPTS = {"none", "login", "consent", "select_account"}  # OIDC Core §3.1.2.1
MAX_NONCE = 512
MAX_LOGIN_HINT = 256
MAX_AGE_CAP = 10**12  # larger values mean "no limit"; keeps int() and arithmetic small


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


# -- before the redirect URI is trusted: errors are pages -------------------------------------


def check_client(params: Params) -> Client:
    """The registered client named by `client_id` (sent exactly once)."""
    values = params.get("client_id") or []
    if len(values) > 1:
        raise UnverifiedRequest("The client_id parameter was sent more than once.")
    if not values or not values[0]:
        raise UnverifiedRequest("The request has no client_id, so it cannot be answered.")
    try:
        client = client_id_metadata.find_client(
            values[0]
        )  # an https client_id is a metadata document
    except client_id_metadata.CIMDError as exc:
        message = exc.description or "The client metadata document is unusable."
        raise UnverifiedRequest(message, exc.status, exc.headers) from exc
    if client is None:
        raise UnverifiedRequest("No application is registered with this client_id.")
    return client


def verify_client(params: Params) -> tuple[Client, str, str | None]:
    """Rules whose failure must never redirect: (client, redirect URI, redirect URI sent)."""
    client = check_client(params)
    return (client, *check_redirect_uri(params, client))


# -- after: errors go back to the client --------------------------------------------------------


def check_request_object(params: Params) -> None:
    """Request objects are not supported (OIDC Core §6)."""
    if "request" in params:
        raise RequestNotSupported("The request parameter is not supported.")
    if "request_uri" in params:
        raise RequestUriNotSupported("The request_uri parameter is not supported.")


def check_response_type(params: Params) -> None:
    """Only the authorization code flow (OAuth 2.1 drops the implicit grant)."""
    response_type = first(params, "response_type")
    if not response_type:
        raise InvalidRequest("The response_type parameter is required.")
    if response_type != "code":
        raise UnsupportedResponseType("Only response_type=code is supported.")


def check_response_mode(params: Params) -> None:
    """Responses are sent in the query (OAuth 2.0 Multiple Response Types §2.1)."""
    mode = first(params, "response_mode")
    if mode is not None and mode != "query":
        raise InvalidRequest("Only response_mode=query is supported.")


def check_grant_type(client: Client) -> None:
    """The client must have registered the authorization_code grant."""
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient("This client may not use the authorization code flow.")


def check_prompt(params: Params) -> tuple[str, ...]:
    """OIDC `prompt`: known values, and `none` only on its own (OIDC Core §3.1.2.1)."""
    raw = first(params, "prompt")
    values = tuple(dict.fromkeys(raw.split())) if raw else ()
    if any(v not in PROMPTS for v in values):
        raise InvalidRequest("Unsupported prompt value.")
    if "none" in values and len(values) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values.")
    return values


def check_max_age(params: Params) -> int | None:
    """OIDC `max_age`: a non-negative integer number of seconds."""
    raw = first(params, "max_age")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidRequest("max_age must be a non-negative integer.")
    return min(int(raw[:15]), MAX_AGE_CAP)


def check_nonce(params: Params) -> str | None:
    """OIDC `nonce`, stored on the code and returned in the id_token."""
    nonce = first(params, "nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise InvalidRequest(f"nonce must be at most {MAX_NONCE} characters.")
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
    code_challenge = check_challenge(params)
    scope = tuple(check_requested_scope(client, first(params, "scope")))
    resource, audience = check_request_resource(params, issuer)
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
