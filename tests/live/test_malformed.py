"""Hostile and broken input against every endpoint: never a 5xx, and a clear error.

Bodies: invalid UTF-8, NUL bytes, 1 MB, 2,000 form fields, JSON nested 10,000 deep, the wrong
content type, duplicated parameters, huge values. Endpoints that take a body must answer 4xx
with an error a client can read (`error`/`error_description` or `message`); pages answer with
an HTML page; nothing answers 5xx or shows a traceback.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from models import PersonalAccessToken, User, db
from oauth import crypto
from tests.helpers.common import basic, make_client
from tests.helpers.live import start_live_server

BIG = 1024 * 1024

# (method, path, body kind): "form" and "json" endpoints must refuse broken bodies with a 4xx.
ENDPOINTS = [
    ("POST", "/oauth2/token", "form"),
    ("POST", "/oauth2/revoke", "form"),
    ("POST", "/oauth2/introspect", "form"),
    ("POST", "/oauth2/device_authorization", "form"),
    ("POST", "/oauth2/userinfo", "form"),
    ("POST", "/oauth2/register", "json"),
    ("PUT", "/oauth2/clients/abc", "json"),
    ("POST", "/api/v2/oauth2-provider/apps", "json"),
    ("PUT", "/api/v2/oauth2-provider/apps/abc", "json"),
    ("PATCH", "/api/v2/oauth2-provider/apps/abc", "json"),
    ("POST", "/api/v2/mock/clients", "json"),
    ("POST", "/api/v2/mock/tokens", "json"),
    ("POST", "/api/v2/mock/errors", "json"),
    ("PUT", "/api/v2/mock/users/bob", "json"),
    ("POST", "/oauth2/authorize", "page"),
    ("POST", "/oauth2/consent", "page"),
    ("POST", "/oauth2/device", "page"),
    ("POST", "/login", "page"),
]
GETS = [
    "/oauth2/authorize",
    "/oauth2/userinfo",
    "/api/v2/users/me",
    "/api/v2/oauth2-provider/apps",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-protected-resource",
    "/oauth2/jwks",
    "/oauth2/device",
    "/healthz",
    "/openapi.json",
    "/login",
]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BODIES = {
    "invalid UTF-8 (form)": (FORM, b"grant_type=\xff\xfe&token=\xc3\x28&client_id=\xed\xa0\x80"),
    "invalid UTF-8 (json)": (JSON, b'{"client_name": "\xff\xfe", "redirect_uris": ["\xc3\x28"]}'),
    "NUL bytes (form)": (FORM, b"grant_type=authorization%00code&token=a%00b&code=\x00"),
    "NUL bytes (json)": (JSON, b'{"client_name": "a\\u0000b", "name": "x\\u0000"}'),
    "1 MB form": (FORM, b"token=" + b"x" * BIG),
    "1 MB json": (JSON, b'{"client_name": "' + b"x" * BIG + b'"}'),
    "2,000 form fields": (FORM, "&".join(f"f{i}=v" for i in range(2000)).encode()),
    "JSON nested 10,000 deep": (JSON, nested(10_000)),
    "JSON object nested 10,000 deep": (JSON, b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    "JSON to a form endpoint": (JSON, b'{"grant_type": "client_credentials", "token": "x"}'),
    "form to a JSON endpoint": (FORM, b"client_name=x&redirect_uris=http://127.0.0.1/cb&name=x"),
    "text/plain": ("text/plain", b"grant_type=client_credentials"),
    "multipart without boundary": ("multipart/form-data", b"--x\r\n\r\n"),
    "no content type": ("", b"grant_type=client_credentials&token=x"),
    "duplicated parameters": (
        FORM,
        b"grant_type=client_credentials&grant_type=refresh_token&token=a&token=b&scope=x&scope=y",
    ),
    "huge state/scope/resource": (
        FORM,
        b"grant_type=client_credentials&scope="
        + b"s" * 60_000
        + b"&resource=https://x/"
        + b"r" * 2_000
        + b"&state="
        + b"t" * 2_000,
    ),  # fmt: skip
    "JSON that is not an object": (JSON, b'"just a string"'),
    "JSON with huge numbers": (JSON, b'{"client_name": 1e999999, "limit": ' + b"9" * 5000 + b"}"),
    "empty body": (FORM, b""),
}
QUERIES = {
    "invalid UTF-8 in the query": "client_id=%FF%FE&state=%C3%28&scope=%ED%A0%80",
    "NUL bytes in the query": "client_id=a%00b&redirect_uri=http://127.0.0.1/%00&state=%00",
    "duplicated parameters": "client_id=a&client_id=b&response_type=code&response_type=token",
    "huge state/scope/resource": "response_type=code&client_id=a&state="
    + "s" * 3000
    + "&scope="
    + "x " * 2000
    + "&resource=https://x/"
    + "r" * 2000,
    "1 MB of query": "q=" + "x" * 200_000,
}


@pytest.fixture
def admin_token(app):
    """An administrator's personal access token (rows made directly: no password hashing)."""
    token, digest = crypto.new_secret(crypto.PERSONAL_TOKEN)
    with db.connection_context():
        root = User.create(username="root", sub="sub-root", is_admin=True)
        PersonalAccessToken.create(user=root, token_hash=digest)
    return token


def assert_clear_error(response, kind: str) -> None:
    """A 4xx a client can act on: JSON with error or message, or an HTML page for people."""
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if kind == "page" and response.mimetype == "text/html":
        assert "<h1" in text or "<title>" in text
        return
    body = response.get_json(silent=True)
    assert isinstance(body, dict), (response.mimetype, text[:200])
    message = body.get("error_description") or body.get("message") or body.get("error")
    assert isinstance(message, str) and message


# Cases that are only broken for one kind of endpoint (a JSON object is fine JSON).
ONLY_FOR = {"JSON to a form endpoint": ("form", "page"), "form to a JSON endpoint": ("json",)}
# RFC 7009 §2.2 and RFC 7662 §2.2: an unknown token is answered 200 (nothing revoked, inactive).
UNKNOWN_TOKEN_IS_200 = {"/oauth2/revoke": b"", "/oauth2/introspect": b'{"active":false}\n'}
CASES = []
for method, path, kind in ENDPOINTS:
    for name in BODIES:
        if kind not in ONLY_FOR.get(name, (kind,)):
            continue
        CASES.append(pytest.param(method, path, kind, name, id=f"{path}-{name}"))


@pytest.mark.parametrize(("method", "path", "kind", "name"), CASES)
def test_broken_bodies_get_a_clear_4xx(client, admin_token, method, path, kind, name):
    content_type, data = BODIES[name]
    headers = {"Content-Type": content_type} if content_type else {}
    if path.startswith("/api/v2/"):
        headers["Authorization"] = f"Bearer {admin_token}"  # past auth, into the body parsing
    elif "/oauth2/clients/" not in path and kind == "form":
        app_client, secret = make_client(grant_types=["client_credentials"])
        headers.update(basic(app_client.client_id, secret))
    response = client.open(path, method=method, data=data, headers=headers)
    if response.status_code == 200 and path in UNKNOWN_TOKEN_IS_200:
        assert response.data == UNKNOWN_TOKEN_IS_200[path]
        return
    if kind == "page":
        assert response.status_code < 500, response.data[:300]
        assert "Traceback" not in response.get_data(as_text=True)
        if response.status_code >= 400:
            assert_clear_error(response, kind)
    else:
        assert_clear_error(response, kind)


@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("path", GETS)
def test_broken_queries_never_fail_the_server(client, admin_token, path, name):
    headers = {"Authorization": f"Bearer {admin_token}"} if path.startswith("/api/v2/o") else {}
    response = client.get(f"{path}?{QUERIES[name]}", headers=headers)
    assert response.status_code < 500, response.data[:300]
    assert "Traceback" not in response.get_data(as_text=True)
    if response.status_code >= 400:
        assert_clear_error(response, "page")


@pytest.mark.parametrize(
    "header",
    [
        "Basic \xff\xfe",
        "Basic " + "A" * 10_000,
        "Bearer " + "gat_" + "x" * 5000,
        "Bearer a b c",
        "Basic Og==",  # ":"
        "Basic OmFiYw==",  # ":abc"
        "Bearer \x00",
    ],
)
@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/oauth2/token"),
        ("POST", "/oauth2/introspect"),
        ("POST", "/oauth2/revoke"),
        ("GET", "/oauth2/userinfo"),
        ("GET", "/api/v2/users/me"),
        ("GET", "/api/v2/oauth2-provider/apps"),
        ("GET", "/oauth2/clients/abc"),
    ],
)
def test_broken_authorization_headers(client, method, path, header):
    data = {"grant_type": "client_credentials", "token": "x"} if method == "POST" else None
    response = client.open(
        path, method=method, data=data, headers={"Authorization": header.encode().decode("latin-1")}
    )
    assert_clear_error(response, "api")


# -- over a real socket: what the HTTP server itself does with broken requests ---------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_live_server(tmp_path_factory.mktemp("malformed"), workers=2)
    yield server
    server.stop()


def raw(server, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are; return the status and the body of the answer."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.live
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /.well-known/oauth-authorization-server?x=\xff\xfe HTTP/1.1\r\nHost: a\r\n",
        b"GET /oauth2/authorize?state=%00\x00 HTTP/1.1\r\nHost: a\r\n",
        b"GET /api/v2/users/me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \xff\xfe\r\n",
        b"POST /oauth2/token HTTP/1.1\r\nHost: a\r\nContent-Type: "
        + FORM.encode()
        + b"\r\nContent-Length: 9\r\n\r\n\xff\xfe\x00\x00=\xc3\x28&&",
        b"GET /oauth2/authorize?state=" + b"s" * 9000 + b" HTTP/1.1\r\nHost: a\r\n",
        b"POST /oauth2/register HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        b"Content-Length: 20001\r\n\r\n" + nested(10_000) + b"]",
        b"POST /oauth2/token HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: " + FORM.encode() + b"\r\n\r\nzz\r\n",
    ],  # fmt: skip
    ids=["utf8-query", "nul-query", "utf8-header", "utf8-body", "long-url", "deep-json", "chunks"],
)
def test_the_live_server_answers_broken_requests_with_4xx(live, request_bytes):
    if not request_bytes.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in request_bytes:
        request_bytes += b"Connection: close\r\n\r\n"
    status, body = raw(live, request_bytes)
    assert 400 <= status < 500, (status, body[:300])
    assert b"Traceback" not in body
    json.dumps(body.decode("utf-8", "replace"))  # the body is text, whatever it says
    assert "Traceback" not in live.log()
