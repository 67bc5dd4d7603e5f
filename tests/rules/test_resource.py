"""RFC 8707 resource indicators, the pure rules called directly: what a resource may be, its
canonical form, and the audience a request gets. (Endpoints and grants that take `resource`
are tested with them: tests/endpoints/test_authorize.py, tests/grants/test_refresh.py, ...)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import Resource, db
from oauth.errors import OAuthError
from oauth.rules.redirect_uri import MAX_REDIRECT_URI_BYTES
from oauth.rules.resource import audience_for, check_request_resource, resource_problem
from oauth.urls import canonical_uri
from tests.helpers import ISSUER

# -- what a resource may be (RFC 8707 §2) --------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://api.example.com",
        "https://api.example.com/mcp",
        "https://api.example.com/mcp?v=1",
        "http://localhost:8080/mcp",
        "HTTPS://API.EXAMPLE.COM/mcp",
        "urn:example:resource",
    ],
)
def test_resource_accepted(uri):
    assert resource_problem(uri) is None


@pytest.mark.parametrize(
    "uri, why",
    [
        ("", "absolute URI"),
        ("/mcp", "absolute URI"),
        ("//api.example.com/mcp", "absolute URI"),
        ("https://api.example.com/mcp#section", "fragment"),
        ("https://", "host"),
        ("https:///mcp", "host"),
        (" https://api.example.com", "spaces"),
        ("https://api .example.com", "spaces"),
        ("https://api.example.com/\x00", "spaces"),
        ("https://a.example/" + "x" * MAX_REDIRECT_URI_BYTES, "absolute URI"),
        ("http://[::1/mcp", "valid"),
    ],
)
def test_resource_rejected(uri, why):
    problem = resource_problem(uri)
    assert problem is not None and why in problem


# -- its canonical form --------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, canonical",
    [
        ("HTTPS://API.Example.COM/MCP", "https://api.example.com/MCP"),
        ("https://api.example.com:443/mcp", "https://api.example.com/mcp"),
        ("http://api.example.com:80/", "http://api.example.com/"),
        ("http://api.example.com:8080/x", "http://api.example.com:8080/x"),
        ("https://api.example.com:80/x", "https://api.example.com:80/x"),
        ("https://api.example.com:4430/x", "https://api.example.com:4430/x"),
        ("https://api.example.com/p?Q=A", "https://api.example.com/p?Q=A"),
        ("URN:Example:Thing", "urn:Example:Thing"),
        ("https://api.example.com", "https://api.example.com"),
    ],
)
def test_canonical_uri(uri, canonical):
    assert canonical_uri(uri) == canonical


resource_uris = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){0,2}", fullmatch=True),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}", fullmatch=True),
)


@given(resource_uris)
def test_canonical_uri_is_idempotent_and_ignores_case_of_scheme_and_host(uri):
    once = canonical_uri(uri)
    assert canonical_uri(once) == once
    assert resource_problem(once) is None
    scheme, _, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    assert canonical_uri(f"{scheme.upper()}://{host.upper()}{slash}{path}") == once


# -- the audience a request gets -----------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "audience"),
    [
        (None, ISSUER),
        (ISSUER, ISSUER),
        (ISSUER + "/", ISSUER),
        (ISSUER + "/api/v2", ISSUER),
        (ISSUER + "/api/v2/users/me", ISSUER),
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        ("HTTPS://MCP.EXAMPLE.COM/mcp", "https://mcp.example.com/mcp"),
    ],
)
def test_audience_for_accepts(app, resource, audience):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", scopes="mcp")
        assert audience_for(resource, ISSUER) == audience


@pytest.mark.parametrize(
    "resource",
    [
        "https://other.example.com/",
        ISSUER + "/api/v20",
        ISSUER + "/admin",
        "relative/path",
        "https://mcp.example.com/mcp#frag",
        "",
    ],
)
def test_audience_for_refuses(app, resource):
    with db.connection_context():
        Resource.create(uri="https://mcp.example.com/mcp", scopes="mcp")
        with pytest.raises(OAuthError) as exc:
            audience_for(resource, ISSUER)
        assert exc.value.error == "invalid_target"


def test_check_request_resource(app):
    with db.connection_context():
        assert check_request_resource({}, ISSUER) == (None, ISSUER)
        assert check_request_resource({"resource": [ISSUER + "/"]}, ISSUER) == (
            ISSUER + "/",
            ISSUER,
        )
        with pytest.raises(OAuthError) as exc:
            check_request_resource({"resource": [ISSUER, ISSUER]}, ISSUER)
        assert exc.value.error == "invalid_target"
