"""The audit log page: newest first, filters, paging, and what it never contains."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from test_admin_apps import FORM

from models import AuditEvent, ClientSecret, Resource, User, audit, db, utcnow
from oauth.manage import apps
from oauth.manage.audit import AUDIT_PAGE_SIZE
from tests.helpers.common import login


@pytest.fixture
def signed_in(client, admin):
    login(client, "root", "admin password 123")
    return client


def rows_of(html):
    """The action column of the audit table, top to bottom."""
    return re.findall(r'<td class="mono nowrap">([a-z.]+)</td>', html)


def test_signed_out_goes_to_login(client):
    response = client.get("/admin/audit")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_newest_first_with_every_column(signed_in):
    with db.connection_context():
        audit("root", "app.create", "client", "abc", {"name": [None, "My <App>"]}, "192.0.2.1")
        audit("cli", "user.delete", "user", "bob", {"username": ["bob", None]}, "", success=False)
    html = signed_in.get("/admin/audit").get_data(as_text=True)
    assert rows_of(html)[:3] == ["user.delete", "app.create", "login.success"]
    assert "My &lt;App&gt;" in html  # autoescaped
    assert "192.0.2.1" in html
    assert "failed" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "cli"}, ["user.delete", "user.create"]),
        ({"action": "user.create"}, ["user.create", "user.create"]),
        ({"action": "user"}, ["user.delete", "user.create", "user.create"]),
        ({"action": "use"}, []),
        ({"target": "bob"}, ["user.delete", "user.create"]),
        ({"actor": "cli", "target": "bob"}, ["user.delete", "user.create"]),
        ({"actor": "nobody"}, []),
    ],
)
def test_filters(signed_in, query, expected):
    with db.connection_context():
        audit("cli", "user.create", "user", "bob")
        audit("root", "user.create", "user", "carol")
        audit("cli", "user.delete", "user", "bob")
    html = signed_in.get("/admin/audit", query_string=query).get_data(as_text=True)
    assert rows_of(html) == expected


def test_paging(signed_in):
    size = AUDIT_PAGE_SIZE
    start = utcnow() - timedelta(days=1)
    with db.connection_context(), db.atomic():
        for i in range(size + 5):
            AuditEvent.create(
                actor="bulk",
                action="bulk.event",
                target=f"t{i:03}",
                created_at=start + timedelta(seconds=i),
            )
    first = signed_in.get("/admin/audit?actor=bulk").get_data(as_text=True)
    second = signed_in.get("/admin/audit?actor=bulk&page=2").get_data(as_text=True)
    assert len(rows_of(first)) == size and len(rows_of(second)) == 5
    assert f"t{size + 4:03}" in first and "t000" not in first
    assert "t000" in second and f"t{size + 4:03}" not in second
    assert "page=2" in first and "actor=bulk" in first  # "Older" keeps the filter
    assert "page=1" in second


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999999999999999999999"])
def test_bad_page_numbers_never_fail(signed_in, page):
    assert signed_in.get(f"/admin/audit?page={page}").status_code == 200


def test_sign_ins_and_admin_actions_are_recorded(client, admin, user):
    login(client, "alice", "wrong password")
    login(client, "root", "admin password 123")
    client.post("/admin/users/new", data={"username": "dan", "password": "dan password"})
    with db.connection_context():
        events = [
            (e.actor, e.action, e.target, e.success)
            for e in AuditEvent.select().order_by(AuditEvent.id)
        ]
    assert events == [
        ("anonymous", "login.failure", "alice", False),
        ("root", "login.success", "root", True),
        ("root", "user.create", "dan", True),
    ]
    with db.connection_context():
        dump = str([(e.changes, e.target, e.actor) for e in AuditEvent.select()])
    for secret in ("wrong password", "admin password 123", "dan password", "scrypt:"):
        assert secret not in dump


def test_every_admin_action_and_sign_in_is_audited(client, runner, admin, user):
    """Apps, secrets, resources, users and sign-ins: actor, action, target, [old, new] per
    changed field, IP; and nowhere a password, secret or hash."""
    login(client, "root", "wrong password")
    login(client, "root", "admin password 123")
    page = client.post("/admin/apps/new", data=FORM, follow_redirects=True).text
    app_id = re.search(r'<code id="client-id">([^<]+)</code>', page).group(1)
    first = re.search(r"gcs_[A-Za-z0-9_-]+", page).group(0)
    client.post(f"/admin/apps/{app_id}/edit", data={**FORM, "name": "Renamed"})
    second = re.search(
        r"gcs_[A-Za-z0-9_-]+",
        client.post(f"/admin/apps/{app_id}/secrets", follow_redirects=True).text,
    )
    with db.connection_context():
        first_id = ClientSecret.get(ClientSecret.last6 == first[-6:]).id
        hashes = [s.secret_hash for s in ClientSecret.select()]
    client.post(f"/admin/apps/{app_id}/secrets/{first_id}/delete")
    client.post("/admin/resources", data={"uri": "https://api.example.com", "name": "API"})
    with db.connection_context():
        resource_id = Resource.get().id
        alice_id = User.by_username("alice").id
    client.post(f"/admin/resources/{resource_id}/delete")
    client.post("/admin/users/new", data={"username": "dan", "password": "dan password 1"})
    client.post(f"/admin/users/{alice_id}/admin", data={"is_admin": "1"})
    client.post(f"/admin/users/{alice_id}/delete")
    client.post(f"/admin/apps/{app_id}/delete")
    token = runner.invoke(args=["users", "token", "root"]).output.strip()

    with db.connection_context():
        events = list(AuditEvent.select().order_by(AuditEvent.id))
    app_fields = sorted([*apps.FIELDS, "registration", "vetted"])
    assert [(e.actor, e.action, e.target, sorted(e.changes)) for e in events] == [
        ("anonymous", "login.failure", "root", []),
        ("root", "login.success", "root", []),
        ("root", "app.create", app_id, app_fields),
        ("root", "app.update", app_id, ["name"]),
        ("root", "secret.create", app_id, ["secret"]),
        ("root", "secret.delete", app_id, ["secret"]),
        ("root", "resource.add", "https://api.example.com", ["name", "scopes"]),
        ("root", "resource.delete", "https://api.example.com", ["name"]),
        ("root", "user.create", "dan", ["username"]),
        ("root", "user.update", "alice", ["is_admin"]),
        ("root", "user.delete", "alice", ["username"]),
        ("root", "app.delete", app_id, ["name"]),
        ("cli", "user.token.create", "root", ["token_name"]),
    ]
    assert [e.success for e in events] == [False] + [True] * (len(events) - 1)
    assert events[2].changes["vetted"] == [None, True]  # made by an admin
    assert events[3].changes == {"name": [FORM["name"], "Renamed"]}
    assert events[9].changes == {"is_admin": [False, True]}
    for event in events:
        assert all(isinstance(v, list) and len(v) == 2 for v in event.changes.values())
        assert event.ip == ("" if event.actor == "cli" else "127.0.0.1")
        assert event.created_at is not None
    dump = str([(e.actor, e.target, e.changes) for e in events])
    for secret in (first, second.group(0), *hashes, token, "wrong password", "dan password 1"):
        assert secret not in dump
    assert "admin password 123" not in dump and "scrypt:" not in dump
