"""Issue 9 §1: two kinds of clients, stored, shown, and vetted by an administrator.

Vetted: created by an admin (UI, management API, CLI, mock control API). Unvetted: RFC 7591
registrations, metadata documents (test_sec_clients_registration.py), mock-adopted client_ids.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from app import create_app
from models import AuditEvent, Client, PersonalAccessToken, db
from oauth import crypto
from oauth.ops.migrations import MIGRATIONS, apply_migrations, parse_migrations, upgrade
from tests.helpers.authorize import params, sign_in
from tests.helpers.common import login, make_client

API = "/api/v2/oauth2-provider/apps"
APP = {"name": "Inventory", "redirect_uris": ["https://inventory.example.com/cb"]}


def admin_token(user) -> dict[str, str]:
    value, digest = crypto.new_secret(crypto.PERSONAL_TOKEN)
    with db.connection_context():
        PersonalAccessToken.create(user=user, token_hash=digest)
    return {"Authorization": f"Bearer {value}"}


def stored(client_id: str) -> Client:
    with db.connection_context():
        return Client.by_client_id(client_id)


def audit_events(action: str) -> list[AuditEvent]:
    with db.connection_context():
        return list(AuditEvent.select().where(AuditEvent.action == action))


# -- who is vetted ----------------------------------------------------------------------------


def test_admin_ui_api_and_cli_create_vetted_clients(client, runner, admin):
    api = client.post(API, json=APP, headers=admin_token(admin)).get_json()
    assert api["vetted"] is True and stored(api["client_id"]).vetted
    cli = runner.invoke(
        args=["clients", "create", "--name", "CLI", "--redirect-uri", "https://c.example/cb"]
    )
    cli_id = re.search(r"client_id: (\S+)", cli.output).group(1)
    assert stored(cli_id).vetted
    login(client, "root", "admin password 123")
    form = {"name": "UI", "client_type": "confidential", "token_endpoint_auth_method": ""}
    form.update(redirect_uris="https://u.example/cb", grant_types=["authorization_code"])
    page = client.post("/admin/apps/new", data=form, follow_redirects=True)
    ui_id = re.search(r'<code id="client-id">([^<]+)</code>', page.get_data(as_text=True)).group(1)
    assert stored(ui_id).vetted


def test_rfc7591_registration_is_unvetted_and_audited_so(client):
    body = {"client_name": "Anon", "redirect_uris": ["https://a.example/cb"]}
    client_id = client.post("/oauth2/register", json=body).get_json()["client_id"]
    assert stored(client_id).vetted is False
    (event,) = audit_events("app.create")
    assert event.changes["vetted"] == [None, False]
    assert event.changes["registration"] == [None, "dynamic"]


@pytest.fixture
def mock_client(config):
    config.update(MOCK=True, MOCK_ANY_CLIENT=True)
    upgrade(config["DATABASE"])
    yield create_app(config).test_client()
    db.close()


def test_mock_control_api_clients_are_vetted_adopted_ones_are_not(mock_client):
    made = mock_client.post("/api/v2/mock/clients", json=APP).get_json()
    assert made["vetted"] is True
    mock_client.get("/oauth2/authorize", query_string=params("adopted-by-mock"))
    assert stored("adopted-by-mock").vetted is False
    adopted = [e for e in audit_events("app.create") if e.target == "adopted-by-mock"]
    assert adopted[0].changes["vetted"] == [None, False]


def test_migration_vets_existing_admin_clients_only(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    first = [(n, sql) for n, sql in parse_migrations(MIGRATIONS.read_text()) if n == 1]
    apply_migrations(path, "".join(f"-- migrate: {n}\n{sql}" for n, sql in first))
    conn = sqlite3.connect(path)
    for client_id, registration in (("a", "admin"), ("d", "dynamic"), ("m", "mock")):
        conn.execute(
            "INSERT INTO oauth_client (client_id, name, client_type, token_endpoint_auth_method,"
            " registration, created_at, updated_at) VALUES (?, 'x', 'public', 'none', ?, '', '')",
            (client_id, registration),
        )
    conn.commit()
    conn.close()
    upgrade(path)
    conn = sqlite3.connect(path)
    vetted = dict(conn.execute("SELECT client_id, vetted FROM oauth_client"))
    conn.close()
    assert vetted == {"a": 1, "d": 0, "m": 0}


# -- where it shows ----------------------------------------------------------------------------


def test_consent_page_says_an_unvetted_client_was_not_reviewed(client, user):
    unvetted, _ = make_client("Self Made", registration="dynamic")
    vetted, _ = make_client("Admin Made")
    sign_in(client)
    page = client.get("/oauth2/authorize", query_string=params(unvetted.client_id)).text
    assert 'id="unverified-warning"' in page
    assert "no administrator of this server has reviewed it" in page
    page = client.get("/oauth2/authorize", query_string=params(vetted.client_id)).text
    assert 'id="unverified-warning"' not in page


def test_a_vetted_self_registered_client_is_not_marked(client, user):
    row, _ = make_client("Vetted later", registration="dynamic", vetted=True)
    sign_in(client)
    page = client.get("/oauth2/authorize", query_string=params(row.client_id)).text
    assert 'id="unverified-warning"' not in page


def test_admin_list_filters_by_trust(client, admin):
    make_client("Self Made", registration="dynamic")
    make_client("Admin Made")
    login(client, "root", "admin password 123")
    unvetted = client.get("/admin/apps?vetted=no").text
    assert "Self Made" in unvetted and "Admin Made" not in unvetted
    vetted = client.get("/admin/apps?vetted=yes").text
    assert "Admin Made" in vetted and "Self Made" not in vetted
    both = client.get("/admin/apps").text
    assert "Admin Made" in both and "Self Made" in both


def test_api_list_filters_by_trust(client, admin):
    make_client("Self Made", registration="dynamic")
    make_client("Admin Made")
    headers = admin_token(admin)
    names = lambda q: [a["name"] for a in client.get(API + q, headers=headers).get_json()["apps"]]  # noqa: E731
    assert names("?vetted=false") == ["Self Made"]
    assert names("?vetted=true") == ["Admin Made"]
    assert client.get(API + "?vetted=maybe", headers=headers).status_code == 400


# -- vetting ---------------------------------------------------------------------------------


def test_admin_vets_a_client_in_the_ui_audited(client, admin):
    row, _ = make_client("Self Made", registration="dynamic")
    login(client, "root", "admin password 123")
    page = client.get(f"/admin/apps/{row.client_id}").text
    assert 'id="vet-app"' in page and "not vetted" in page
    response = client.post(f"/admin/apps/{row.client_id}/vet")
    assert response.status_code == 302
    assert stored(row.client_id).vetted
    (event,) = audit_events("app.vet")
    assert (event.actor, event.target, event.changes) == (
        "root",
        row.client_id,
        {"vetted": [False, True]},
    )
    assert 'id="vet-app"' not in client.get(f"/admin/apps/{row.client_id}").text


def test_admin_vets_a_client_through_the_api_audited(client, admin, user):
    row, _ = make_client("Self Made", registration="metadata_document", public=True)
    response = client.post(f"{API}/{row.client_id}/vet", headers=admin_token(admin))
    assert response.status_code == 200 and response.get_json()["vetted"] is True
    assert stored(row.client_id).vetted
    assert len(audit_events("app.vet")) == 1
    client.post(f"{API}/{row.client_id}/vet", headers=admin_token(admin))  # already vetted
    assert len(audit_events("app.vet")) == 1
    assert client.post(f"{API}/{row.client_id}/vet", headers=admin_token(user)).status_code == 403


def test_vetting_needs_an_admin(client, user):
    row, _ = make_client("Self Made", registration="dynamic")
    login(client)
    assert client.post(f"/admin/apps/{row.client_id}/vet").status_code == 403
    assert stored(row.client_id).vetted is False
