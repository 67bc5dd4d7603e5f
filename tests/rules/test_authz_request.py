"""The authorization request rules, called directly (one rule per function, in order)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models import db
from oauth.errors import OAuthError, UnverifiedRequest
from oauth.rules import authorization_request as rules
from oauth.rules.authorization_request import AuthorizationRequest
from oauth.rules.consent import needs_consent
from tests.helpers import ISSUER
from tests.helpers.authorize import CHALLENGE, REDIRECT, params
from tests.helpers.common import make_client


def lists(query: dict[str, str]) -> dict[str, list[str]]:
    return {k: [v] for k, v in query.items()}


@pytest.fixture
def app_client(app):
    return make_client(redirect_uris=[REDIRECT, "https://app.example.com/cb"])[0]


def test_rfc7636_appendix_b_challenge():
    assert CHALLENGE == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_validate_builds_the_request(app_client):
    query = lists(params(app_client.client_id, nonce="n", prompt="consent", max_age="30"))
    with db.connection_context():
        client, used, sent = rules.verify_client(query)
        req = rules.validate(query, client, used, sent, ISSUER)
    assert req == AuthorizationRequest(
        client_id=app_client.client_id,
        redirect_uri=REDIRECT,
        redirect_uri_sent=REDIRECT,
        scope=("openid", "profile"),
        resource=None,
        audience=ISSUER,
        code_challenge=CHALLENGE,
        state="xyz state",
        nonce="n",
        prompt=("consent",),
        max_age=30,
        login_hint=None,
    )
    assert AuthorizationRequest.from_payload(req.to_payload()) == req


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "no client_id"),
        ({"client_id": ["a", "a"]}, "more than once"),
        ({"client_id": ["unknown"]}, "No application"),
    ],
)
def test_check_client(app, query, message):
    with db.connection_context(), pytest.raises(UnverifiedRequest, match=message):
        rules.check_client(query)


@pytest.mark.parametrize(
    ("sent", "result"),
    [
        ([REDIRECT], (REDIRECT, REDIRECT)),
        (["http://127.0.0.1:1234/callback"], ("http://127.0.0.1:1234/callback",) * 2),
        (["http://[::1]:9999/callback"], None),
        (["https://app.example.com/cb"], ("https://app.example.com/cb",) * 2),
        (["https://app.example.com:443/cb"], None),
        (["https://app.example.com/cb#x"], None),
        ([], None),
        ([REDIRECT, REDIRECT], None),
    ],
)
def test_check_redirect_uri(app_client, sent, result):
    query = {"redirect_uri": sent} if sent else {}
    if result is None:
        with pytest.raises(UnverifiedRequest):
            rules.check_redirect_uri(query, app_client)
    else:
        assert rules.check_redirect_uri(query, app_client) == result


def test_check_redirect_uri_single_registered_may_be_omitted(app):
    only = make_client(redirect_uris=["https://app.example.com/cb"])[0]
    assert rules.check_redirect_uri({}, only) == ("https://app.example.com/cb", None)


@pytest.mark.parametrize(
    ("rule", "query", "expected"),
    [
        (
            rules.check_challenge,
            {"code_challenge": [CHALLENGE], "code_challenge_method": ["S256"]},
            CHALLENGE,
        ),
        (rules.check_challenge, {"code_challenge": [CHALLENGE]}, "invalid_request"),
        (rules.check_challenge, {"code_challenge_method": ["S256"]}, "invalid_request"),
        (
            rules.check_challenge,
            {"code_challenge": [CHALLENGE], "code_challenge_method": ["plain"]},
            "invalid_request",
        ),
        (
            rules.check_challenge,
            {"code_challenge": ["a" * 43 + "\n"], "code_challenge_method": ["S256"]},
            "invalid_request",
        ),
        (rules.check_prompt, {}, ()),
        (rules.check_prompt, {"prompt": ["login  consent login"]}, ("login", "consent")),
        (rules.check_prompt, {"prompt": ["none"]}, ("none",)),
        (rules.check_prompt, {"prompt": ["none consent"]}, "invalid_request"),
        (rules.check_prompt, {"prompt": ["NONE"]}, "invalid_request"),
        (rules.check_max_age, {}, None),
        (rules.check_max_age, {"max_age": ["0"]}, 0),
        (rules.check_max_age, {"max_age": ["0030"]}, 30),
        (rules.check_max_age, {"max_age": ["9" * 5000]}, rules.MAX_AGE_CAP),
        (rules.check_max_age, {"max_age": [""]}, "invalid_request"),
        (rules.check_max_age, {"max_age": ["+5"]}, "invalid_request"),
        (rules.check_max_age, {"max_age": [" 5"]}, "invalid_request"),
        (rules.check_response_type, {"response_type": ["code"]}, None),
        (rules.check_response_type, {"response_type": [""]}, "invalid_request"),
        (rules.check_response_type, {"response_type": ["token"]}, "unsupported_response_type"),
        (rules.check_request_object, {"request": ["x"]}, "request_not_supported"),
        (rules.check_request_object, {"request_uri": ["x"]}, "request_uri_not_supported"),
        (rules.check_duplicates, {"nonce": ["a", "b"]}, "invalid_request"),
        (rules.check_duplicates, {"resource": ["a", "b"], "foo": ["1", "2"]}, None),
    ],
)
def test_rules(rule, query, expected):
    if isinstance(expected, str) and expected.startswith(("invalid_", "unsupported_", "request")):
        with pytest.raises(OAuthError) as exc:
            rule(query)
        assert exc.value.error == expected
        assert exc.value.description
        assert '"' not in exc.value.description and "\\" not in exc.value.description
    else:
        assert rule(query) == expected


NOW = datetime(2030, 1, 1, 12, 0, 0)


def request_with(**fields) -> AuthorizationRequest:
    base = dict(
        client_id="c",
        redirect_uri=REDIRECT,
        redirect_uri_sent=None,
        scope=("openid",),
        resource=None,
        audience=ISSUER,
        code_challenge=CHALLENGE,
        state=None,
        nonce=None,
    )
    return AuthorizationRequest(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "signed_in_ago", "expected"),
    [
        ({}, None, True),
        ({}, 10**6, False),
        ({"prompt": ("login",)}, 0, True),
        ({"prompt": ("select_account",)}, 0, True),
        ({"prompt": ("consent",)}, 0, False),
        ({"max_age": 60}, 60, False),
        ({"max_age": 60}, 61, True),
        ({"max_age": 0}, 0, True),
    ],
)
def test_needs_login(fields, signed_in_ago, expected):
    auth_time = None if signed_in_ago is None else NOW - timedelta(seconds=signed_in_ago)
    assert rules.needs_login(request_with(**fields), auth_time, NOW) is expected


@pytest.mark.parametrize(
    ("scope", "prompt", "remembered", "expected"),
    [
        (("openid",), (), None, True),
        (("openid",), (), "", True),
        (("openid",), (), "openid profile", False),
        (("openid", "profile"), (), "profile openid", False),
        (("openid", "email"), (), "openid profile", True),
        (("openid",), ("consent",), "openid", True),
        (("offline_access",), (), "offline_access", True),
    ],
)
def test_needs_consent(scope, prompt, remembered, expected):
    req = request_with(scope=scope, prompt=prompt)
    assert needs_consent(req, remembered) is expected
