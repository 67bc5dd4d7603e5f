"""The OpenAPI 3.1 document for Gatehouse's JSON endpoints: protocol, management, operations.

Served at /openapi.json and rendered as the reference page /api/docs. Schemathesis checks the
running server against it (tests/test_schemathesis.py), so every status an operation can
answer is listed, with the shape of its body. The components live in oauth/openapi_schemas.py.
"""

from __future__ import annotations

from typing import Any

from oauth.openapi_schemas import (
    ADMIN,
    ADMIN_ERRORS,
    BEARER_ERRORS,
    CLIENT_AUTH,
    COMMON,
    JSON,
    MOCK_ERRORS,
    NO_STORE,
    PROTOCOL_ERRORS,
    RETRY_AFTER,
    SCHEMAS,
    SECURITY_SCHEMES,
    api_error,
    body,
    form,
    integer,
    json_body,
    oauth_error,
    obj,
    op,
    ref,
    string,
)

CLIENT_FIELDS = {"client_id": string, "client_secret": string}
GRANTS = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
]
PATH_PARAM = {"name": "client_id", "in": "path", "required": True, "schema": string}
SECRET_PARAM = {"name": "secret_id", "in": "path", "required": True, "schema": integer}


def paths() -> dict[str, Any]:
    """Every JSON operation, by path and method."""
    well_known = {"200": body("ServerMetadata", "Authorization server metadata")}
    prm = {"200": body("ProtectedResourceMetadata", "Protected resource metadata (RFC 9728)")}
    apps = "/api/v2/oauth2-provider/apps"
    return {
        "/.well-known/oauth-authorization-server": {
            "get": op(
                "Authorization server metadata (RFC 8414)", "discovery", well_known, security=[]
            )
        },
        "/.well-known/openid-configuration": {
            "get": op("OpenID Connect Discovery 1.0", "discovery", well_known, security=[])
        },
        "/.well-known/oauth-protected-resource": {
            "get": op(
                "Metadata of the built-in API as a protected resource (RFC 9728)",
                "discovery",
                prm,
                security=[],
            )
        },
        "/.well-known/oauth-protected-resource/{resource_path}": {
            "get": op(
                "Metadata of a registered resource, path-aware (RFC 9728 §3.1)",
                "discovery",
                {**prm, "404": oauth_error("No resource at that URL")},
                security=[],
                parameters=[
                    {"name": "resource_path", "in": "path", "required": True, "schema": string}
                ],
            )
        },
        "/oauth2/jwks": {
            "get": op(
                "Signing keys (RFC 7517)",
                "discovery",
                {"200": body("JWKS", "The JWK set")},
                security=[],
            )
        },
        "/oauth2/token": {
            "post": op(
                "Token endpoint (RFC 6749 §3.2): code, refresh, client credentials, device code",
                "protocol",
                {
                    "200": body("TokenResponse", "Tokens (RFC 6749 §5.1)", NO_STORE),
                    **PROTOCOL_ERRORS,
                },
                security=CLIENT_AUTH,
                requestBody=form(
                    ["grant_type"],
                    grant_type={"type": "string", "enum": GRANTS},
                    code=string,
                    redirect_uri=string,
                    code_verifier=string,
                    refresh_token=string,
                    scope=string,
                    resource=string,
                    device_code=string,
                    **CLIENT_FIELDS,
                ),
            )
        },
        "/oauth2/revoke": {
            "post": op(
                "Revoke a token (RFC 7009)",
                "protocol",
                {
                    "200": {"description": "Revoked, or nothing to revoke", "headers": NO_STORE},
                    **PROTOCOL_ERRORS,
                },
                security=CLIENT_AUTH,
                requestBody=form(["token"], token=string, token_type_hint=string, **CLIENT_FIELDS),
            )
        },
        "/oauth2/introspect": {
            "post": op(
                "Introspect a token (RFC 7662), for confidential clients",
                "protocol",
                {"200": body("Introspection", "The token's state", NO_STORE), **PROTOCOL_ERRORS},
                security=CLIENT_AUTH,
                requestBody=form(["token"], token=string, token_type_hint=string, **CLIENT_FIELDS),
            )
        },
        "/oauth2/device_authorization": {
            "post": op(
                "Start a device flow (RFC 8628 §3.1)",
                "protocol",
                {
                    "200": body("DeviceAuthorization", "Device and user codes", NO_STORE),
                    **PROTOCOL_ERRORS,
                },
                security=CLIENT_AUTH,
                requestBody=form([], scope=string, resource=string, **CLIENT_FIELDS),
            )
        },
        "/oauth2/register": {
            "post": op(
                "Dynamic client registration (RFC 7591)",
                "registration",
                {
                    "201": body("ClientInformation", "The registered client", NO_STORE),
                    "400": oauth_error("invalid_client_metadata or invalid_redirect_uri"),
                    "401": oauth_error("An initial access token is required (admin policy)"),
                    "403": oauth_error("Registration is turned off"),
                    "429": oauth_error("Too many registrations from this address", RETRY_AFTER),
                    **COMMON,
                },
                security=[{}],
                requestBody=json_body("ClientMetadata"),
            )
        },
        "/oauth2/clients/{client_id}": {
            "parameters": [PATH_PARAM],
            **{
                method: op(
                    summary,
                    "registration",
                    {
                        **ok,
                        "400": oauth_error("invalid_client_metadata"),
                        "401": oauth_error("No valid registration access token"),
                        **COMMON,
                    },
                    security=[{"registrationToken": []}],
                    **extra,
                )
                for method, summary, ok, extra in (
                    (
                        "get",
                        "Read a registration (RFC 7592 §2.1)",
                        {"200": body("ClientInformation", "The client", NO_STORE)},
                        {},
                    ),
                    (
                        "put",
                        "Replace a registration (RFC 7592 §2.2)",
                        {"200": body("ClientInformation", "The client", NO_STORE)},
                        {"requestBody": json_body("ClientMetadata")},
                    ),
                    (
                        "delete",
                        "Delete a registration (RFC 7592 §2.3)",
                        {"204": {"description": "Deleted"}},
                        {},
                    ),
                )
            },
        },
        "/oauth2/userinfo": {
            method: op(
                "OpenID Connect UserInfo (OIDC Core §5.3)",
                "protocol",
                {
                    "200": body("UserInfo", "Claims the token's scopes release", NO_STORE),
                    "400": oauth_error("The token was sent in two places"),
                    **BEARER_ERRORS,
                    **COMMON,
                },
                security=[{"accessToken": []}],
            )
            for method in ("get", "post")
        },
        "/api/v2/users/me": {
            "get": op(
                "Who the access token belongs to (needs the profile scope)",
                "api",
                {"200": body("Me", "The token's user"), **BEARER_ERRORS, **COMMON},
                security=[{"accessToken": []}],
            )
        },
        apps: {
            "get": op(
                "List apps",
                "management",
                {"200": body("AppList", "A page of apps, newest first"), **ADMIN_ERRORS},
                security=ADMIN,
                parameters=[
                    {"name": "q", "in": "query", "schema": string},
                    {
                        "name": "vetted",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                    {"name": "limit", "in": "query", "schema": {**integer, "minimum": 1}},
                    {"name": "offset", "in": "query", "schema": {**integer, "minimum": 0}},
                ],
            ),
            "post": op(
                "Create an app (a confidential app's secret is shown once)",
                "management",
                {"201": body("App", "The new app", NO_STORE), **ADMIN_ERRORS},
                security=ADMIN,
                requestBody=json_body("AppInput"),
            ),
        },
        apps + "/{client_id}": {
            "parameters": [PATH_PARAM],
            "get": op(
                "Read an app",
                "management",
                {"200": body("App", "The app"), **ADMIN_ERRORS, "404": api_error("No such app")},
                security=ADMIN,
            ),
            **{
                method: op(
                    summary,
                    "management",
                    {
                        "200": body("App", "The app"),
                        **ADMIN_ERRORS,
                        "404": api_error("No such app"),
                    },
                    security=ADMIN,
                    requestBody=json_body("AppInput"),
                )
                for method, summary in (
                    ("put", "Replace an app's editable fields"),
                    ("patch", "Change some of an app's fields"),
                )
            },
            "delete": op(
                "Delete an app with its secrets and tokens",
                "management",
                {
                    "204": {"description": "Deleted"},
                    **ADMIN_ERRORS,
                    "404": api_error("No such app"),
                },
                security=ADMIN,
            ),
        },
        apps + "/{client_id}/vet": {
            "parameters": [PATH_PARAM],
            "post": op(
                "Vet a self-registered app: an administrator vouches for it (audited)",
                "management",
                {
                    "200": body("App", "The app, vetted"),
                    **ADMIN_ERRORS,
                    "404": api_error("No such app"),
                },
                security=ADMIN,
            ),
        },
        apps + "/{client_id}/secrets": {
            "parameters": [PATH_PARAM],
            "get": op(
                "List an app's secrets (last six characters only)",
                "management",
                {
                    "200": body("SecretList", "The secrets"),
                    **ADMIN_ERRORS,
                    "404": api_error("No such app"),
                },
                security=ADMIN,
            ),
            "post": op(
                "Add a secret (shown in this response only)",
                "management",
                {
                    "201": body("Secret", "The new secret", NO_STORE),
                    **ADMIN_ERRORS,
                    "404": api_error("No such app"),
                },
                security=ADMIN,
            ),
        },
        apps + "/{client_id}/secrets/{secret_id}": {
            "parameters": [PATH_PARAM, SECRET_PARAM],
            "delete": op(
                "Delete a secret and revoke the tokens minted with it",
                "management",
                {
                    "204": {"description": "Deleted"},
                    **ADMIN_ERRORS,
                    "404": api_error("No such app or secret"),
                },
                security=ADMIN,
            ),
        },
        "/healthz": {
            "get": op(
                "Liveness and a database round trip",
                "operations",
                {
                    "200": body("Health", "Serving"),
                    "503": body("Health", "The database does not answer"),
                },
                security=[],
            )
        },
        "/metrics": {
            "get": op(
                "Prometheus metrics (loopback or administrators)",
                "operations",
                {
                    "200": {
                        "description": "Prometheus text format 0.0.4",
                        "content": {"text/plain": {"schema": string}},
                    },
                    "403": oauth_error("Not loopback and not an administrator"),
                },
                security=[{}, *ADMIN],
            )
        },
    }


def mock_paths() -> dict[str, Any]:
    """The mock control API (registered only with GATEHOUSE_MOCK=1)."""
    base = "/api/v2/mock"
    auth = [{}, {"adminToken": []}]

    def mock(summary: str, ok: dict, **extra: Any) -> dict:
        return op(summary, "mock", {**ok, **MOCK_ERRORS}, security=auth, **extra)

    return {
        f"{base}/users/{{username}}": {
            "put": mock(
                "Create or update a user",
                {
                    "200": body("MockUser", "Updated", NO_STORE),
                    "201": body("MockUser", "Created", NO_STORE),
                },
                parameters=[{"name": "username", "in": "path", "required": True, "schema": string}],
                requestBody=json_body("MockUserInput"),
            )
        },
        f"{base}/clients": {
            "post": mock(
                "Create a client (its secret is shown once)",
                {"201": body("App", "The client", NO_STORE)},
                requestBody=json_body("AppInput"),
            )
        },
        f"{base}/errors": {
            "post": mock(
                "Queue an error for the next request to an endpoint",
                {"201": body("ForcedError", "Queued", NO_STORE)},
                requestBody=json_body("ForcedErrorInput"),
            ),
            "get": mock(
                "Queued errors",
                {
                    "200": {
                        "description": "Pending errors",
                        "content": {
                            JSON: {
                                "schema": obj(
                                    ["errors"],
                                    errors={"type": "array", "items": ref("ForcedError")},
                                )
                            }
                        },
                    }
                },
            ),
            "delete": mock(
                "Drop every queued error",
                {
                    "200": {
                        "description": "How many",
                        "content": {JSON: {"schema": obj(["deleted"], deleted=integer)}},
                    }
                },
            ),
        },
        f"{base}/tokens": {
            "post": mock(
                "Mint an access token and an id_token for a user and client",
                {"201": body("TokenResponse", "Tokens", NO_STORE)},
                requestBody=json_body("MintInput"),
            )
        },
    }


TAGS = [
    {"name": "discovery", "description": "Public, cacheable documents"},
    {"name": "protocol", "description": "Called by OAuth clients and resource servers"},
    {"name": "registration", "description": "Dynamic client registration"},
    {"name": "api", "description": "The built-in protected resource"},
    {"name": "management", "description": "Apps and secrets, for administrators"},
    {"name": "mock", "description": "Test control API (mock mode only)"},
    {"name": "operations", "description": "Health and metrics"},
]


def document(issuer: str, mock: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a server at `issuer`; the control API only in mock mode."""
    tags = TAGS if mock else [tag for tag in TAGS if tag["name"] != "mock"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gatehouse",
            "version": "2",
            "summary": "OAuth 2.1 / OpenID Connect authorization server",
            "description": "The JSON endpoints: protocol (RFC 6749, 7009, 7591, 7592, 7662, "
            "8414, 8628, 9728; OIDC), the built-in API, app management and operations. "
            "Browser pages (/oauth2/authorize, /login, /admin) are not listed.",
        },
        "servers": [{"url": issuer}],
        "tags": tags,
        "paths": {**paths(), **mock_paths()} if mock else paths(),
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
