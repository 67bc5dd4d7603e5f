"""POST /oauth2/revoke (RFC 7009)."""

from __future__ import annotations

import pytest

from models import TokenFamily, db
from tests.helpers.common import basic, make_client
from tests.helpers.tokens import auth, live_access_tokens, refresh, tokens_for


def revoke(http, c, s, token, **extra):
    headers, form = auth(c, s)
    form.update(token=token, **extra)
    return http.post("/oauth2/revoke", data=form, headers=headers)


def me(http, token):
    return http.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token", "bogus"])
def test_revoking_an_access_token(client, oauth_client, user, hint):
    c, s = oauth_client
    body = tokens_for(client, c, s, user)
    extra = {"token_type_hint": hint} if hint else {}
    response = revoke(client, c, s, body["access_token"], **extra)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert me(client, body["access_token"]).status_code == 401
    # the refresh token is untouched (RFC 7009 §2.1 makes that a MAY; we keep it)
    assert refresh(client, c, s, body["refresh_token"]).status_code == 200


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_revoking_a_refresh_token_kills_the_family(client, oauth_client, user, hint):
    c, s = oauth_client
    body = tokens_for(client, c, s, user)
    extra = {"token_type_hint": hint} if hint else {}
    assert revoke(client, c, s, body["refresh_token"], **extra).status_code == 200
    assert live_access_tokens() == 0
    with db.connection_context():
        assert TokenFamily.get().revoked_at is not None  # and so its refresh token
    assert refresh(client, c, s, body["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert me(client, body["access_token"]).status_code == 401


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_another_clients_token_is_200_and_untouched(client, oauth_client, user, which):
    c, s = oauth_client
    other, other_secret = make_client("Other")
    body = tokens_for(client, c, s, user)
    assert revoke(client, other, other_secret, body[which]).status_code == 200
    assert live_access_tokens() == 1
    assert me(client, body["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "token", ["gat_unknown", "grt_unknown", "garbage", "x" * 5000, "gac_" + "a" * 43]
)
def test_unknown_or_malformed_tokens_are_200(client, oauth_client, token):
    c, s = oauth_client
    assert revoke(client, c, s, token).status_code == 200


def test_public_client_revokes_with_client_id(client, public_client, user):
    body = tokens_for(client, public_client, None, user)
    assert revoke(client, public_client, None, body["refresh_token"]).status_code == 200
    assert live_access_tokens() == 0


ERRORS = [
    # (id, headers kind, form, status, error)
    ("no credentials", "none", {"token": "gat_x"}, 401, "invalid_client"),
    ("client_id only", "id only", {"token": "gat_x"}, 401, "invalid_client"),
    ("wrong secret", "wrong", {"token": "gat_x"}, 401, "invalid_client"),
    ("no token", "basic", {}, 400, "invalid_request"),
    ("duplicate token", "basic", {"token": ["gat_a", "gat_b"]}, 400, "invalid_request"),
]


@pytest.mark.parametrize(
    "kind, form, status, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors(client, oauth_client, kind, form, status, error):
    c, s = oauth_client
    headers = {
        "none": {},
        "id only": {},
        "wrong": basic(c.client_id, s + "x"),
        "basic": basic(c.client_id, s),
    }[kind]
    if kind == "id only":
        form = {**form, "client_id": c.client_id}
    response = client.post("/oauth2/revoke", data=form, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_get_is_405(client):
    response = client.get("/oauth2/revoke")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
