"""The audit log reads each change as `field: before → after` in JSON; unchanged fields are
left out; /account/apps tells two apps of one name apart by host and client ID."""

from __future__ import annotations

from models import audit, db
from oauth.manage.audit import change_lines
from tests.helpers.authorize import approve, params, sign_in
from tests.helpers.common import login, make_client


def test_change_lines_are_json_and_skip_unchanged():
    changes = {
        "grant_types": [["authorization_code"], ["authorization_code", "refresh_token"]],
        "vetted": [False, True],
        "email": [None, None],
        "name": ["Same", "Same"],
        "live_token_families": 3,
    }
    assert change_lines(changes) == [
        {"field": "grant_types", "before": '["authorization_code"]',
         "after": '["authorization_code", "refresh_token"]'},
        {"field": "vetted", "before": "false", "after": "true"},
        {"field": "live_token_families", "value": "3"},
    ]  # fmt: skip


def test_audit_page_shows_json_not_python_reprs(client, admin):
    with db.connection_context():
        changes = {"grant_types": [None, ["authorization_code"]], "email": [None, None]}
        audit("root", "app.update", "app", "x", {**changes, "vetted": [False, True]})
    assert login(client, "root", "admin password 123").status_code == 302
    html = client.get("/admin/audit?action=app.update").get_data(as_text=True)
    assert "[&#34;authorization_code&#34;]" in html and "true" in html
    assert "[&#39;" not in html and "True" not in html and "— → —" not in html
    assert ">email<" not in html  # unchanged: hidden


def test_account_apps_tell_two_apps_of_one_name_apart(client, user):
    one, _ = make_client(name="Twin", redirect_uris=["https://one.example/cb"])
    two, _ = make_client(name="Twin", redirect_uris=["https://two.example/cb"])
    sign_in(client)
    for app, uri in ((one, "https://one.example/cb"), (two, "https://two.example/cb")):
        page = client.get("/oauth2/authorize", query_string=params(app.client_id, redirect_uri=uri))
        assert approve(client, page).status_code in (302, 303)
    html = client.get("/account/apps").get_data(as_text=True)
    assert html.count("<strong>Twin</strong>") == 2
    for app, host in ((one, "one.example"), (two, "two.example")):
        assert f"at <strong>{host}</strong>" in html
        assert app.client_id in html
