"""id_token_signed_response_alg (OIDC Registration §2): RS256 by default, ES256 on request,
in the one validator behind registration, the management API, the admin form and the CLI;
the id_token is signed with the client's algorithm and verifies with the published JWKS."""

from __future__ import annotations

import json

import jwt
import pytest

from models import Client, PersonalAccessToken, db
from oauth import crypto
from oauth.errors import InvalidClientMetadata
from oauth.rules.client_metadata import check_client_metadata
from tests.helpers import ISSUER
from tests.helpers.common import login
from tests.helpers.tokens import REDIRECT_URI, refresh, tokens_for

API = "/api/v2/oauth2-provider/apps"


def register(client, **metadata):
    body = {
        "client_name": "RP",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        **metadata,
    }
    return client.post("/oauth2/register", json=body)


def verified_from_jwks(client, token: str, audience: str) -> tuple[dict, dict]:
    """(header, claims) of `token`, checked as a relying party does: the key by `kid` from
    the published JWK Set, the algorithm that key declares."""
    header = jwt.get_unverified_header(token)
    jwk_set = jwt.PyJWKSet.from_dict(client.get("/oauth2/jwks").get_json())
    key = next(k for k in jwk_set.keys if k.key_id == header["kid"])
    claims = jwt.decode(
        token, key.key, algorithms=[key.algorithm_name], audience=audience, issuer=ISSUER
    )
    return header, claims


@pytest.mark.parametrize(("requested", "expected"), [("ES256", "ES256"), (None, "RS256")])
def test_registered_alg_signs_the_id_tokens(client, user, requested, expected):
    metadata = {"id_token_signed_response_alg": requested} if requested else {}
    registered = register(client, **metadata)
    assert registered.status_code == 201, registered.get_json()
    info = registered.get_json()
    assert info["id_token_signed_response_alg"] == expected  # echoed (RFC 7591 §3.2.1)
    with db.connection_context():
        row = Client.by_client_id(info["client_id"])
    body = tokens_for(client, row, info["client_secret"], user, nonce="n-1")
    header, claims = verified_from_jwks(client, body["id_token"], row.client_id)
    assert header["alg"] == expected and claims["nonce"] == "n-1"
    renewed = refresh(client, row, info["client_secret"], body["refresh_token"]).get_json()
    assert verified_from_jwks(client, renewed["id_token"], row.client_id)[0]["alg"] == expected
    reading = client.get(
        info["registration_client_uri"].removeprefix(ISSUER),
        headers={"Authorization": f"Bearer {info['registration_access_token']}"},
    )
    assert reading.get_json()["id_token_signed_response_alg"] == expected  # RFC 7592 read


@pytest.mark.parametrize("alg", ["HS256", "none", "RS512", "es256", "", 256, ["ES256"]])
def test_registration_refuses_other_algs(client, alg):
    response = register(client, id_token_signed_response_alg=alg)
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["error"] == "invalid_client_metadata"
    assert body["error_description"].startswith("id_token_signed_response_alg must be one of")


@pytest.fixture
def api(client, admin):
    value, digest = crypto.new_secret(crypto.PERSONAL_TOKEN)
    with db.connection_context():
        PersonalAccessToken.create(user=admin, token_hash=digest)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {value}"
    return client


def test_management_api_sets_checks_and_shows_it(api):
    body = {"name": "App", "redirect_uris": [REDIRECT_URI]}
    default = api.post(API, json=body).get_json()
    assert default["id_token_signed_response_alg"] == "RS256"
    created = api.post(API, json={**body, "id_token_signed_response_alg": "ES256"})
    assert created.status_code == 201, created.get_json()
    client_id = created.get_json()["client_id"]
    assert created.get_json()["id_token_signed_response_alg"] == "ES256"
    patched = api.patch(f"{API}/{client_id}", json={"name": "App 2"})
    assert patched.get_json()["id_token_signed_response_alg"] == "ES256"  # kept
    refused = api.patch(f"{API}/{client_id}", json={"id_token_signed_response_alg": "HS256"})
    assert refused.status_code == 400
    fields = [p["field"] for p in refused.get_json()["validations"]]
    assert fields == ["id_token_signed_response_alg"]
    assert api.get(f"{API}/{client_id}").get_json()["id_token_signed_response_alg"] == "ES256"


FORM = {
    "name": "Web App",
    "client_type": "confidential",
    "token_endpoint_auth_method": "",
    "redirect_uris": REDIRECT_URI,
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "",
    "logo_uri": "",
    "client_uri": "",
}


def test_admin_form_sets_it_and_shows_the_validators_error(client, admin):
    assert login(client, "root", "admin password 123").status_code == 302
    assert 'name="id_token_signed_response_alg"' in client.get("/admin/apps/new").get_data(
        as_text=True
    )
    refused = client.post("/admin/apps/new", data={**FORM, "id_token_signed_response_alg": "HS256"})
    assert refused.status_code == 200
    assert "must be one of RS256, ES256" in refused.get_data(as_text=True)
    with db.connection_context():
        assert Client.select().count() == 0
    created = client.post("/admin/apps/new", data={**FORM, "id_token_signed_response_alg": "ES256"})
    assert created.status_code == 303
    with db.connection_context():
        row = Client.get()
    assert row.id_token_signed_response_alg == "ES256"
    page = client.get(f"/admin/apps/{row.client_id}").get_data(as_text=True)
    assert "id_tokens ES256" in page
    edit = client.get(f"/admin/apps/{row.client_id}/edit").get_data(as_text=True)
    assert '<option selected value="ES256">' in edit


def test_cli_create_takes_id_token_alg(runner):
    args = ["clients", "create", "--name", "CLI", "--redirect-uri", REDIRECT_URI, "--json"]
    result = runner.invoke(args=[*args, "--id-token-alg", "ES256"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id_token_signed_response_alg"] == "ES256"
    default = runner.invoke(args=args)
    assert json.loads(default.stdout)["id_token_signed_response_alg"] == "RS256"
    refused = runner.invoke(args=[*args, "--id-token-alg", "HS256"])
    assert refused.exit_code != 0


def test_metadata_documents_and_rfc7592_updates_go_through_the_same_rule(client):
    # client_id_metadata.py hands the fetched document to check_client_metadata as it is.
    document = {
        "client_id": "https://app.example/client.json",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    }
    clean = check_client_metadata({**document, "id_token_signed_response_alg": "ES256"})
    assert clean["id_token_signed_response_alg"] == "ES256"
    assert check_client_metadata(document)["id_token_signed_response_alg"] == "RS256"
    with pytest.raises(InvalidClientMetadata):
        check_client_metadata({**document, "id_token_signed_response_alg": "PS256"})
    info = register(client).get_json()
    path = info["registration_client_uri"].removeprefix(ISSUER)
    auth = {"Authorization": f"Bearer {info['registration_access_token']}"}
    metadata = {k: info[k] for k in ("client_id", "redirect_uris", "grant_types")}
    updated = client.put(
        path, json={**metadata, "id_token_signed_response_alg": "ES256"}, headers=auth
    )
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["id_token_signed_response_alg"] == "ES256"
    with db.connection_context():
        assert Client.by_client_id(info["client_id"]).id_token_signed_response_alg == "ES256"
