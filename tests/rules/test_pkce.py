"""PKCE (RFC 7636): the Appendix B vector, verifier shapes, and the token endpoint's use of them."""

from __future__ import annotations

import pytest

from oauth.rules import pkce
from tests.helpers.tokens import make_code, redeem

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_appendix_b_vector():
    assert pkce.s256(VERIFIER) == CHALLENGE
    assert pkce.verify(VERIFIER, CHALLENGE)


VERIFIERS = [
    # (verifier, well formed)
    ("a" * 43, True),
    ("a" * 128, True),
    ("A-z0.9_~" * 6, True),
    ("a" * 42, False),
    ("a" * 129, False),
    ("a" * 42 + "+", False),
    ("a" * 42 + "/", False),
    ("a" * 42 + "=", False),
    ("a" * 42 + " ", False),
    ("a" * 43 + "\n", False),
    ("é" * 43, False),
    ("", False),
    (None, False),
]


@pytest.mark.parametrize("verifier, ok", VERIFIERS)
def test_verifier_shape_is_a_full_match(verifier, ok):
    assert pkce.valid_verifier(verifier) is ok
    if ok:
        assert pkce.verify(verifier, pkce.s256(verifier))
    else:
        assert not pkce.verify(verifier, CHALLENGE)


@pytest.mark.parametrize(
    "verifier, status",
    [(VERIFIER, 200), (VERIFIER[:-1] + "j", 400), (VERIFIER + "\n", 400), (CHALLENGE, 400)],
)
def test_token_endpoint_checks_the_verifier(client, oauth_client, user, verifier, status):
    c, s = oauth_client
    code = make_code(c, user, CHALLENGE)
    response = redeem(client, c, s, code, verifier)
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"] == "invalid_grant"
