"""The admin users page: list and search, create, make/remove admin, delete."""

from __future__ import annotations

import re

import pytest

from models import AuditEvent, User, db
from tests.helpers.common import login

ADMIN = ("root", "admin password 123")


@pytest.fixture
def signed_in(client, admin, user):
    login(client, *ADMIN)
    return client


def user_id(username):
    with db.connection_context():
        return User.by_username(username).id


def last_event(action):
    with db.connection_context():
        return (
            AuditEvent.select()
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id.desc())
            .first()
        )


def test_signed_out_goes_to_login(client):
    response = client.get("/admin/users?q=role:admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fadmin%2Fusers%3Fq%3Drole%3Aadmin"


@pytest.mark.parametrize(
    "path", ["/admin/users", "/admin/users/new", "/admin/audit", "/admin/users/1/delete"]
)
def test_non_admin_gets_403_page(client, user, admin, path):
    login(client, "alice", "correct horse battery")
    response = client.get(path)
    assert response.status_code == 403
    assert response.mimetype == "text/html"


def test_list_shows_users(signed_in):
    html = signed_in.get("/admin/users").get_data(as_text=True)
    assert "alice@example.com" in html
    assert "root" in html
    assert 'name="q"' in html


@pytest.mark.parametrize(
    ("q", "present", "absent"),
    [
        ("role:admin", "root", "alice@example.com"),
        ("role:user", "alice@example.com", ">root<"),
        ("ali", "alice@example.com", ">root<"),
    ],
)
def test_search(signed_in, q, present, absent):
    html = signed_in.get("/admin/users", query_string={"q": q}).get_data(as_text=True)
    assert present in html
    assert absent not in html


def test_search_with_unknown_key_shows_the_error(signed_in):
    response = signed_in.get("/admin/users?q=colour:red")
    assert response.status_code == 400
    assert "unknown search key" in response.get_data(as_text=True)


def test_create_user(signed_in, client):
    form = {
        "username": "Grace",
        "email": "grace@example.com",
        "name": "Grace H",
        "password": "cobol rules",
        "is_admin": "y",
    }
    response = signed_in.post("/admin/users/new", data=form)
    assert response.status_code == 302
    with db.connection_context():
        grace = User.by_username("grace")
    assert (grace.email, grace.name, grace.is_admin) == ("grace@example.com", "Grace H", True)
    event = last_event("user.create")
    assert (event.actor, event.target) == ("root", "grace")
    assert event.changes["is_admin"] == [None, True]
    assert "cobol rules" not in str(event.changes)
    assert grace.password_hash not in str(event.changes)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "bad name", "password": "long enough"}, "1-64 characters"),
        ({"username": "", "password": "long enough"}, "1-64 characters"),
        ({"username": "a" * 65, "password": "long enough"}, "1-64 characters"),
        ({"username": "ok", "password": "short"}, "passwords are 8"),
        ({"username": "ok", "password": "long enough", "email": "nope"}, "not an email address"),
        ({"username": "ALICE", "password": "long enough"}, "already exists"),
    ],
)
def test_create_user_errors(signed_in, form, message):
    response = signed_in.post("/admin/users/new", data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with db.connection_context():
        assert User.select().count() == 2


def test_make_and_remove_admin(signed_in):
    alice = user_id("alice")
    assert signed_in.post(f"/admin/users/{alice}/admin", data={"is_admin": "1"}).status_code == 302
    with db.connection_context():
        assert User.get_by_id(alice).is_admin
    assert last_event("user.update").changes == {"is_admin": [False, True]}
    signed_in.post(f"/admin/users/{alice}/admin", data={"is_admin": "0"})
    with db.connection_context():
        assert not User.get_by_id(alice).is_admin
    assert last_event("user.update").changes == {"is_admin": [True, False]}


def test_cannot_remove_own_admin_rights(signed_in):
    root = user_id("root")
    signed_in.post(f"/admin/users/{root}/admin", data={"is_admin": "0"})
    with db.connection_context():
        assert User.get_by_id(root).is_admin
    assert "cannot remove your own admin rights" in signed_in.get("/admin/users").get_data(
        as_text=True
    )


def test_delete_asks_for_confirmation_then_deletes(signed_in, client):
    alice = user_id("alice")
    page = signed_in.get(f"/admin/users/{alice}/delete")
    assert page.status_code == 200
    assert 'id="delete-form"' in page.get_data(as_text=True)
    with db.connection_context():
        assert User.get_or_none(User.id == alice) is not None
    response = signed_in.post(f"/admin/users/{alice}/delete")
    assert response.status_code == 302
    with db.connection_context():
        assert User.get_or_none(User.id == alice) is None
    event = last_event("user.delete")
    assert (event.actor, event.target) == ("root", "alice")


def test_cannot_delete_yourself(signed_in):
    root = user_id("root")
    assert signed_in.post(f"/admin/users/{root}/delete").status_code == 400
    with db.connection_context():
        assert User.get_or_none(User.id == root) is not None


def test_unknown_user_is_404(signed_in):
    assert signed_in.get("/admin/users/999/delete").status_code == 404
    assert signed_in.post("/admin/users/999/admin", data={"is_admin": "1"}).status_code == 404


def test_admin_forms_carry_csrf_tokens_and_enforce_them(config, app, admin, user):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1]
    client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
    alice = user_id("alice")
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{alice}/delete"):
        assert 'name="csrf_token"' in client.get(path).get_data(as_text=True), path
    assert client.post(f"/admin/users/{alice}/delete").status_code == 400
    assert client.post(f"/admin/users/{alice}/admin", data={"is_admin": "1"}).status_code == 400
    with db.connection_context():
        assert not User.get_by_id(alice).is_admin
