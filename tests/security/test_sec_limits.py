"""Abuse limits (issue 9 §6): counted in the database per address, never a lock a stranger can
put on someone else's account or client."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app import create_app
from models import db
from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from oauth.grants import device_code as device_flow
from oauth.rules import throttle
from oauth.rules.throttle import WRONG_CODES_LIMIT
from oauth.store import record_event
from tests.helpers.authorize import params, sign_in
from tests.helpers.common import basic, login, make_client

ALICE = ("alice", "correct horse battery")
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


def sign_in_from(client, env: dict, password: str):
    return client.post("/login", data={"username": "alice", "password": password}, environ_base=env)


def assert_throttled_json(response, error: str = "too_many_requests") -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json()["error"] == error


# -- sign-in -------------------------------------------------------------------------------


def test_ten_wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(
    app, client, user
):
    for _ in range(throttle.LOGIN_USER_IP_LIMIT):
        assert sign_in_from(client, ATTACKER, "wrong").status_code == 200
    assert sign_in_from(client, ATTACKER, ALICE[1]).status_code == 429  # that address is locked
    owner = app.test_client()
    assert sign_in_from(owner, OWNER, ALICE[1]).status_code == 302


def test_the_username_ceiling_slows_guessing_spread_over_many_addresses(app, client, user):
    with db.connection_context():
        for _ in range(throttle.LOGIN_USER_LIMIT - 1):
            record_event("login:user:alice")  # failures from many addresses, under each lock
    assert sign_in_from(client, ATTACKER, "wrong").status_code == 200
    assert sign_in_from(app.test_client(), OWNER, ALICE[1]).status_code == 429


@pytest.mark.parametrize("forcing", [{"prompt": "login"}, {"max_age": "0"}])
def test_forced_sign_in_keeps_the_session_until_the_new_one_succeeds(app, client, user, forcing):
    sign_in(client)
    app_client = make_client()[0]
    response = client.get("/oauth2/authorize", query_string=params(app_client.client_id, **forcing))
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert client.get("/account/apps").status_code == 200  # still signed in
    assert login(client, "alice", "wrong").status_code == 200  # a failed sign-in changes nothing
    assert client.get("/account/apps").status_code == 200


# -- failed client authentication ----------------------------------------------------------


@pytest.fixture
def machine(app):
    """A confidential client that may use every endpoint that authenticates clients."""
    return make_client(grant_types=["client_credentials", "refresh_token", DEVICE_GRANT])


def call(http, endpoint: str, client_id: str, secret: str, env: dict):
    """POST one client-authenticated request; 200 or (token) 400 invalid_grant once through."""
    forms = {
        "/oauth2/token": {"grant_type": "refresh_token", "refresh_token": "grt_not-a-token"},
        "/oauth2/revoke": {"token": "gat_not-a-token"},
        "/oauth2/introspect": {"token": "gat_not-a-token"},
        "/oauth2/device_authorization": {},
    }
    headers = basic(client_id, secret)
    return http.post(endpoint, data=forms[endpoint], headers=headers, environ_base=env)


def authenticated(response) -> bool:
    return response.status_code == 200 or (
        response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    )


ENDPOINTS = [
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/introspect",
    "/oauth2/device_authorization",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_wrong_secrets_lock_that_client_from_that_address_only(client, machine, endpoint):
    app_client, secret = machine
    client_id = app_client.client_id
    for _ in range(throttle.CLIENT_AUTH_CLIENT_IP_LIMIT):
        assert call(client, endpoint, client_id, "gcs_wrong", ATTACKER).status_code == 401
    assert_throttled_json(call(client, endpoint, client_id, secret, ATTACKER))  # even right
    assert authenticated(call(client, endpoint, client_id, secret, OWNER))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_failures_for_many_clients_lock_the_address(client, machine, endpoint):
    app_client, secret = machine
    with db.connection_context():
        for _ in range(throttle.CLIENT_AUTH_IP_LIMIT - 1):
            record_event(f"client-auth:ip:{ATTACKER['REMOTE_ADDR']}")
    assert call(client, endpoint, "someone-else", "gcs_wrong", ATTACKER).status_code == 401
    assert_throttled_json(call(client, endpoint, app_client.client_id, secret, ATTACKER))
    assert authenticated(call(client, endpoint, app_client.client_id, secret, OWNER))


def test_successful_authentication_is_not_counted(client, machine):
    app_client, secret = machine
    for _ in range(throttle.CLIENT_AUTH_CLIENT_IP_LIMIT + 1):
        assert authenticated(call(client, "/oauth2/introspect", app_client.client_id, secret, {}))


def test_a_passed_check_is_remembered_until_a_failure_is_counted_anywhere(
    app, config, client, machine, monkeypatch
):
    """A worker skips counting buckets that passed at the current throttle_version; failures
    counted by another worker bump it (migrations.sql block 11) and count again at once."""
    app_client, secret = machine
    client_id = app_client.client_id
    assert authenticated(call(client, "/oauth2/introspect", client_id, secret, ATTACKER))
    counted = []
    real_count = throttle.count_recent_each
    monkeypatch.setattr(
        throttle, "count_recent_each", lambda *a, **k: counted.append(a) or real_count(*a, **k)
    )
    assert authenticated(call(client, "/oauth2/introspect", client_id, secret, ATTACKER))
    assert counted == []  # remembered: no count
    other_worker = create_app(config)
    with other_worker.app_context(), db.connection_context():
        for _ in range(throttle.CLIENT_AUTH_CLIENT_IP_LIMIT):
            record_event(f"client-auth:client-ip:{client_id}|{ATTACKER['REMOTE_ADDR']}")
    assert_throttled_json(call(client, "/oauth2/introspect", client_id, secret, ATTACKER))
    assert len(counted) == 1


# -- device authorization requests and user codes ----------------------------------------


def test_device_authorization_requests_are_limited_per_address(client, machine):
    app_client, secret = machine
    with db.connection_context():
        for _ in range(throttle.DEVICE_AUTHORIZATION_IP_LIMIT - 1):
            record_event(f"device-authorization:ip:{ATTACKER['REMOTE_ADDR']}")
    endpoint = "/oauth2/device_authorization"
    assert call(client, endpoint, app_client.client_id, secret, ATTACKER).status_code == 200
    assert_throttled_json(call(client, endpoint, app_client.client_id, secret, ATTACKER))
    assert call(client, endpoint, app_client.client_id, secret, OWNER).status_code == 200


def test_ipv6_addresses_of_one_slash64_count_together(client, machine):
    app_client, secret = machine
    for n in range(throttle.CLIENT_AUTH_CLIENT_IP_LIMIT):
        env = {"REMOTE_ADDR": f"2001:db8:1:2::{n + 1:x}"}
        assert call(client, "/oauth2/revoke", app_client.client_id, "gcs_x", env).status_code == 401
    other_host = {"REMOTE_ADDR": "2001:db8:1:2::ffff"}
    assert_throttled_json(call(client, "/oauth2/revoke", app_client.client_id, secret, other_host))


def test_a_wrong_user_code_counts_before_its_lookup(app, client, user, monkeypatch):
    """Guesses arriving on other workers while one code is looked up already see it counted,
    so no more than the limit ever reach the lookup (as sign-in does)."""
    signed_in = app.test_client()
    login(signed_in)
    lookup = device_flow.user_code_hash
    racing: list[int] = []

    def lookup_while_others_arrive(code: str) -> str:
        if not racing:  # the first guess: the others arrive while it is looked up
            racing.append(0)
            for _ in range(WRONG_CODES_LIMIT):
                wrong = signed_in.post("/oauth2/device", data={"user_code": "BCDF-BCDF"})
                racing.append(wrong.status_code)
        return lookup(code)

    monkeypatch.setattr(device_flow, "user_code_hash", lookup_while_others_arrive)
    assert signed_in.post("/oauth2/device", data={"user_code": "BCDF-BCDF"}).status_code == 400
    assert racing[1:] == [400] * (WRONG_CODES_LIMIT - 1) + [429]
