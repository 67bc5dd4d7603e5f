"""The control API refuses a body member it does not know (issue 12 §4): a typo such as
`emial` is a 400 naming it in `validations`, and nothing is written."""

from __future__ import annotations

import pytest

from models import Client, MockForcedError, User, db


@pytest.fixture
def mock_on(config):
    config["MOCK"] = True


@pytest.fixture
def api(mock_on, app):
    return app.test_client()


def refused(response, field: str) -> None:
    assert response.status_code == 400
    body = response.get_json()
    assert body["message"] == "Unknown fields."
    assert [v["field"] for v in body["validations"]] == [field]
    assert "not a known field" in body["validations"][0]["detail"]


def test_user_with_a_typo_is_refused_and_not_created(api):
    response = api.put("/api/v2/mock/users/alice", json={"emial": "alice@example.com"})
    refused(response, "emial")
    with db.connection_context():
        assert User.get_or_none(User.username == "alice") is None


def test_user_with_known_fields_is_created(api):
    response = api.put("/api/v2/mock/users/alice", json={"email": "alice@example.com"})
    assert response.status_code == 201
    assert response.get_json()["email"] == "alice@example.com"


def test_client_with_an_unknown_field_is_refused(api):
    body = {"name": "App", "client_type": "public", "redirect_uri": "http://127.0.0.1/cb"}
    refused(api.post("/api/v2/mock/clients", json=body), "redirect_uri")
    with db.connection_context():
        assert Client.select().where(Client.name == "App").count() == 0


def test_client_homepage_alias_is_still_known(api):
    body = {
        "name": "App",
        "homepage": "https://app.example",
        "redirect_uris": ["http://127.0.0.1/cb"],
    }
    response = api.post("/api/v2/mock/clients", json=body)
    assert response.status_code == 201
    assert response.get_json()["client_uri"] == "https://app.example"


def test_forced_error_with_an_unknown_field_is_refused(api):
    body = {"endpoint": "token", "error": "invalid_grant", "descripton": "typo"}
    refused(api.post("/api/v2/mock/errors", json=body), "descripton")
    with db.connection_context():
        assert MockForcedError.select().count() == 0


def test_mint_with_an_unknown_field_is_refused(api):
    body = {"username": "alice", "client_id": "x", "expires": 60}
    refused(api.post("/api/v2/mock/tokens", json=body), "expires")
