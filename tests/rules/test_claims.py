"""OIDC claims by scope and id_token signing (checked with PyJWT against our JWKS)."""

import jwt

from models import db
from oauth import keys
from oauth.rules import id_token as claims


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


def test_keys_rotate_cli_keeps_the_old_key_until_its_longest_id_token_expires(
    app, runner, user, oauth_client
):
    from datetime import timedelta

    from models import AccessToken, utcnow
    from oauth.grants import issue as tokens

    month = 30 * 86400
    with app.test_request_context(), db.connection_context():
        old = keys.active_key()
        # As a mock-minted token: the access token and its id_token live a month.
        body = tokens.issue(oauth_client[0], user, ["openid"], "http://x", "mock", refresh=False)
        AccessToken.update(expires_at=utcnow() + timedelta(seconds=month)).execute()
        token = claims.id_token(user, "client-1", ["openid"], "http://x", month)
        assert body["access_token"]
    with app.app_context():  # a plain click group: the flask command pushes this context
        result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    with db.connection_context():
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        retired = keys.SigningKey.get(keys.SigningKey.kid == old.kid)
        assert claims.epoch(retired.expires_at) >= exp
        assert old.kid in {k["kid"] for k in keys.jwks()["keys"]}
        assert keys.active_key().kid != old.kid


def test_publish_period_without_long_tokens_is_the_id_token_lifetime(app):
    from datetime import timedelta

    with db.connection_context():
        assert keys.publish_period(7200) == timedelta(seconds=7200 + 300)
        assert keys.publish_period(60) == timedelta(seconds=3600 + 300)
