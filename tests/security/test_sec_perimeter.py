"""The developer server's perimeter (issue 9 §4): mock mode stays on loopback (issuer, bind and
callers), a loopback issuer answers only loopback Host names (DNS rebinding: 421), and the mock
control API and forced-error hook exist only in mock mode."""

from __future__ import annotations

import pytest
from test_sec_settings import GUNICORN, run

from app import create_app
from models import MockForcedError, db, utcnow
from oauth.manage import users as accounts
from oauth.mock import forced as mock_forced
from oauth.ops import perimeter
from oauth.ops.migrations import upgrade
from oauth.settings import SettingsError
from tests.helpers.common import basic, make_client
from tests.helpers.live import start_live_server

REBIND = "rebind.attacker.example"


def build(config: dict):
    upgrade(config["DATABASE"])
    return create_app(config)


# -- mock mode stays on loopback -------------------------------------------------------------


def test_mock_mode_with_a_public_bind_does_not_start(tmp_path):
    result = run(GUNICORN, tmp_path, GATEHOUSE_MOCK="1", GATEHOUSE_BIND="0.0.0.0:8000")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "gatehouse: GATEHOUSE_BIND=0.0.0.0:8000: mock mode signs anyone in: it needs a loopback "
        "listen address unless GATEHOUSE_MOCK_ALLOW_REMOTE=1"
    ]


@pytest.mark.parametrize(
    ("bind", "allow_remote", "ok"),
    [
        ("127.0.0.1:8000", False, True),
        ("localhost:8000", False, True),
        ("[::1]:8000", False, True),
        ("0.0.0.0:8000", False, False),
        ("[::]:8000", False, False),
        ("unix:/run/gatehouse.sock", False, False),  # who is behind it is unknown
        ("0.0.0.0:8000", True, True),
    ],
)
def test_mock_mode_needs_a_loopback_bind(config, bind, allow_remote, ok):
    config.update(MOCK=True, BIND=bind, MOCK_ALLOW_REMOTE=allow_remote)
    config["ISSUER"] = "http://127.0.0.1:8000"
    if ok:
        assert create_app(config).config["MOCK"]
    else:
        with pytest.raises(SettingsError, match="GATEHOUSE_BIND="):
            create_app(config)


@pytest.mark.parametrize(
    ("mock", "allow_remote", "remote", "status"),
    [
        (True, False, "203.0.113.7", 403),
        (True, False, "::ffff:203.0.113.7", 403),
        (True, False, "127.0.0.1", 200),
        (True, False, "::1", 200),
        (True, False, "::ffff:127.0.0.1", 200),
        (True, True, "203.0.113.7", 200),
        (False, False, "203.0.113.7", 200),  # a real server serves the world
    ],
)
def test_mock_mode_answers_only_loopback_callers(config, mock, allow_remote, remote, status):
    config.update(MOCK=mock, MOCK_ALLOW_REMOTE=allow_remote)
    web = build(config).test_client()
    response = web.get("/login", environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == status
    if status == 403:
        assert response.mimetype == "text/html"
        api = web.get("/oauth2/jwks", environ_base={"REMOTE_ADDR": remote})
        assert api.status_code == 403 and api.get_json()["error"] == "access_denied"


def test_the_mock_mode_line_is_printed_once_at_start(tmp_path):
    server = start_live_server(tmp_path, workers=3, GATEHOUSE_MOCK="1")
    try:
        log = server.log()
    finally:
        server.stop()
    lines = [line for line in log.splitlines() if "MOCK MODE" in line]
    assert lines == [
        f"gatehouse: MOCK MODE: anyone signs in as any user without a password at {server.url}; "
        "for local development and tests only"
    ]


def test_no_mock_mode_line_without_mock_mode(tmp_path):
    server = start_live_server(tmp_path, workers=1)
    server.stop()
    assert "MOCK MODE" not in server.log()


# -- Host header on a loopback issuer ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mock", "json"),
    [
        ("/metrics", False, True),
        ("/login", False, False),
        ("/oauth2/token", False, True),
        ("/api/v2/mock/errors", True, True),
        ("/login", True, False),
    ],
)
def test_a_foreign_host_is_misdirected_on_a_loopback_issuer(config, path, mock, json):
    config["MOCK"] = mock
    web = build(config).test_client()
    response = web.get(path, headers={"Host": f"{REBIND}:8000"})
    assert response.status_code == 421
    if json:
        assert response.get_json()["error"] == "invalid_request"
        assert response.headers["Cache-Control"] == "no-store"
    else:
        assert response.mimetype == "text/html"
        assert "its own address" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("issuer", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "localhost:8000"),
        ("http://127.0.0.1:8000", "[::1]:8000"),
        ("http://127.0.0.1:8000", "127.3.4.5"),
        ("http://127.0.0.1:8000", "LOCALHOST"),
        ("http://gatehouse.localhost:8000", "gatehouse.localhost:8000"),
        ("https://id.example.com", REBIND),  # not loopback: no developer-server perimeter
    ],
)
def test_loopback_names_and_the_issuers_host_are_served(config, issuer, host):
    config["ISSUER"] = issuer
    web = build(config).test_client()
    assert web.get("/healthz", headers={"Host": host}).status_code == 200


def test_the_host_check_remembers_only_a_few_accepted_hosts(config):
    """Accepted Host values are kept (one set lookup per request), refused ones never, and
    at most MAX_KNOWN_HOSTS of the endless *.localhost names."""
    app = build(config)
    (check,) = [f for f in app.before_request_funcs[None] if isinstance(f, perimeter.HostCheck)]
    web = app.test_client()
    for n in range(3):
        assert web.get("/healthz", headers={"Host": f"{REBIND}{n}"}).status_code == 421
    assert web.get("/healthz", headers={"Host": "localhost:8000"}).status_code == 200
    assert check.accepted == {"localhost:8000"}
    for n in range(perimeter.MAX_KNOWN_HOSTS + 5):
        assert web.get("/healthz", headers={"Host": f"a{n}.localhost"}).status_code == 200
    assert len(check.accepted) == perimeter.MAX_KNOWN_HOSTS
    assert web.get("/healthz", headers={"Host": f"{REBIND}0"}).status_code == 421


# -- the control API and forced errors exist only in mock mode ------------------------------


def test_outside_mock_mode_an_admin_token_cannot_queue_forced_errors(config, app):
    with db.connection_context():
        admin = accounts.create_user("root", is_admin=True)
        token = accounts.new_personal_token("test", "", admin)
    body = {"endpoint": "token", "error": "invalid_grant", "status": 400}
    web = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert web.post("/api/v2/mock/errors", json=body, headers=headers).status_code == 404
    with db.connection_context():
        assert MockForcedError.select().count() == 0


def test_outside_mock_mode_no_protocol_request_takes_a_forced_error(config, app):
    """Even a row already in the table (say, from an earlier mock run) is never answered."""
    client, secret = make_client(grant_types=["client_credentials"])
    with db.connection_context():
        MockForcedError.create(endpoint="token", status=418, error="forced", created_at=utcnow())
    response = app.test_client().post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client.client_id, secret),
    )
    assert response.status_code != 418 and response.get_json().get("error") != "forced"
    with db.connection_context():
        assert MockForcedError.select().count() == 1  # nobody even looked
    assert mock_forced.answer_forced_error not in app.before_request_funcs.get(None, [])


def test_in_mock_mode_the_hook_is_installed(config):
    config["MOCK"] = True
    app = create_app(config)
    assert mock_forced.answer_forced_error in app.before_request_funcs[None]
    assert any(rule.rule.startswith("/api/v2/mock/") for rule in app.url_map.iter_rules())
