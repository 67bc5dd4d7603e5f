"""The audit log page: newest first, filters, paging, and what it never contains."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import login

from models import AuditEvent, audit, db, utcnow
from oauth import admin_users


@pytest.fixture
def signed_in(client, admin):
    login(client, "root", "admin password 123")
    return client


def rows_of(html):
    """The action column of the audit table, top to bottom."""
    return re.findall(r'<td class="mono">([a-z.]+)</td>', html)


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
    size = admin_users.AUDIT_PAGE_SIZE
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
