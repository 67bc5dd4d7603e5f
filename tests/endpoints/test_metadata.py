"""Discovery documents: RFC 8414, OIDC Discovery, RFC 9728 and the JWKS."""

from __future__ import annotations

import pytest

from app import create_app
from models import Resource, db
from tests.helpers import ISSUER

AS_DOCS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


@pytest.mark.parametrize("path", AS_DOCS)
def test_metadata_fields(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["issuer"] == ISSUER
    expected = {
        "authorization_endpoint": "/oauth2/authorize",
        "token_endpoint": "/oauth2/token",
        "revocation_endpoint": "/oauth2/revoke",
        "introspection_endpoint": "/oauth2/introspect",
        "userinfo_endpoint": "/oauth2/userinfo",
        "jwks_uri": "/oauth2/jwks",
        "registration_endpoint": "/oauth2/register",
        "device_authorization_endpoint": "/oauth2/device_authorization",
        "end_session_endpoint": "/oauth2/logout",
    }
    for key, suffix in expected.items():
        assert doc[key] == ISSUER + suffix, key
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
    methods = {"client_secret_basic", "client_secret_post", "none"}
    assert set(doc["token_endpoint_auth_methods_supported"]) == methods
    assert set(doc["revocation_endpoint_auth_methods_supported"]) == methods
    assert "none" not in doc["introspection_endpoint_auth_methods_supported"]
    assert doc["scopes_supported"] == sorted(doc["scopes_supported"])
    assert {"openid", "profile", "email", "offline_access"} <= set(doc["scopes_supported"])
    assert {"sub", "iss", "email", "preferred_username"} <= set(doc["claims_supported"])
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["request_uri_parameter_supported"] is False
    assert set(doc["prompt_values_supported"]) >= {"none", "login", "consent"}


def test_both_documents_are_identical(client):
    first, second = (client.get(path).get_json() for path in AS_DOCS)
    assert first == second
    assert not first["issuer"].endswith("/")


@pytest.mark.parametrize(
    "path",
    [
        *AS_DOCS,
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/api/v2",
        "/oauth2/jwks",
    ],
)
def test_public_documents_are_cacheable_and_cors(client, path):
    response = client.get(path, headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "no-store" not in response.headers.get("Pragma", "")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("path", [*AS_DOCS, "/oauth2/jwks"])
def test_preflight_is_answered(client, path):
    response = client.options(
        path,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "mcp-protocol-version",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "mcp-protocol-version" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("policy, advertised", [("open", True), ("admin", True), ("off", False)])
def test_registration_endpoint_follows_policy(config, policy, advertised):
    from oauth.ops.migrations import upgrade

    config["REGISTRATION"] = policy
    upgrade(config["DATABASE"])
    app = create_app(config)
    for path in AS_DOCS:
        doc = app.test_client().get(path).get_json()
        assert ("registration_endpoint" in doc) is advertised
    db.close()


def test_registered_resource_scopes_are_published(app, client):
    with db.connection_context():
        Resource.create(uri="https://mcp.example/mcp", name="MCP", scopes="mcp:tools files.read")
    scopes = client.get(AS_DOCS[0]).get_json()["scopes_supported"]
    assert {"mcp:tools", "files.read"} <= set(scopes)


# -- an issuer with a path (RFC 8414 §3.1 path insertion) ---------------------------------


@pytest.fixture
def tenant_client(config):
    from oauth.ops.migrations import upgrade

    config["ISSUER"] = "http://127.0.0.1:8000/tenant/"  # normalised: the slash goes
    upgrade(config["DATABASE"])
    app = create_app(config)
    yield app.test_client()
    db.close()


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-authorization-server/tenant",  # RFC 8414 §3.1
        "/.well-known/openid-configuration/tenant",  # RFC 8414 §5 compatibility form
        "/tenant/.well-known/openid-configuration",  # OIDC Discovery §4.1
    ],
)
def test_path_insertion(tenant_client, path):
    response = tenant_client.get(path)
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["issuer"] == "http://127.0.0.1:8000/tenant"
    assert doc["token_endpoint"] == "http://127.0.0.1:8000/tenant/oauth2/token"


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-authorization-server",  # would name the issuer without the path
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/other",
        "/.well-known/oauth-authorization-server/tenant/extra",
    ],
)
def test_path_issuer_refuses_other_forms(tenant_client, path):
    assert tenant_client.get(path).status_code == 404


def test_path_issuer_protected_resource(tenant_client):
    doc = tenant_client.get("/.well-known/oauth-protected-resource/tenant").get_json()
    assert doc["resource"] == "http://127.0.0.1:8000/tenant"
    assert doc["authorization_servers"] == ["http://127.0.0.1:8000/tenant"]
    api = tenant_client.get("/.well-known/oauth-protected-resource/tenant/api/v2").get_json()
    assert api["resource"] == "http://127.0.0.1:8000/tenant/api/v2"
    # The root form names the bare origin, which is not a resource here.
    assert tenant_client.get("/.well-known/oauth-protected-resource").status_code == 404


# -- RFC 9728 ------------------------------------------------------------------------------


def test_protected_resource_root(client):
    doc = client.get("/.well-known/oauth-protected-resource").get_json()
    assert doc == {
        "resource": ISSUER,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["openid", "profile", "email"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Gatehouse API",
    }


@pytest.mark.parametrize(
    "path, resource",
    [
        ("/.well-known/oauth-protected-resource/api/v2", f"{ISSUER}/api/v2"),
        ("/.well-known/oauth-protected-resource/api/v2/users/me", f"{ISSUER}/api/v2/users/me"),
        ("/api/v2/.well-known/oauth-protected-resource", f"{ISSUER}/api/v2"),
    ],
)
def test_protected_resource_is_path_aware(client, path, resource):
    doc = client.get(path).get_json()
    assert doc["resource"] == resource
    assert doc["authorization_servers"] == [ISSUER]
    assert doc["bearer_methods_supported"] == ["header"]


def test_registered_resource_on_our_origin(app, client):
    with db.connection_context():
        Resource.create(uri=f"{ISSUER}/mcp", name="Tools", scopes="mcp")
        Resource.create(uri="https://elsewhere.example/mcp", name="Far", scopes="x")
    doc = client.get("/.well-known/oauth-protected-resource/mcp").get_json()
    assert doc["resource"] == f"{ISSUER}/mcp"
    assert doc["scopes_supported"] == ["mcp"]
    assert doc["resource_name"] == "Tools"
    assert doc["authorization_servers"] == [ISSUER]


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource/nothing",
        "/.well-known/oauth-protected-resource/apiv2",
    ],
)
def test_unknown_documents_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert "public" not in response.headers.get("Cache-Control", "")


# -- JWKS ----------------------------------------------------------------------------------


PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_jwks_is_public_only(client):
    response = client.get("/oauth2/jwks")
    assert response.status_code == 200
    keys = response.get_json()["keys"]
    assert sorted((key["kty"], key["alg"]) for key in keys) == [("EC", "ES256"), ("RSA", "RS256")]
    for key in keys:
        assert key["use"] == "sig" and key["kid"]
        assert not PRIVATE_MEMBERS & set(key)
    assert next(key for key in keys if key["kty"] == "EC")["crv"] == "P-256"


def test_jwks_verifies_an_id_token(app, client, user):
    import jwt

    from oauth.rules import id_token as claims

    with app.app_context(), db.connection_context():
        token = claims.id_token(user, "client-1", ["openid"], ISSUER, 60)
    jwk_set = jwt.PyJWKSet.from_dict(client.get("/oauth2/jwks").get_json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwk_set.keys if k.key_id == kid)
    decoded = jwt.decode(token, key.key, algorithms=["RS256"], audience="client-1", issuer=ISSUER)
    assert decoded["sub"] == user.sub


def test_claims_supported_is_exactly_what_we_release(app, client, user):
    import jwt

    from oauth.rules import id_token as claims

    scopes = ["openid", "profile", "email"]
    with app.app_context(), db.connection_context():
        token = claims.id_token(user, "c", scopes, ISSUER, 60, nonce="n", access_token="gat_x")
    released = set(jwt.decode(token, options={"verify_signature": False}))
    assert released == set(client.get(AS_DOCS[0]).get_json()["claims_supported"])


# What DiscoveryFastPath (app.py) answers once this worker built the document, bypassing Flask.
FAST_PATHS = {
    "/.well-known/oauth-authorization-server": "metadata.authorization_server",
    "/.well-known/openid-configuration": "metadata.openid_configuration",
    "/oauth2/jwks": "metadata.jwks",
}


def _view_must_not_run(**kwargs):
    raise AssertionError("the view answered, not the fast path")


def _headers_but_the_id(response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k != "X-Request-Id")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("path", "endpoint"), FAST_PATHS.items())
def test_built_documents_are_answered_as_the_view_answers(app, client, path, endpoint, method):
    client.open(path, method=method)  # the view builds it (the JWKS creates its keys first)
    first = client.open(path, method=method)  # the view, with the keys' version current
    app.view_functions[endpoint] = _view_must_not_run
    second = client.open(path, method=method)
    assert first.status_code == second.status_code == 200
    assert second.data == first.data
    assert _headers_but_the_id(second) == _headers_but_the_id(first)
    requests = app.extensions["gatehouse_metrics"].requests
    assert requests.labels(endpoint, method, "200")._value.get() == 3  # all counted


@pytest.mark.parametrize("path", FAST_PATHS)
def test_the_fast_path_leaves_everything_else_to_the_view(app, client, path):
    client.get(path)
    client.get(path)  # built, and current
    assert client.get(path, headers={"Host": "rebind.attacker.example"}).status_code == 421
    etag = client.get(path).headers["ETag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.post(path).status_code == 405
