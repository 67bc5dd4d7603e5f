"""Client authentication at the token endpoint (RFC 6749 §2.3): the registered method only."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
from werkzeug.datastructures import MultiDict

from models import ClientSecret, db
from oauth.errors import OAuthError
from oauth.rules.client_auth import parse_basic
from tests.helpers.common import basic, make_client

CC = ["client_credentials"]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def clients(app):
    """One client per registered method, all allowed client_credentials (or, public, code)."""
    basic_client = make_client("Basic", grant_types=CC)
    post_client = make_client("Post", auth_method="client_secret_post", grant_types=CC)
    public = make_client("Public", public=True)
    return {"basic": basic_client, "post": post_client, "public": public}


def post(http, headers=None, **form):
    form.setdefault("grant_type", "client_credentials")
    return http.post("/oauth2/token", data=form, headers=headers or {})


def test_each_registered_method_works(client, clients):
    (c, s) = clients["basic"]
    assert post(client, basic(c.client_id, s)).status_code == 200
    assert post(client, basic(c.client_id, s), client_id=c.client_id).status_code == 200
    (c, s) = clients["post"]
    assert post(client, client_id=c.client_id, client_secret=s).status_code == 200
    (c, _) = clients["public"]
    # A public client names itself; it reaches the grant check (it may not use this grant).
    response = post(client, client_id=c.client_id)
    assert response.get_json()["error"] == "unauthorized_client"


def _case(clients, name, kind):
    c, s = clients[name]
    s = s or "gcs_000000000000_public"  # public clients have none
    other_c, other_s = clients["post" if name == "basic" else "basic"]
    cases = {
        "basic via post": ({}, {"client_id": c.client_id, "client_secret": s}),
        "post via basic": (basic(c.client_id, s), {}),
        "no secret": ({}, {"client_id": c.client_id}),
        "wrong secret": (basic(c.client_id, s[:-2] + "xx"), {}),
        "wrong secret post": ({}, {"client_id": c.client_id, "client_secret": s[:-2] + "xx"}),
        "another client's secret": (basic(c.client_id, other_s), {}),
        "not our secret format": (basic(c.client_id, "hunter2"), {}),
        "unknown client": (basic("nobody", s), {}),
        "unknown client post": ({}, {"client_id": "nobody", "client_secret": "x"}),
        "body client_id differs": (basic(c.client_id, s), {"client_id": other_c.client_id}),
        "public with secret in body": ({}, {"client_id": c.client_id, "client_secret": "x"}),
        "public with basic": (basic(c.client_id, "x"), {}),
        "public with empty basic": (basic(c.client_id, ""), {}),
        "nothing at all": ({}, {}),
        "basic not base64": ({"Authorization": "Basic %%%"}, {}),
        "basic no colon": ({"Authorization": "Basic " + b64(b"justanid")}, {}),
        "basic empty id": ({"Authorization": "Basic " + b64(b":secret")}, {}),
        "basic not utf-8": ({"Authorization": "Basic " + b64(b"\xff\xfe:\xff")}, {}),
        "basic empty": ({"Authorization": "Basic"}, {}),
    }
    return cases[kind]


FAILURES = [
    # (client, case): every one answers 401 with WWW-Authenticate: Basic (RFC 7235 §3.1)
    ("basic", "basic via post"),
    ("post", "post via basic"),
    ("basic", "no secret"),
    ("basic", "wrong secret"),
    ("post", "wrong secret post"),
    ("basic", "another client's secret"),
    ("basic", "not our secret format"),
    ("basic", "unknown client"),
    ("basic", "unknown client post"),
    ("basic", "body client_id differs"),
    ("public", "public with secret in body"),
    ("public", "public with basic"),
    ("public", "public with empty basic"),
    ("basic", "nothing at all"),
    ("basic", "basic not base64"),
    ("basic", "basic no colon"),
    ("basic", "basic empty id"),
    ("basic", "basic not utf-8"),
    ("basic", "basic empty"),
]


@pytest.mark.parametrize("name, kind", FAILURES, ids=[f[1] for f in FAILURES])
def test_authentication_failures_are_401_invalid_client(client, clients, name, kind):
    headers, form = _case(clients, name, kind)
    response = post(client, headers, **form)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_secret_in_header_and_body_is_invalid_request(client, clients):
    c, s = clients["basic"]
    response = post(client, basic(c.client_id, s), client_secret=s)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_duplicated_client_id_is_invalid_request(client, clients):
    c, s = clients["post"]
    response = client.post(
        "/oauth2/token",
        data=MultiDict(
            [
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id),
                ("client_id", c.client_id),
                ("client_secret", s),
            ]
        ),
    )
    assert response.get_json()["error"] == "invalid_request"


def test_basic_credentials_are_form_urlencoded(client, clients):
    """RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before base64."""
    c, s = clients["basic"]
    with db.connection_context():
        c.client_id = "app:one+two/ü"
        c.save()
    raw = f"{quote_plus(c.client_id)}:{quote_plus(s)}".encode()
    response = post(client, {"Authorization": "Basic " + b64(raw)})
    assert response.status_code == 200, response.get_json()


def test_basic_scheme_is_case_insensitive(client, clients):
    c, s = clients["basic"]
    header = "bAsIc " + b64(f"{c.client_id}:{s}".encode())
    assert post(client, {"Authorization": header}).status_code == 200


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("Bearer abc", None),
        ("Basic " + b64(b"a%3Ab:c%2Bd"), ("a:b", "c+d")),
        ("Basic " + b64(b"a+b:c"), ("a b", "c")),
        ("Basic " + b64(b"id:"), ("id", "")),
    ],
)
def test_parse_basic(header, expected):
    assert parse_basic(header) == expected


@pytest.mark.parametrize("header", ["Basic !!", "Basic " + b64(b"nocolon"), "Basic " + b64(b":s")])
def test_parse_basic_malformed(header):
    with pytest.raises(OAuthError) as info:
        parse_basic(header)
    assert info.value.error == "invalid_client"
    assert info.value.headers["WWW-Authenticate"].startswith("Basic")


def test_successful_authentication_records_last_use(client, clients):
    c, s = clients["basic"]
    assert post(client, basic(c.client_id, s)).status_code == 200
    with db.connection_context():
        first = ClientSecret.get(ClientSecret.client == c).last_used_at
    assert first is not None
    assert post(client, basic(c.client_id, s)).status_code == 200
    with db.connection_context():
        # at most one write a minute
        assert ClientSecret.get(ClientSecret.client == c).last_used_at == first
