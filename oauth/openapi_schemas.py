"""Building blocks of the OpenAPI document: component schemas, security schemes, responses.

oauth/openapi.py assembles the paths from these; the shapes mirror what the endpoints return
(extra members are allowed everywhere: clients must ignore what they do not know).
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}
RETRY_AFTER = {
    "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
}  # noqa: E501

string = {"type": "string"}
strings = {"type": "array", "items": string}
integer = {"type": "integer"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    """An object schema; extra members are allowed (clients must ignore unknown ones)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


SCHEMAS: dict[str, Any] = {
    "OAuthError": obj(["error"], error=string, error_description=string),
    "ApiMessage": obj(
        ["message"],
        message=string,
        validations={
            "type": "array",
            "items": obj(["field", "detail"], field=string, detail=string),
        },
    ),
    "Health": obj(["status", "database"], status={"enum": ["ok", "unavailable"]}, database=string),
    "TokenResponse": obj(
        ["access_token", "token_type", "expires_in"],
        access_token=string,
        token_type={"const": "Bearer"},
        expires_in={"type": "integer", "minimum": 0},
        refresh_token=string,
        scope=string,
        id_token=string,
    ),
    "Introspection": obj(
        ["active"],
        active={"type": "boolean"},
        scope=string,
        client_id=string,
        sub=string,
        aud=string,
        iss=string,
        username=string,
        exp=integer,
        iat=integer,
        token_type=string,
    ),
    "ServerMetadata": obj(
        ["issuer", "authorization_endpoint", "token_endpoint", "response_types_supported"],
        issuer=string,
        authorization_endpoint=string,
        token_endpoint=string,
        jwks_uri=string,
        registration_endpoint=string,
        scopes_supported=strings,
        response_types_supported=strings,
        grant_types_supported=strings,
        code_challenge_methods_supported=strings,
    ),
    "ProtectedResourceMetadata": obj(
        ["resource"],
        resource=string,
        authorization_servers=strings,
        scopes_supported=strings,
        bearer_methods_supported=strings,
    ),
    "JWKS": obj(
        ["keys"], keys={"type": "array", "items": obj(["kty", "kid"], kty=string, kid=string)}
    ),  # noqa: E501
    "ClientMetadata": obj(
        redirect_uris=strings,
        client_name=string,
        token_endpoint_auth_method=string,
        grant_types=strings,
        response_types=strings,
        scope=string,
        contacts=strings,
        client_uri=string,
        logo_uri=string,
        tos_uri=string,
        policy_uri=string,
        software_id=string,
        software_version=string,
        application_type=string,
        post_logout_redirect_uris=strings,
    ),
    "ClientInformation": {
        "allOf": [
            ref("ClientMetadata"),
            obj(
                ["client_id", "registration_client_uri"],
                client_id=string,
                client_secret=string,
                client_secret_expires_at=integer,
                client_id_issued_at=integer,
                registration_access_token=string,
                registration_client_uri=string,
            ),
        ]
    },
    "DeviceAuthorization": obj(
        ["device_code", "user_code", "verification_uri", "expires_in"],
        device_code=string,
        user_code=string,
        verification_uri=string,
        verification_uri_complete=string,
        expires_in=integer,
        interval=integer,
    ),
    "UserInfo": obj(
        ["sub"],
        sub=string,
        name=string,
        preferred_username=string,
        email=string,
        email_verified={"type": "boolean"},
        updated_at=integer,
    ),
    "Me": obj(
        ["id", "username"],
        id=string,
        username=string,
        email={"type": ["string", "null"]},
        name={"type": ["string", "null"]},
    ),
    "AppInput": obj(
        name=string,
        client_type={"enum": ["confidential", "public"]},
        token_endpoint_auth_method=string,
        redirect_uris=strings,
        grant_types=strings,
        scope=string,
        logo_uri={"type": ["string", "null"]},
        client_uri={"type": ["string", "null"]},
    ),
    "App": obj(
        ["id", "client_id", "name", "client_type", "redirect_uris", "grant_types"],
        id=string,
        client_id=string,
        name=string,
        client_type=string,
        token_endpoint_auth_method=string,
        redirect_uris=strings,
        grant_types=strings,
        scope=string,
        logo_uri={"type": ["string", "null"]},
        client_uri={"type": ["string", "null"]},
        registration=string,
        vetted={"type": "boolean"},
        created_at=string,
        updated_at=string,
        client_secret=string,
        endpoints={"type": "object", "additionalProperties": string},
    ),
    "AppList": obj(["apps", "count"], apps={"type": "array", "items": ref("App")}, count=integer),
    "Secret": obj(
        ["id", "last6"],
        id=integer,
        last6=string,
        created_at=string,
        last_used_at={"type": ["string", "null"]},
        client_secret=string,
    ),
    "SecretList": obj(["secrets"], secrets={"type": "array", "items": ref("Secret")}),
    "MockUserInput": obj(
        email=string,
        name=string,
        email_verified={"type": "boolean"},
        admin={"type": "boolean"},
        password=string,
        claims={"type": "object"},
    ),
    "MockUser": obj(
        ["username", "sub"],
        username=string,
        sub=string,
        email={"type": ["string", "null"]},
        name={"type": ["string", "null"]},
        email_verified={"type": "boolean"},
        admin={"type": "boolean"},
        claims={"type": "object"},
        created_at=string,
        updated_at=string,
    ),
    "ForcedErrorInput": obj(
        ["endpoint", "status", "error"],
        endpoint=string,
        status=integer,
        error=string,
        error_description=string,
    ),
    "ForcedError": obj(
        ["id", "endpoint", "status", "error"],
        id=integer,
        endpoint=string,
        status=integer,
        error=string,
        error_description=string,
    ),
    "MintInput": obj(
        ["username", "client_id"],
        username=string,
        client_id=string,
        scope=string,
        audience=string,
        claims={"type": "object"},
        nonce=string,
        expires_in=integer,
    ),
}

SECURITY_SCHEMES = {
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "client_secret_basic (RFC 6749 §2.3.1)",
    },
    "accessToken": {"type": "http", "scheme": "bearer", "description": "An access token (gat_)"},
    "registrationToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A registration access token (grg_, RFC 7592)",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An administrator's personal access token (gpt_)",
    },
    "adminSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "gatehouse_session",
        "description": "An administrator's browser session (with X-CSRFToken)",
    },
}
CLIENT_AUTH = [{"clientBasic": []}, {}]  # client_secret_post and public clients use the form
ADMIN = [{"adminToken": []}, {"adminSession": []}]


def body(schema_name: str, description: str, headers: dict | None = None, media=JSON) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {media: {"schema": ref(schema_name)}},
    }
    if headers:
        response["headers"] = headers
    return response


def oauth_error(description: str, headers: dict | None = None) -> dict:
    return body("OAuthError", description, {**NO_STORE, **(headers or {})})


def api_error(description: str) -> dict:
    schema = {"anyOf": [ref("ApiMessage"), ref("OAuthError")]}
    return {"description": description, "content": {JSON: {"schema": schema}}}


# Answers any operation may give: a body over the size limit, the database busy.
COMMON = {
    "413": oauth_error("The request body is too large."),
    "503": oauth_error("The database is busy; retry after the given seconds.", RETRY_AFTER),
}
BEARER_ERRORS = {
    "401": oauth_error("No valid access token (WWW-Authenticate: Bearer, resource_metadata)"),
    "403": oauth_error("The token lacks the scope this needs (insufficient_scope)"),
}
# The endpoints that authenticate clients: token, revocation, introspection, device authorization.
PROTOCOL_ERRORS = {
    "400": oauth_error("Malformed or refused request (RFC 6749 §5.2)"),
    "401": oauth_error("Client authentication failed (invalid_client, WWW-Authenticate: Basic)"),
    "429": oauth_error(
        "Too many failed client authentications (or device authorizations) from this address",
        RETRY_AFTER,
    ),
    **COMMON,
}
ADMIN_ERRORS = {
    "400": api_error("Validation failed: every problem listed in `validations`"),
    "401": api_error("Not authenticated"),
    "403": api_error("Not an administrator"),
    **COMMON,
}


MOCK_ERRORS = {
    "400": api_error("Validation failed: every problem listed in `validations`"),
    **COMMON,
}


def form(required: list[str], **fields: Any) -> dict:
    return {
        "required": True,
        "content": {FORM: {"schema": {**obj(required, **fields), "additionalProperties": string}}},
    }  # noqa: E501


def json_body(schema_name: str) -> dict:
    return {"required": True, "content": {JSON: {"schema": ref(schema_name)}}}


def op(summary: str, tag: str, responses: dict, **extra: Any) -> dict:
    return {"summary": summary, "tags": [tag], "responses": responses, **extra}
