"""Issue 9 §1: Gatehouse is no redirector anyone can register (RFC 9700 §4.11.2).

Before consent, an error for an unvetted client with an https redirect URI on a real host is
a page with a link; after consent, for vetted clients and for native apps' URIs, it redirects.
Post-logout redirection needs a valid id_token_hint issued to the client (RP-Initiated
Logout §2-3).
"""

from __future__ import annotations

from html import unescape

import pytest

from models import Client, db
from oauth.rules import id_token as claims
from tests.helpers import ISSUER
from tests.helpers.authorize import approve, params, sign_in
from tests.helpers.common import make_client, query_of

EVIL = "https://evil.example/cb"


def register(http, redirect_uri: str) -> str:
    body = {"client_name": "Anon", "redirect_uris": [redirect_uri]}
    response = http.post("/oauth2/register", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["client_id"]


def test_self_registered_client_cannot_bounce_people_to_its_site(client):
    # The reproduction: an implicit-flow request (unsupported) used to 302 straight to evil.
    client_id = register(client, EVIL)
    query = {"client_id": client_id, "redirect_uri": EVIL, "response_type": "token"}
    response = client.get("/oauth2/authorize", query_string=query)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    html = unescape(response.get_data(as_text=True))
    assert 'id="target-host">evil.example<' in html  # names where the link goes
    assert f'href="{EVIL}?error=unsupported_response_type' in html  # and links, once clicked
    assert "no administrator has reviewed it" in html


def test_errors_before_consent_of_a_signed_in_person_are_pages_too(client, user):
    client_id = register(client, EVIL)
    sign_in(client)
    query = params(client_id, redirect_uri=EVIL, prompt="none")  # consent_required
    response = client.get("/oauth2/authorize", query_string=query)
    assert response.status_code == 400
    assert "consent_required" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:9999/callback", "http://localhost:7777/cb", "com.example.app:/oauth"],
)
def test_native_apps_errors_still_redirect(client, redirect_uri):
    client_id = register(client, redirect_uri)
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "token"}
    response = client.get("/oauth2/authorize", query_string=query)
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "unsupported_response_type"


def test_vetted_clients_errors_still_redirect(client):
    vetted, _ = make_client(redirect_uris=[EVIL])
    query = {"client_id": vetted.client_id, "redirect_uri": EVIL, "response_type": "token"}
    response = client.get("/oauth2/authorize", query_string=query)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(EVIL + "?error=unsupported_response_type")


def test_errors_after_consent_still_redirect(client, user):
    # The person saw the consent page, which names the destination: deny goes back as usual.
    client_id = register(client, EVIL)
    sign_in(client)
    consent = client.get("/oauth2/authorize", query_string=params(client_id, redirect_uri=EVIL))
    assert consent.status_code == 200
    response = approve(client, consent, "deny")
    assert response.status_code == 303
    assert query_of(response.headers["Location"])["error"] == "access_denied"


# -- RP-initiated logout -------------------------------------------------------------------


@pytest.fixture
def rp(app):
    """A self-registered relying party that listed evil.example as its post-logout URI."""
    row, _ = make_client("RP", registration="dynamic")
    with db.connection_context():
        Client.update(post_logout_redirect_uris=[EVIL]).where(Client.id == row.id).execute()
    return row


def test_logout_without_hint_never_redirects(client, rp):
    # The reproduction: client_id + post_logout_redirect_uri, no id_token_hint, used to 302.
    query = {"client_id": rp.client_id, "post_logout_redirect_uri": EVIL}
    response = client.get("/oauth2/logout", query_string=query)
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert b'id="logged-out"' in response.data


def test_logout_with_a_hint_for_another_client_never_redirects(client, user, rp):
    other, _ = make_client("Other")
    with db.connection_context():
        hint = claims.id_token(user, other.client_id, ["openid"], ISSUER, 300)
    query = {"id_token_hint": hint, "post_logout_redirect_uri": EVIL}
    response = client.get("/oauth2/logout", query_string=query)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_logout_with_a_valid_hint_redirects_to_a_registered_uri(client, user, rp):
    with db.connection_context():
        hint = claims.id_token(user, rp.client_id, ["openid"], ISSUER, 300)
    query = {"id_token_hint": hint, "post_logout_redirect_uri": EVIL, "state": "s"}
    response = client.get("/oauth2/logout", query_string=query)
    assert response.status_code == 302
    assert response.headers["Location"] == EVIL + "?state=s"
