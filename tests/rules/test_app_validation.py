"""validate_app(): every rule of an app payload, every problem reported at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import ClientSecret, db, utcnow
from oauth.errors import OAuthError
from oauth.manage import apps
from oauth.rules import client_auth
from oauth.rules.client_metadata import check_client_metadata
from tests.helpers.common import make_client

OK = {"name": "App", "redirect_uris": ["https://app.example.com/cb"]}


def fields(problems: list[dict]) -> list[str]:
    return [p["field"] for p in problems]


def test_defaults_for_a_minimal_app():
    clean, problems = apps.validate_app(OK)
    assert problems == []
    assert clean == {
        "name": "App",
        "client_type": "confidential",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "",
        "logo_uri": None,
        "client_uri": None,
        "application_type": "web",  # not declared: the OIDC default, loopback still allowed
        "application_type_declared": False,
        "id_token_signed_response_alg": "RS256",  # OIDC Registration §2 default
    }


def test_public_clients_default_to_no_auth():
    clean, problems = apps.validate_app({**OK, "client_type": "public"})
    assert problems == []
    assert clean["token_endpoint_auth_method"] == "none"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": 42}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"client_type": "secret"}, "client_type"),
        ({"client_type": ["public"]}, "client_type"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method"),
        ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"),
        (
            {"client_type": "public", "token_endpoint_auth_method": "client_secret_post"},
            "token_endpoint_auth_method",
        ),
        ({"grant_types": []}, "grant_types"),
        ({"grant_types": "authorization_code"}, "grant_types"),
        ({"grant_types": ["password"]}, "grant_types"),
        ({"grant_types": ["implicit"]}, "grant_types"),
        ({"grant_types": [1]}, "grant_types"),
        (
            {"client_type": "public", "grant_types": ["client_credentials"]},
            "grant_types",
        ),
        ({"redirect_uris": []}, "redirect_uris"),
        ({"redirect_uris": "https://a.example/cb"}, "redirect_uris"),
        ({"redirect_uris": [None]}, "redirect_uris"),
        ({"redirect_uris": ["https://a.example/cb#frag"]}, "redirect_uris[0]"),
        ({"redirect_uris": ["https://ok.example/cb", "JavaScript:alert(1)"]}, "redirect_uris[1]"),
        ({"redirect_uris": [f"https://a.example/{i}" for i in range(33)]}, "redirect_uris"),
        ({"scope": 'openid "quoted"'}, "scope"),
        ({"scope": ["openid"]}, "scope"),
        ({"logo_uri": "http://cdn.example.com/logo.png"}, "logo_uri"),
        ({"logo_uri": "javascript:alert(1)"}, "logo_uri"),
        ({"client_uri": "ftp://example.com"}, "client_uri"),
        ({"homepage": "http://example.com"}, "client_uri"),
    ],
)
def test_each_rule(change, field):
    _, problems = apps.validate_app({**OK, **change})
    assert field in fields(problems), problems
    assert all(p["detail"] for p in problems)


@pytest.mark.parametrize(
    "change",
    [
        {"grant_types": ["client_credentials"], "redirect_uris": []},
        {"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"], "redirect_uris": []},
        {"client_type": "public", "grant_types": ["authorization_code"]},
        {"token_endpoint_auth_method": "client_secret_post"},
        {"redirect_uris": ["http://127.0.0.1/cb", "http://[::1]:8080/cb", "com.example.app:/cb"]},
        {"redirect_uris": [f"https://a.example/{i}" for i in range(32)]},
        {"scope": "openid  profile mcp:tools"},
        {"logo_uri": "", "client_uri": None},
        {"homepage": "https://example.com/"},
        {"name": "x" * 100},
    ],
)
def test_valid_variants(change):
    clean, problems = apps.validate_app({**OK, **change})
    assert problems == []


def test_every_problem_at_once():
    payload = {
        "name": "",
        "client_type": "public",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": ["data:text/html,hi", "http://evil.example/cb"],
        "grant_types": ["client_credentials", "authorization_code"],
        "scope": "bad\\scope",
        "logo_uri": "http://x.example/l.png",
        "client_uri": "nope",
    }
    _, problems = apps.validate_app(payload)
    assert sorted(fields(problems)) == sorted(
        [
            "name",
            "token_endpoint_auth_method",
            "redirect_uris[0]",
            "redirect_uris[1]",
            "grant_types",
            "scope",
            "logo_uri",
            "client_uri",
        ]
    )


@pytest.mark.parametrize("data", [None, [], "name", 3])
def test_non_object_payload(data):
    clean, problems = apps.validate_app(data)
    assert clean == {}
    assert fields(problems) == [""]


def test_duplicates_are_folded():
    clean, _ = apps.validate_app(
        {**OK, "redirect_uris": ["https://a.example/cb"] * 2, "scope": "openid openid"}
    )
    assert clean["redirect_uris"] == ["https://a.example/cb"]
    assert clean["scope"] == "openid"


def test_partial_checks_only_what_is_present():
    clean, problems = apps.validate_app({"name": "New name"}, partial=True)
    assert problems == []
    assert clean == {"name": "New name"}
    _, problems = apps.validate_app({"redirect_uris": ["file:///etc/passwd"]}, partial=True)
    assert fields(problems) == ["redirect_uris[0]"]


def test_update_merges_patch_over_the_stored_app(app):
    client, _ = make_client(redirect_uris=["https://a.example/cb"])
    clean, problems = apps.validate_update(client, {"scope": "openid"}, partial=True)
    assert problems == []
    assert clean["scope"] == "openid"
    assert clean["redirect_uris"] == ["https://a.example/cb"]
    _, problems = apps.validate_update(client, {"client_type": "public"}, partial=True)
    assert fields(problems) == ["token_endpoint_auth_method"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(
    st.dictionaries(st.sampled_from([*apps.FIELDS, "homepage", "other"]), json_values),
    st.booleans(),
)
def test_any_json_gets_problems_not_exceptions(data, partial):
    clean, problems = apps.validate_app(data, partial)
    assert all(set(p) == {"field", "detail"} and p["detail"] for p in problems)
    if not problems and not partial:
        assert set(clean) == set(apps.FIELDS)
        assert apps.validate_app(clean) == (clean, [])  # clean output is stable


# -- touch_secret --------------------------------------------------------------------------


def test_touch_secret_writes_at_most_once_a_minute(app):
    client, _ = make_client()
    start = utcnow()
    with db.connection_context():
        row = ClientSecret.get(ClientSecret.client == client)
        assert client_auth.touch_secret(row, start) is True
        assert client_auth.touch_secret(row, start + timedelta(seconds=30)) is False
        # Another worker holding a stale copy of the row must not write again either.
        stale = ClientSecret.get_by_id(row.id)
        stale.last_used_at = None
        assert client_auth.touch_secret(stale, start + timedelta(seconds=59)) is False
        assert ClientSecret.get_by_id(row.id).last_used_at == start
        assert client_auth.touch_secret(row, start + timedelta(seconds=61)) is True
        assert ClientSecret.get_by_id(row.id).last_used_at == start + timedelta(seconds=61)


@pytest.mark.parametrize(
    ("uri", "accepted"),
    [
        ("https://client.example/", True),
        ("http://localhost:6274/", True),  # a local MCP client's own page (RFC 7591 client_uri)
        ("http://127.0.0.1/logo.png", True),
        ("http://client.example/", False),
        ("http://[::1", False),
        ("javascript:alert(1)", False),
    ],
)
def test_page_urls_are_https_or_loopback_http(uri, accepted):
    data = {"redirect_uris": ["http://127.0.0.1:9/cb"], "client_uri": uri, "logo_uri": uri}
    if accepted:
        assert check_client_metadata(data)["client_uri"] == uri
    else:
        with pytest.raises(OAuthError):
            check_client_metadata(data)
