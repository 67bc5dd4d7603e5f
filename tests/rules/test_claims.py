"""OIDC claims by scope and id_token signing (checked with PyJWT against our JWKS)."""

import jwt
import pytest

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
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(k for k in keys.jwks()["keys"] if k["kid"] == kid)
        assert set(jwk) == {"kty", "use", "alg", "kid", "n", "e"}  # public half only
        public = jwt.PyJWK(jwk).key
        decoded = jwt.decode(
            token, public, algorithms=["RS256"], audience="client-1", issuer="http://127.0.0.1:8000"
        )
        assert decoded["sub"] == user.sub and decoded["nonce"] == "n-1"
        assert decoded["azp"] == "client-1" and decoded["at_hash"] == keys.at_hash("gat_abc")
        assert jwt.get_unverified_header(token)["alg"] == "RS256"  # the default


def test_es256_id_token_verifies_against_the_published_ec_key(user):
    with db.connection_context():
        token = claims.id_token(user, "client-1", ["openid"], "http://x", 300, alg="ES256")
        header = jwt.get_unverified_header(token)
        jwk = next(k for k in keys.jwks()["keys"] if k["kid"] == header["kid"])
    assert header["alg"] == "ES256" and jwk["alg"] == "ES256" and jwk["use"] == "sig"
    assert set(jwk) == {"kty", "crv", "x", "y", "use", "alg", "kid"}  # public half only
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    public = jwt.PyJWK(jwk).key
    decoded = jwt.decode(
        token, public, algorithms=["ES256"], audience="client-1", issuer="http://x"
    )
    assert decoded["sub"] == user.sub


def test_jwks_publishes_one_active_key_per_algorithm_created_once(app):
    with db.connection_context():
        published = keys.jwks()["keys"]
        assert sorted(k["alg"] for k in published) == ["ES256", "RS256"]
        assert keys.jwks()["keys"] == published  # persisted, not generated again
        assert keys.active_key("ES256").kid in {k["kid"] for k in published}


def test_a_token_is_verified_with_its_keys_own_algorithm(user):
    """RFC 8725 §3.1: the header cannot pick the algorithm; an ES256 key verifies ES256 only,
    and JWT access tokens (RS256) refuse a token made with the EC key."""
    with db.connection_context():
        token = claims.id_token(user, "client-1", ["openid"], "http://x", 300, alg="ES256")
        assert keys.verify(token, "client-1", "http://x")["sub"] == user.sub
        with pytest.raises(jwt.InvalidTokenError):
            keys.verify(token, "client-1", "http://x", algs=("RS256",))
        ec_kid = keys.active_key("ES256").kid
        forged = jwt.encode(
            {"iss": "http://x", "aud": "client-1", "sub": "x"},
            keys._private(keys.active_key("RS256")),
            algorithm="RS256",
            headers={"kid": ec_kid},
        )
        with pytest.raises(jwt.InvalidTokenError):
            keys.verify(forged, "client-1", "http://x")


def test_rotation_keeps_old_key_published(app):
    from datetime import timedelta

    with db.connection_context():
        first = [keys.active_key(alg) for alg in keys.ALGS]
        second = keys.rotate(timedelta(hours=1))
        assert [k.alg for k in second] == ["RS256", "ES256"]
        kids = {k["kid"] for k in keys.jwks()["keys"]}
        assert {k.kid for k in first + second} == kids
        assert [keys.active_key(alg).kid for alg in keys.ALGS] == [k.kid for k in second]
        keys.rotate(timedelta(seconds=-1))  # retire `second` already expired
        assert not {k.kid for k in second} & {k["kid"] for k in keys.jwks()["keys"]}


def test_rotation_of_one_algorithm_leaves_the_other(app):
    from datetime import timedelta

    with db.connection_context():
        rsa = keys.active_key("RS256")
        (ec,) = keys.rotate(timedelta(hours=1), ("ES256",))
        assert keys.active_key("RS256").kid == rsa.kid and keys.active_key("ES256").kid == ec.kid


def test_keys_rotate_cli_keeps_the_old_key_until_its_longest_id_token_expires(
    app, runner, user, oauth_client
):
    from datetime import timedelta

    from models import AccessToken, utcnow
    from oauth.grants import issue as tokens

    month = 30 * 86400
    with app.test_request_context(), db.connection_context():
        old = keys.active_key()
        old_ec = keys.active_key("ES256")
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
        assert {old.kid, old_ec.kid} <= {k["kid"] for k in keys.jwks()["keys"]}
        assert keys.active_key().kid != old.kid and keys.active_key("ES256").kid != old_ec.kid
    assert "new ES256 signing key" in result.output and "new RS256 signing key" in result.output


def test_keys_rotate_cli_alg_rotates_that_algorithm_only(app, runner):
    with db.connection_context():
        rsa, ec = keys.active_key("RS256"), keys.active_key("ES256")
    with app.app_context():
        result = runner.invoke(args=["keys", "rotate", "--alg", "ES256"])
        refused = runner.invoke(args=["keys", "rotate", "--alg", "HS256"])
    assert result.exit_code == 0, result.output
    assert refused.exit_code != 0
    with db.connection_context():
        assert keys.active_key("RS256").kid == rsa.kid
        assert keys.active_key("ES256").kid != ec.kid


def test_publish_period_without_long_tokens_is_the_id_token_lifetime(app):
    from datetime import timedelta

    with db.connection_context():
        assert keys.publish_period(7200) == timedelta(seconds=7200 + 300)
        assert keys.publish_period(60) == timedelta(seconds=3600 + 300)


def test_the_next_token_after_a_rotation_uses_the_new_key(app):
    """Signing caches private keys by kid only, never which key is active: the next token
    after a rotation (by any process: the active kid is read each time) names the new key."""
    from datetime import timedelta

    with db.connection_context():
        before = [jwt.get_unverified_header(keys.sign({}, alg=alg))["kid"] for alg in keys.ALGS]
        rotated = keys.rotate(timedelta(hours=1))
        after = [jwt.get_unverified_header(keys.sign({}, alg=alg))["kid"] for alg in keys.ALGS]
    assert after == [key.kid for key in rotated] and not set(before) & set(after)
