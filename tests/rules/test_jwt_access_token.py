"""oauth/rules/jwt_access_token.py: the RFC 9068 format choice, claims, header and checks."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from models import Resource, User, db, utcnow
from oauth import crypto, keys
from oauth.mock.provider import MAX_CLAIMS_BYTES, claims_problem
from oauth.rules import jwt_access_token as rule
from oauth.rules.id_token import epoch
from tests.helpers import ISSUER

MCP = "https://mcp.example.com/mcp"


@pytest.mark.parametrize(
    ("audience", "resource_format", "default", "expected"),
    [
        (ISSUER, None, "opaque", "opaque"),
        (ISSUER, None, "jwt", "jwt"),
        (ISSUER, "jwt", "opaque", "opaque"),  # the built-in API follows the global default
        (MCP, None, "jwt", "jwt"),
        (MCP, "jwt", "opaque", "jwt"),
        (MCP, "opaque", "jwt", "opaque"),
        (MCP, "bogus", "opaque", "opaque"),
    ],
)
def test_choose_format(audience, resource_format, default, expected):
    assert rule.choose_format(audience, ISSUER, resource_format, default) == expected


def test_format_for_reads_the_resource(app):
    with db.connection_context():
        Resource.create(uri=MCP, token_format="jwt")
        Resource.create(uri="https://other.example.com/api")
        assert rule.format_for(MCP, ISSUER, "opaque") == "jwt"
        assert rule.format_for("https://other.example.com/api", ISSUER, "opaque") == "opaque"
        assert rule.format_for("https://unknown.example.com/", ISSUER, "jwt") == "jwt"


def _claims(user: User | None, **overrides):
    now = utcnow()
    fields = dict(
        issuer=ISSUER,
        audience=MCP,
        client_id="app-1",
        user=user,
        scopes=["mcp", "profile"],
        jti="j-1",
        issued_at=now,
        expires_at=now + timedelta(seconds=600),
        auth_time=now - timedelta(seconds=30),
    )
    fields.update(overrides)
    return fields, rule.claims(**fields)


def test_claims_for_a_person():
    user = User(sub="u-sub", username="alice", claims={"groups": ["staff"], "sub": "evil"})
    fields, body = _claims(user)
    assert body == {
        "iss": ISSUER,
        "sub": "u-sub",  # an extra claim never replaces a registered one
        "aud": MCP,
        "client_id": "app-1",
        "scope": "mcp profile",
        "jti": "j-1",
        "iat": epoch(fields["issued_at"]),
        "exp": epoch(fields["expires_at"]),
        "auth_time": epoch(fields["auth_time"]),
        "groups": ["staff"],
    }


@pytest.mark.parametrize("name", ["client_id", "scope", "jti", "exp", "aud", "iss", "auth_time"])
def test_extra_claims_cannot_override(name):
    _, body = _claims(User(sub="s", username="a", claims={name: "x"}))
    assert body[name] != "x"


@pytest.mark.parametrize("name", ["nbf", "acr", "amr", "azp", "nonce", "at_hash", "typ"])
def test_extra_claims_cannot_add_registered_names(name):
    """A stored extra claim like `nbf` or `acr` would change what verifiers conclude."""
    _, body = _claims(User(sub="s", username="a", claims={name: "x"}))
    assert name not in body


def test_client_credentials_subject_is_the_client():
    _, body = _claims(None)
    assert body["sub"] == "app-1"  # RFC 9068 §2.2
    assert "auth_time" not in body  # nobody signed in


def test_jti_digest_is_not_an_opaque_token_digest():
    assert rule.jti_digest("abc") != crypto.sha256("abc")
    assert not crypto.has_kind(rule.new_jti(), crypto.ACCESS_TOKEN)


def test_signed_header_and_verification(app):
    with app.app_context(), db.connection_context():
        _, body = _claims(None)
        token = rule.sign(body)
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
        assert header["kid"] == keys.active_key().kid
        assert rule.verified_claims(token, ISSUER) == body
        assert rule.verified_claims(token, "https://other-issuer.example") is None


@pytest.mark.parametrize("typ", [None, "JWT", "at+JWT-ish"])
def test_wrong_typ_is_refused(app, typ):
    """An id_token (typ JWT) signed by the same key is never an access token (RFC 9068 §4)."""
    with app.app_context(), db.connection_context():
        _, body = _claims(None)
        key = keys.active_key()
        headers = {"kid": key.kid} if typ is None else {"kid": key.kid, "typ": typ}
        token = jwt.encode(body, keys._private(key), algorithm="RS256", headers=headers)
        if typ is None:  # PyJWT writes typ JWT unless told otherwise
            assert jwt.get_unverified_header(token)["typ"] == "JWT"
        assert rule.verified_claims(token, ISSUER) is None


def test_application_at_jwt_typ_is_accepted(app):
    with app.app_context(), db.connection_context():
        _, body = _claims(None)
        token = keys.sign(body, typ="application/at+jwt")
        assert rule.verified_claims(token, ISSUER) == body


def test_expired_and_foreign_and_garbage_are_refused(app):
    with app.app_context(), db.connection_context():
        now = utcnow()
        _, body = _claims(None, issued_at=now - timedelta(hours=2), expires_at=now - timedelta(1))
        assert rule.verified_claims(rule.sign(body), ISSUER) is None
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _, body = _claims(None)
        for kid in ("nobody", keys.active_key().kid):
            forged = jwt.encode(
                body, stranger, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"}
            )
            assert rule.verified_claims(forged, ISSUER) is None
        assert rule.verified_claims("eyJ.not.ajwt", ISSUER) is None
        assert rule.verified_claims("gat_" + "x" * 43, ISSUER) is None
        assert not rule.looks_like_jwt("eyJ" + "a" * rule.MAX_JWT_LENGTH + ".b.c")


def test_the_largest_mock_claims_still_fit(app):
    """Mock mode allows 8 KiB of extra claims; the JWT carrying them is still one of ours."""
    with app.app_context(), db.connection_context():
        extra = {"blob": "x" * (MAX_CLAIMS_BYTES - 20)}
        assert claims_problem(extra) is None
        _, body = _claims(User(sub="s", username="a", claims=extra))
        token = rule.sign(body)
        assert len(token) > 8192 and rule.verified_claims(token, ISSUER) == body
