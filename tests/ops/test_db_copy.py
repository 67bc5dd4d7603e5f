"""`flask db copy URL`: a populated SQLite instance into an empty PostgreSQL database (issue 11 §3),
after which the copy serves the same people and clients: sign-in, refresh, introspection, keys.
"""

from __future__ import annotations

import pytest

from app import create_app
from models import MODELS, db
from oauth.constants import DEVICE_CODE_GRANT, JWKS_PATH
from oauth.ops.database_copy import mismatches
from tests.helpers import postgresql
from tests.helpers.authorize import VERIFIER, approve, code_of, params, sign_in
from tests.helpers.common import basic, login, make_client, personal_token
from tests.helpers.tokens import redeem, refresh


@pytest.fixture
def target():
    """An empty database (no schema yet) on the test server, dropped after the test."""
    server = postgresql.server_url()
    if server is None:
        pytest.skip(postgresql.why_skipped())
    url = postgresql.create_database(server)
    yield url
    postgresql.drop_database(url)


def populate(client, oauth_client) -> dict:
    """Rows in most tables, made the way people and clients make them; the token response."""
    app_client, secret = oauth_client
    sign_in(client)  # a session and an audit event
    consent_page = client.get("/oauth2/authorize", query_string=params(app_client.client_id))
    code = code_of(approve(client, consent_page))  # a consent and a code
    tokens = redeem(client, app_client, secret, code, VERIFIER).get_json()  # a family, a key
    assert "id_token" in tokens
    login(client, "mallory", "a wrong guess")  # a throttle event
    tv = make_client(name="TV", public=True, grant_types=[DEVICE_CODE_GRANT])[0]
    client.post("/oauth2/device_authorization", data={"client_id": tv.client_id})
    return tokens


def copy_lines(output: str) -> dict[str, tuple[int, int]]:
    """The command's table: table -> (rows in SQLite, rows in PostgreSQL)."""
    counts = {}
    for line in output.splitlines()[1:-1]:
        table, here, there = line.split()
        counts[table] = (int(here), int(there))
    return counts


def test_a_populated_instance_copied_to_postgresql_serves_on_the_copy(
    app, client, runner, config, user, oauth_client, target
):
    tokens = populate(client, oauth_client)
    personal_token(user)
    jwks = client.get(JWKS_PATH).get_json()

    result = runner.invoke(args=["db", "copy", target])

    assert result.exit_code == 0, result.output
    counts = copy_lines(result.output)
    assert set(counts) == {model._meta.table_name for model in MODELS}
    assert all(here == there for here, there in counts.values())
    for table in ("user", "oauth_client", "client_secret", "signing_key", "access_token"):
        assert counts[table][0] >= 1, table
    for table in ("refresh_token", "consent", "audit_event", "user_session", "throttle_event"):
        assert counts[table][0] >= 1, table
    assert counts["device_code"][0] == 1 and counts["personal_access_token"][0] == 1

    copy = create_app({**config, "DATABASE": target})  # the same secret key, another database
    http = copy.test_client()
    assert http.get(JWKS_PATH).get_json() == jwks  # the same signing keys
    assert login(http).status_code == 302  # alice's password hash came along
    app_client, secret = oauth_client
    refreshed = refresh(http, app_client, secret, tokens["refresh_token"])
    # new rows on the copy: the identity sequences start past the copied ids
    assert refreshed.status_code == 200, refreshed.get_json()
    answer = http.post(
        "/oauth2/introspect",
        data={"token": refreshed.get_json()["access_token"]},
        headers=basic(app_client.client_id, secret),
    ).get_json()
    assert answer["active"] is True and answer["username"] == "alice"
    db.close()


def test_a_target_with_rows_is_refused_with_one_line(app, runner, user, target):
    assert runner.invoke(args=["db", "copy", target]).exit_code == 0
    again = runner.invoke(args=["db", "copy", target])
    assert again.exit_code == 1
    assert again.output.strip().splitlines() == [
        "db copy: the target database is not empty: user has 1 rows; copy into a new database"
    ]


def test_a_target_with_other_tables_is_refused_before_migrating(app, runner, target):
    with postgresql.connect(target) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    result = runner.invoke(args=["db", "copy", target])
    assert result.exit_code == 1
    assert "not empty: it has other tables (orders" in result.output
    with postgresql.connect(target) as conn:  # nothing was migrated into it
        assert conn.execute("SELECT to_regclass('oauth_client')").fetchone()[0] is None


def test_the_target_must_be_postgresql(app, runner, tmp_path):
    result = runner.invoke(args=["db", "copy", str(tmp_path / "other.sqlite3")])
    assert result.exit_code == 1
    assert result.output.startswith("db copy: the target must be a postgresql:// URL")


def test_an_unreachable_target_is_one_line(app, runner):
    result = runner.invoke(args=["db", "copy", "postgresql://gatehouse:pw@127.0.0.1:1/gatehouse"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("db copy: nothing was copied: ") and "pw" not in line


def test_differing_counts_are_named():
    assert mismatches({"user": 2, "consent": 1}, {"user": 2, "consent": 0}) == ["consent"]
    assert mismatches({"user": 2}, {"user": 2}) == []
