"""Our JWT access tokens through a verifier nobody here wrote: Authlib's RFC 9068 resource
protector (authlib.oauth2.rfc9068.JWTBearerTokenValidator) with the JWKS from /oauth2/jwks."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import KeySet

from models import utcnow
from oauth import keys
from oauth.rules import jwt_access_token as rule
from tests.helpers import ISSUER
from tests.helpers.common import make_client
from tests.helpers.tokens import client_credentials, tokens_for

MCP = "https://mcp.example.com/mcp"
OTHER = "https://other.example.com/api"


class Validator(JWTBearerTokenValidator):
    """Authlib's RFC 9068 validator; the only thing it asks of us is where the keys are."""

    def __init__(self, http, resource_server: str) -> None:
        super().__init__(issuer=ISSUER, resource_server=resource_server)
        self.http = http

    def get_jwks(self):
        return KeySet.import_key_set(self.http.get("/oauth2/jwks").get_json())


def check(http, token: str, resource: str = MCP, scopes: list[str] | None = None):
    """What Authlib's ResourceProtector does with a bearer token: authenticate, then validate."""
    validator = Validator(http, resource)
    claims = validator.authenticate_token(token)
    validator.validate_token(claims, scopes, None)
    return claims


@pytest.fixture
def setup(app, runner, user, oauth_client):
    for uri in (MCP, OTHER):
        args = ["resources", "add", uri, "--scope", "mcp", "--token-format", "jwt"]
        assert runner.invoke(args=args).exit_code == 0


def test_authlib_accepts_a_code_flow_token(client, setup, oauth_client, user):
    c, s = oauth_client
    token = tokens_for(client, c, s, user, scope="mcp", resource=MCP)["access_token"]
    claims = check(client, token, scopes=["mcp"])
    assert claims["sub"] == user.sub and claims["client_id"] == c.client_id
    with pytest.raises(InsufficientScopeError):
        check(client, token, scopes=["admin"])


def test_authlib_accepts_a_client_credentials_token(client, setup):
    c, s = make_client("Machine", grant_types=["client_credentials"])
    body = client_credentials(client, c, s, scope="mcp", resource=MCP).get_json()
    assert check(client, body["access_token"])["sub"] == c.client_id


def test_authlib_refuses_a_token_for_another_audience(client, setup, oauth_client, user):
    c, s = oauth_client
    token = tokens_for(client, c, s, user, scope="mcp", resource=OTHER)["access_token"]
    check(client, token, resource=OTHER)
    with pytest.raises(InvalidTokenError):
        check(client, token, resource=MCP)


def _claims(**overrides):
    now = utcnow()
    fields = dict(
        issuer=ISSUER,
        audience=MCP,
        client_id="app",
        user=None,
        scopes=["mcp"],
        jti=rule.new_jti(),
        issued_at=now,
        expires_at=now + timedelta(minutes=10),
        auth_time=None,
    )
    fields.update(overrides)
    return rule.claims(**fields)


def test_authlib_refuses_an_expired_token(app, client, setup):
    now = utcnow()
    with app.app_context():
        fresh = rule.sign(_claims())
        expired = rule.sign(
            _claims(issued_at=now - timedelta(hours=1), expires_at=now - timedelta(minutes=5))
        )
    check(client, fresh)  # the same shape, still valid: accepted
    with pytest.raises(InvalidTokenError):
        check(client, expired)


def test_authlib_refuses_typ_jwt(app, client, setup):
    """RFC 9068 §4: typ must be at+jwt; an id_token-shaped JWT (typ JWT) is refused."""
    with app.app_context():
        token = keys.sign(_claims(), typ="JWT")
    assert jwt.get_unverified_header(token)["typ"] == "JWT"
    with pytest.raises(InvalidTokenError):
        check(client, token)


def test_authlib_refuses_an_unknown_key(app, client, setup):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with app.app_context():
        kid = keys.active_key().kid
    for header_kid in ("not-published", kid):  # an unknown kid, and ours with the wrong key
        forged = jwt.encode(
            _claims(), stranger, algorithm="RS256", headers={"kid": header_kid, "typ": "at+jwt"}
        )
        with pytest.raises(InvalidTokenError):
            check(client, forged)


def test_authlib_accepts_a_token_of_a_retired_key_while_published(
    app, client, setup, oauth_client, user
):
    c, s = oauth_client
    old = tokens_for(client, c, s, user, scope="mcp", resource=MCP)["access_token"]
    with app.app_context():
        keys.rotate(timedelta(hours=1))
    new = tokens_for(client, c, s, user, scope="mcp", resource=MCP)["access_token"]
    assert jwt.get_unverified_header(old)["kid"] != jwt.get_unverified_header(new)["kid"]
    check(client, old)
    check(client, new)
