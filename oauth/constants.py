"""The protocol's vocabulary, defined once: grant types, auth methods, endpoint paths."""

from __future__ import annotations

# RFC 8628 §3.4: the device access token request's grant_type.
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Every grant_type the token endpoint runs (oauth/grants/__init__.py has one function each).
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT)
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")  # an app created without any
RESPONSE_TYPES = ("code",)  # OAuth 2.1: the authorization code flow only
RESPONSE_MODES = ("query",)
CODE_CHALLENGE_METHODS = ("S256",)  # OAuth 2.1 forbids `plain`

# Client authentication (RFC 6749 §2.3, RFC 7591 §2).
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*CONFIDENTIAL_AUTH_METHODS, "none")
CLIENT_TYPES = ("confidential", "public")
APPLICATION_TYPES = ("web", "native")  # OIDC Registration §2

TOKEN_TYPE = "Bearer"  # noqa: S105 - RFC 6750; MCP clients title-case and compare it

# Endpoint paths, relative to the issuer (DESIGN.md).
AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path
REVOCATION_PATH = "/oauth2/revoke"
INTROSPECTION_PATH = "/oauth2/introspect"
DEVICE_AUTHORIZATION_PATH = "/oauth2/device_authorization"
DEVICE_VERIFICATION_PATH = "/oauth2/device"
USERINFO_PATH = "/oauth2/userinfo"
END_SESSION_PATH = "/oauth2/logout"
REGISTRATION_PATH = "/oauth2/register"
CLIENT_CONFIGURATION_PATH = "/oauth2/clients"  # + "/<client_id>" (RFC 7592)
JWKS_PATH = "/oauth2/jwks"
BUILTIN_API_PATH = "/api/v2"
# The endpoints an application is configured with (the management API shows them).
APP_ENDPOINTS = {
    "authorization": AUTHORIZE_PATH,
    "token": TOKEN_PATH,
    "revocation": REVOCATION_PATH,
    "introspection": INTROSPECTION_PATH,
    "device_authorization": DEVICE_AUTHORIZATION_PATH,
}

# Well-known documents (RFC 8414 §3, OIDC Discovery §4, RFC 9728 §3).
AS_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
