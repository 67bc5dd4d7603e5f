"""Input limits (issue 9 §7): the size of `scope`, and names that cannot hide what they say."""

from __future__ import annotations

import json

import pytest

from models import Client, Resource, User, db
from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from oauth.errors import OAuthError
from oauth.manage import apps, resources
from oauth.manage import users as accounts
from oauth.rules.client_metadata import check_client_metadata
from oauth.rules.scope import MAX_SCOPE_BYTES, MAX_SCOPES, parse_scope
from oauth.rules.text import text_problem
from tests.helpers.authorize import REDIRECT, params
from tests.helpers.common import make_client, query_of

# -- scope ---------------------------------------------------------------------------------


def test_many_distinct_scopes_at_the_device_endpoint_are_invalid_scope(client):
    """The reproduction: 9,300 distinct values (55 KB) are refused, not de-duplicated."""
    device = make_client(public=True, grant_types=[DEVICE_GRANT])[0]
    scope = " ".join(f"s{n:04d}" for n in range(9300))
    assert 55_000 < len(scope) < 56_000
    response = client.post(
        "/oauth2/device_authorization", data={"client_id": device.client_id, "scope": scope}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_too_many_scopes_at_authorize_go_back_as_invalid_scope(client):
    app_client = make_client()[0]
    scope = " ".join(f"s{n}" for n in range(MAX_SCOPES + 1))
    response = client.get(
        "/oauth2/authorize", query_string=params(app_client.client_id, scope=scope)
    )
    assert response.headers["Location"].startswith(REDIRECT)
    assert query_of(response.headers["Location"])["error"] == "invalid_scope"


def test_scope_limits():
    at_limit = [f"s{n}" for n in range(MAX_SCOPES)]
    assert parse_scope(" ".join(at_limit)) == at_limit
    assert parse_scope(" ".join([*at_limit, "one-more"])) is None
    assert parse_scope("a" * MAX_SCOPE_BYTES) == ["a" * MAX_SCOPE_BYTES]
    assert parse_scope("a" * (MAX_SCOPE_BYTES + 1)) is None


def test_dedupe_keeps_first_order_and_drops_repeats_on_a_large_input():
    values = [f"v{n}" for n in range(MAX_SCOPES)]
    repeated = " ".join(values[::-1] + values + values[::2])  # ~1.1 KB, 160 tokens
    assert parse_scope(repeated) == values[::-1]
    assert parse_scope("b a  b c a") == ["b", "a", "c"]


def test_registered_scope_over_the_limit_is_invalid_client_metadata(client):
    body = {"redirect_uris": [REDIRECT], "scope": " ".join(f"s{n}" for n in range(100))}
    response = client.post("/oauth2/register", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


# -- hidden characters in names and free text ----------------------------------------------

HIDDEN = {
    "bidi override (Cf)": "\u202e",
    "zero-width space (Cf)": "\u200b",
    "C1 control (Cc)": "\x85",
    "C0 control (Cc)": "\x07",
    "line separator (Zl)": "\u2028",
    "paragraph separator (Zp)": "\u2029",
    "private use (Co)": "\ue000",
    "surrogate (Cs)": "\ud800",
}
CASES = pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())


@CASES
def test_the_shared_check_refuses_each_category(char):
    assert text_problem(f"My{char}App") is not None


def test_ordinary_unicode_names_pass():
    assert text_problem("Zoë's Café – 日本語 app 🚀") is None


@CASES
def test_app_names_from_admin_ui_api_and_cli(char):
    _, problems = apps.validate_app({"name": f"Pay{char}Pal", "redirect_uris": [REDIRECT]})
    assert [p["field"] for p in problems] == ["name"]


def test_app_names_through_the_cli(runner):
    result = runner.invoke(args=["clients", "create", "--name", "gpj.\u202eexe"])
    assert result.exit_code != 0
    with db.connection_context():
        assert Client.select().count() == 0


@CASES
def test_registration_and_metadata_documents(char):
    for field in ("client_name", "software_id", "software_version"):
        with pytest.raises(OAuthError) as info:
            check_client_metadata({"redirect_uris": [REDIRECT], field: f"x{char}y"})
        assert info.value.error == "invalid_client_metadata"
        assert field in info.value.description


def test_registration_over_http_refuses_a_bidi_name(client):
    body = {"redirect_uris": [REDIRECT], "client_name": "Good\u202eApp"}
    response = client.post(
        "/oauth2/register", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


@CASES
def test_user_names_and_emails(app, char):
    with pytest.raises(accounts.AccountError):
        accounts.check_name(f"Ali{char}ce")
    with pytest.raises(accounts.AccountError):
        accounts.check_email(f"alice{char}@example.com")


def test_users_through_the_cli(runner):
    args = ["users", "create", "mallory", "--name", "Admin\u200b", "--password", "long enough pw"]
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    with db.connection_context():
        assert User.select().count() == 0


@CASES
def test_resource_names(app, char):
    with db.connection_context(), pytest.raises(apps.AppError) as info:
        resources.add_resource("https://mcp.example.com/mcp", f"M{char}CP", ["read"], None, "t")
    assert [p["field"] for p in info.value.problems] == ["name"]


def test_resources_through_the_cli(runner):
    args = ["resources", "add", "https://mcp.example.com/mcp", "--name", "Files\u2028Server"]
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    with db.connection_context():
        assert Resource.select().count() == 0
