"""Schemathesis against a live server, driven by /openapi.json (fixed seed, bounded budget).

For every JSON operation: no 5xx, the status, content type, headers and body match the
document, `no-store` wherever a token or secret appears, and no traceback or internal name
(`Traceback`, `peewee`, `sqlite3`, source paths) in any body.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from oauth.ops import openapi
from tests.helpers import ROOT
from tests.helpers.common import pkce_pair
from tests.helpers.live import PASSWORD, REDIRECT_URI, add_user_and_client, start_live_server
from tests.helpers.oauth_browser import drive_consent

pytestmark = pytest.mark.live
# Cases per operation, valid and invalid mixed; `make soak` may raise it for a deeper run.
EXAMPLES = int(os.environ.get("GATEHOUSE_SCHEMATHESIS_EXAMPLES", "30"))

SECRET = re.compile(r"\b(gat|grt|gac|gdc|grg|gpt|gia|gcs)_[A-Za-z0-9_-]{20,}")
INTERNALS = re.compile(
    r"Traceback|peewee|sqlite3|site-packages|File \"|\.py\b|" + re.escape(str(ROOT)), re.I
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def secrets_are_not_cached(ctx, response, case) -> None:
    """RFC 6749 §5.1: a response carrying a token or secret says Cache-Control: no-store."""
    if SECRET.search(response.text or ""):
        cache = {k.lower(): v for k, v in response.headers.items()}.get("cache-control", [""])
        assert "no-store" in cache[0], f"{case.method} {case.path} returned a secret, cacheable"


def no_internals(ctx, response, case) -> None:
    """Errors explain the problem to the client without showing how the server is built."""
    found = INTERNALS.search(response.text or "")
    assert found is None, f"{case.method} {case.path} body shows {found.group(0)!r}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_live_server(tmp_path_factory.mktemp("schemathesis"), workers=2)
    try:
        client = add_user_and_client(
            live, "authorization_code", "refresh_token", "client_credentials"
        )
        live.flask("users", "create", "root", "--password", "admin password 123", "--admin")
        admin_token = live.flask("users", "token", "root").strip().splitlines()[-1]
        verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": client["client_id"],
                  "redirect_uri": REDIRECT_URI, "scope": "openid profile email",
                  "code_challenge": challenge, "code_challenge_method": "S256"}  # fmt: skip
        query = urlencode(params)
        code, _, _ = drive_consent(f"{live.url}/oauth2/authorize?{query}", "alice", PASSWORD)
        tokens = httpx.post(
            live.url + "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
            auth=(client["client_id"], client["client_secret"]),
        ).json()  # fmt: skip
        basic = httpx.BasicAuth(client["client_id"], client["client_secret"])
        live.extra["auth"] = {
            "protocol": basic._auth_header,
            "api": f"Bearer {tokens['access_token']}",
            "management": f"Bearer {admin_token}",
        }
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


OPERATIONS = [
    (path, method)
    for path, item in openapi.paths().items()
    for method in item
    if method != "parameters"
]


IDS = [f"{m.upper()} {p}" for p, m in OPERATIONS]


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=IDS)
def test_every_operation_matches_the_document(api_schema, server, path, method):
    operation = api_schema[path][method.upper()]
    tag = operation.tags[0] if operation.tags else ""

    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # a fixed seed: the same cases on every run
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        headers = {}
        if tag in server.extra["auth"] and "Authorization" not in (case.headers or {}):
            headers["Authorization"] = server.extra["auth"][tag]
        case.call_and_validate(
            headers=headers,
            checks=CHECKS,
            additional_checks=[secrets_are_not_cached, no_internals],
            timeout=30,
        )

    run()
