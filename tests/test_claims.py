"""OIDC claims by scope and id_token signing (checked with PyJWT against our JWKS)."""

import jwt

from models import db
from oauth import claims, keys


def test_claims_follow_scopes(user):
    with db.connection_context():
        assert claims.user_claims(user, ["openid"]) == {"sub": user.sub}
        profile = claims.user_claims(user, ["openid", "profile"])
        assert profile["preferred_username"] == "alice" and "email" not in profile
        email = claims.user_claims(user, ["email"])
        assert email["email"] == "alice@example.com" and email["email_verified"] is False


def test_extra_claims_never_override_registered_ones(user):
    with db.connection_context():
        user.claims = {"sub": "evil", "iss": "evil", "groups": ["dev"]}
        out = claims.user_claims(user, [])
        assert out["sub"] == user.sub and "iss" not in out and out["groups"] == ["dev"]


def test_id_token_verifies_against_jwks(user):
    with db.connection_context():
        token = claims.id_token(
            user,
            "client-1",
            ["openid"],
            "http://127.0.0.1:8000",
            300,
            nonce="n-1",
            access_token="gat_abc",
        )
        jwk = keys.jwks()["keys"][0]
        assert set(jwk) == {"kty", "use", "alg", "kid", "n", "e"}  # public half only
        public = jwt.PyJWK(jwk).key
        decoded = jwt.decode(
            token, public, algorithms=["RS256"], audience="client-1", issuer="http://127.0.0.1:8000"
        )
        assert decoded["sub"] == user.sub and decoded["nonce"] == "n-1"
        assert decoded["azp"] == "client-1" and decoded["at_hash"] == keys.at_hash("gat_abc")
        assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]


def test_rotation_keeps_old_key_published(app):
    from datetime import timedelta

    with db.connection_context():
        first = keys.active_key()
        second = keys.rotate(timedelta(hours=1))
        kids = {k["kid"] for k in keys.jwks()["keys"]}
        assert {first.kid, second.kid} <= kids and keys.active_key().kid == second.kid
        keys.rotate(timedelta(seconds=-1))  # retire `second` already expired
        assert second.kid not in {k["kid"] for k in keys.jwks()["keys"]}
