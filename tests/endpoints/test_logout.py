"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-3)."""

from __future__ import annotations

import re

import jwt
import pytest

from models import Client, UserSession, db
from oauth.rules import id_token as claims
from tests.helpers import ISSUER
from tests.helpers.common import login, make_client, query_of

BYE = "https://rp.example/bye"


@pytest.fixture
def rp(app):
    row, _ = make_client(name="Relying Party")
    with db.connection_context():
        Client.update(post_logout_redirect_uris=[BYE]).where(Client.id == row.id).execute()
    return row


def hint_for(user, client_id: str, ttl: int = 300, issuer: str = ISSUER, alg: str = "RS256") -> str:
    with db.connection_context():
        return claims.id_token(user, client_id, ["openid"], issuer, ttl, alg=alg)


def signed_in(client) -> bool:
    with db.connection_context():
        return UserSession.select().where(UserSession.revoked_at.is_null()).count() > 0


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("ttl", [300, -3600])  # an expired hint is still a fine hint (§2)
@pytest.mark.parametrize("alg", ["RS256", "ES256"])  # the client's id_token_signed_response_alg
def test_valid_hint_signs_out_and_redirects_with_state(client, user, rp, method, ttl, alg):
    login(client)
    assert signed_in(client)
    params = {
        "id_token_hint": hint_for(user, rp.client_id, ttl, alg=alg),
        "post_logout_redirect_uri": BYE,
        "state": "xyz 123",
    }
    if method == "GET":
        response = client.get("/oauth2/logout", query_string=params)
    else:
        response = client.post("/oauth2/logout", data=params)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(BYE + "?")
    assert query_of(response.headers["Location"]) == {"state": "xyz 123"}
    assert not signed_in(client)


def test_valid_hint_without_redirect_shows_signed_out_page(client, user, rp):
    login(client)
    response = client.get(
        "/oauth2/logout", query_string={"id_token_hint": hint_for(user, rp.client_id)}
    )
    assert response.status_code == 200
    assert b'id="logged-out"' in response.data
    assert not signed_in(client)


def test_hint_when_nobody_is_signed_in_still_redirects(client, user, rp):
    params = {"id_token_hint": hint_for(user, rp.client_id), "post_logout_redirect_uri": BYE}
    response = client.get("/oauth2/logout", query_string=params)
    assert response.status_code == 302
    assert response.headers["Location"] == BYE


def forged_hint(user, client_id: str, alg: str = "RS256") -> str:
    """A real hint's claims and `kid`, signed by a key of the same kind that is not ours."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    real = hint_for(user, client_id, alg=alg)
    kid = jwt.get_unverified_header(real)["kid"]
    body = jwt.decode(real, options={"verify_signature": False})
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


@pytest.mark.parametrize(
    "case, message",
    [
        ("garbage", "not an ID token"),
        ("forged", "not an ID token"),
        ("forged_es256", "not an ID token"),
        ("other_issuer", "not an ID token"),
        ("unregistered_uri", "not registered"),
        ("client_mismatch", "does not match"),
        ("near_miss_uri", "not registered"),
    ],
)
def test_refused_requests_never_redirect(client, user, rp, case, message):
    login(client)
    hint = hint_for(user, rp.client_id)
    params = {"id_token_hint": hint, "post_logout_redirect_uri": BYE}
    if case == "garbage":
        params["id_token_hint"] = "eyJhbGciOiJub25lIn0.e30."
    elif case == "forged":
        params["id_token_hint"] = forged_hint(user, rp.client_id)
    elif case == "forged_es256":
        params["id_token_hint"] = forged_hint(user, rp.client_id, "ES256")
    elif case == "other_issuer":
        params["id_token_hint"] = hint_for(user, rp.client_id, issuer="https://evil.example")
    elif case == "unregistered_uri":
        params["post_logout_redirect_uri"] = "https://evil.example/"
    elif case == "client_mismatch":
        params["client_id"] = "someone-else"
    elif case == "near_miss_uri":
        params["post_logout_redirect_uri"] = BYE + "/"
    response = client.get("/oauth2/logout", query_string=params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert message in response.get_data(as_text=True)
    assert signed_in(client)


def confirmation(client, **params):
    response = client.get("/oauth2/logout", query_string=params)
    assert response.status_code == 200
    assert b'id="logout-form"' in response.data
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', response.get_data(as_text=True)))
    return response, fields


def test_without_hint_asks_first_and_never_redirects(client, user, rp):
    login(client)
    _, fields = confirmation(
        client, client_id=rp.client_id, post_logout_redirect_uri=BYE, state="s1"
    )
    assert signed_in(client)  # the GET alone changes nothing
    assert fields["client_id"] == rp.client_id
    fields.pop("decision", None)
    response = client.post("/oauth2/logout", data={**fields, "decision": "logout"})
    assert response.status_code == 200  # no hint: the registered URI is still not used (§2)
    assert "Location" not in response.headers
    assert b'id="logged-out"' in response.data
    assert not signed_in(client)


def test_stay_signed_in(client, user):
    login(client)
    _, fields = confirmation(client)
    response = client.post("/oauth2/logout", data={"decision": "stay"})
    assert response.status_code == 200
    assert b'id="stayed"' in response.data
    assert signed_in(client)


def test_hint_for_another_user_asks_first(client, user, admin, rp):
    login(client)  # alice is signed in; the hint names root
    response, _ = confirmation(client, id_token_hint=hint_for(admin, rp.client_id))
    assert signed_in(client)


def test_confirmation_is_csrf_protected(config, user, rp):
    from app import create_app

    config["WTF_CSRF_ENABLED"] = True
    app = create_app(config)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery", "csrf_token": token},
    )
    assert signed_in(client)
    forged = client.post("/oauth2/logout", data={"decision": "logout"})
    assert forged.status_code == 400
    assert signed_in(client)
    _, fields = confirmation(client)
    assert fields["csrf_token"]
    response = client.post(
        "/oauth2/logout", data={"csrf_token": fields["csrf_token"], "decision": "logout"}
    )
    assert response.status_code == 200
    assert not signed_in(client)
