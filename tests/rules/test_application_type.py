"""application_type (OIDC Registration §2, MCP SEP-837): which redirect URIs each type may
register, in the one validator behind registration, metadata documents and the management API."""

from __future__ import annotations

import pytest

from models import PersonalAccessToken, db
from oauth import crypto
from oauth.errors import InvalidRedirectUri
from oauth.rules.client_metadata import check_client_metadata, validate_app
from tests.helpers.common import login

LOOPBACK = "http://127.0.0.1:33418/callback"
PRIVATE_USE = "com.example.app:/callback"
HTTPS = "https://app.example/callback"
API = "/api/v2/oauth2-provider/apps"


def metadata(kind: str | None, *uris: str) -> dict:
    body = {"client_name": "App", "redirect_uris": list(uris)}
    if kind is not None:
        body["application_type"] = kind
    return body


@pytest.mark.parametrize("uri", [LOOPBACK, PRIVATE_USE, HTTPS])
def test_native_clients_may_use_loopback_private_use_and_https(uri):
    clean = check_client_metadata(metadata("native", uri))
    assert clean["application_type"] == "native"
    assert clean["application_type_declared"] is True


@pytest.mark.parametrize(
    "uri", [LOOPBACK, PRIVATE_USE, "https://127.0.0.1:8443/cb", "https://localhost/cb"]
)
def test_declared_web_clients_use_https_on_a_public_host_only(uri):
    with pytest.raises(InvalidRedirectUri, match="web client"):
        check_client_metadata(metadata("web", HTTPS, uri))
    assert check_client_metadata(metadata("web", HTTPS))["application_type"] == "web"


@pytest.mark.parametrize("uri", [LOOPBACK, PRIVATE_USE, HTTPS])
def test_omitted_means_web_but_keeps_the_redirects_mcp_clients_used_before(uri):
    clean = check_client_metadata(metadata(None, uri))
    assert (clean["application_type"], clean["application_type_declared"]) == ("web", False)


def test_registration_refuses_and_echoes(client):
    refused = client.post("/oauth2/register", json=metadata("web", LOOPBACK))
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_redirect_uri"
    native = client.post("/oauth2/register", json=metadata("native", LOOPBACK))
    assert native.status_code == 201
    assert native.get_json()["application_type"] == "native"
    omitted = client.post("/oauth2/register", json=metadata(None, LOOPBACK))
    assert omitted.status_code == 201
    assert omitted.get_json()["application_type"] == "web"  # OIDC Registration §2 default


def test_metadata_documents_go_through_the_same_rule():
    # client_id_metadata.py hands the fetched document to check_client_metadata as it is.
    document = {"client_id": "https://app.example/client.json", **metadata("web", LOOPBACK)}
    with pytest.raises(InvalidRedirectUri):
        check_client_metadata({**document, "token_endpoint_auth_method": "none"})


def test_management_shape_null_means_not_declared():
    base = {"name": "App", "redirect_uris": [LOOPBACK]}
    clean, problems = validate_app(base)
    assert problems == []
    assert (clean["application_type"], clean["application_type_declared"]) == ("web", False)
    _, problems = validate_app({**base, "application_type": "web"})
    assert [p["field"] for p in problems] == ["redirect_uris[0]"]
    _, problems = validate_app({**base, "application_type": "desktop"})
    assert [p["field"] for p in problems] == ["application_type"]


def test_management_api_and_admin_page(client, admin):
    value, digest = crypto.new_secret(crypto.PERSONAL_TOKEN)
    with db.connection_context():
        PersonalAccessToken.create(user=admin, token_hash=digest)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {value}"
    assert login(client, "root", "admin password 123").status_code == 302  # for the page
    body = {"name": "CLI", "client_type": "public", "redirect_uris": [LOOPBACK]}
    created = client.post(API, json={**body, "application_type": "native"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["application_type"] == "native"
    client_id = created.get_json()["client_id"]
    # A PATCH that leaves it alone keeps it declared; one that sets web re-checks the URIs.
    patched = client.patch(f"{API}/{client_id}", json={"name": "CLI 2"})
    assert patched.get_json()["application_type"] == "native"
    refused = client.patch(f"{API}/{client_id}", json={"application_type": "web"})
    assert refused.status_code == 400
    page = client.get(f"/admin/apps/{client_id}").get_data(as_text=True)
    assert "native application</span>" in page
    omitted = client.post(API, json=body)
    assert omitted.get_json()["application_type"] is None
    page = client.get(f"/admin/apps/{omitted.get_json()['client_id']}").get_data(as_text=True)
    assert "web application (not declared)" in page
