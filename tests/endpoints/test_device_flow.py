"""Device authorization grant (RFC 8628) over HTTP: the endpoint, the page, the polling."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from models import (
    AuditEvent,
    DeviceCode,
    Resource,
    ThrottleEvent,
    TokenFamily,
    db,
    utcnow,
)
from oauth import crypto, store
from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from tests.helpers import ISSUER
from tests.helpers.common import basic, login, make_client
from tests.helpers.device import CSRF, approve_over_http, serve_device

MCP = "https://mcp.example.com/mcp"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


@pytest.fixture
def tv(app):
    """A public client registered for the device grant and refresh tokens."""
    return make_client("Living Room TV", public=True, grant_types=[DEVICE_GRANT, "refresh_token"])[
        0
    ]


@pytest.fixture
def alice(app, user):
    """A second test client: alice's browser, signed in."""
    http = app.test_client()
    login(http)
    return http


def start(http, client_id: str, secret: str | None = None, **form):
    """POST /oauth2/device_authorization as a public (client_id) or Basic-auth client."""
    if secret is None:
        return http.post("/oauth2/device_authorization", data={"client_id": client_id, **form})
    return http.post("/oauth2/device_authorization", data=form, headers=basic(client_id, secret))


def poll(http, client_id: str, device_code: str, secret: str | None = None, **form):
    form = {"grant_type": DEVICE_GRANT, "device_code": device_code, **form}
    if secret is None:
        return http.post("/oauth2/token", data={"client_id": client_id, **form})
    return http.post("/oauth2/token", data=form, headers=basic(client_id, secret))


def row_of(device_code: str) -> DeviceCode:
    with db.connection_context():
        return DeviceCode.get(DeviceCode.device_code_hash == crypto.sha256(device_code))


def update_row(device_code: str, **fields) -> None:
    with db.connection_context():
        digest = crypto.sha256(device_code)
        DeviceCode.update(**fields).where(DeviceCode.device_code_hash == digest).execute()


def decide(http, user_code: str, decision: str):
    return http.post("/oauth2/device", data={"user_code": user_code, "decision": decision})


# -- POST /oauth2/device_authorization (§3.1, §3.2) ------------------------------------------


def test_device_authorization_response(client, tv):
    response = start(client, tv.client_id)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert crypto.has_kind(body["device_code"], crypto.DEVICE_CODE)
    assert USER_CODE.match(body["user_code"])
    assert body["verification_uri"] == f"{ISSUER}/oauth2/device"
    assert (
        body["verification_uri_complete"]
        == f"{ISSUER}/oauth2/device?user_code=" + (body["user_code"])
    )
    assert body["expires_in"] == 900 and body["interval"] == 5
    row = row_of(body["device_code"])
    normal = body["user_code"].replace("-", "")
    assert row.user_code_hash == crypto.sha256(normal)  # hashed at rest, both codes
    assert row.status == "pending" and row.client_id == tv.id
    assert row.scope == "openid profile email" and row.audience == ISSUER
    assert (row.expires_at - row.created_at) == timedelta(seconds=900)


def test_device_code_ttl_is_configurable(tv, client):
    client.application.config["DEVICE_CODE_TTL"] = 60
    assert start(client, tv.client_id).get_json()["expires_in"] == 60


def test_confidential_client_authenticates_as_at_the_token_endpoint(client):
    c, secret = make_client("CLI", grant_types=[DEVICE_GRANT])
    assert start(client, c.client_id, secret).status_code == 200
    wrong = start(client, c.client_id, secret + "x")
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    assert "Basic" in wrong.headers["WWW-Authenticate"]
    unauthenticated = start(client, c.client_id)  # a confidential client must authenticate
    assert unauthenticated.status_code == 401


def named(form: dict, client_id: str) -> dict:
    """The form with the placeholder "TV" replaced by the real client_id."""
    swap = lambda v: client_id if v == "TV" else v  # noqa: E731
    return {k: [swap(x) for x in v] if isinstance(v, list) else swap(v) for k, v in form.items()}


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"client_id": "TV", "scope": "nonsense"}, 400, "invalid_scope"),
        ({"client_id": "TV", "scope": "bad\x7fscope"}, 400, "invalid_scope"),
        ({"client_id": "TV", "resource": "https://unknown.example/api"}, 400, "invalid_target"),
        ({"client_id": "TV", "resource": "relative"}, 400, "invalid_target"),
        ({"client_id": ["TV", "TV"]}, 400, "invalid_request"),
        ({"client_id": "TV", "resource": [MCP, MCP]}, 400, "invalid_target"),
    ],
)
def test_device_authorization_errors(client, tv, form, status, error):
    response = client.post("/oauth2/device_authorization", data=named(form, tv.client_id))
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    with db.connection_context():
        assert DeviceCode.select().count() == 0


def test_client_without_the_grant_is_unauthorized(client, public_client):
    response = start(client, public_client.client_id)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_scope_and_resource_are_checked_as_in_the_code_flow(client, tv):
    with db.connection_context():
        Resource.create(uri=MCP, name="Notes MCP", scopes="notes:read")
    body = start(client, tv.client_id, scope="notes:read", resource=MCP).get_json()
    row = row_of(body["device_code"])
    assert (row.scope, row.resource, row.audience) == ("notes:read", MCP, MCP)


# -- the whole flow, in process -------------------------------------------------------------


def test_approve_then_tokens_once(client, tv, alice, user):
    body = start(client, tv.client_id, scope="openid profile offline_access").get_json()
    device_code, user_code = body["device_code"], body["user_code"]
    pending = poll(client, tv.client_id, device_code)
    assert pending.status_code == 400
    assert pending.get_json()["error"] == "authorization_pending"
    assert pending.headers["Cache-Control"] == "no-store"

    page = alice.get("/oauth2/device?user_code=" + user_code)
    assert page.status_code == 200
    assert f'value="{user_code}"' in page.text  # prefilled from verification_uri_complete
    confirm = alice.post("/oauth2/device", data={"user_code": user_code.lower()})
    assert 'id="device-form"' in confirm.text
    assert "Living Room TV" in confirm.text and user_code in confirm.text
    assert "See your name and username" in confirm.text
    assert "Gatehouse account API" in confirm.text
    done = decide(alice, user_code.replace("-", ""), "allow")
    assert done.status_code == 200 and 'data-outcome="approved"' in done.text

    update_row(device_code, last_polled_at=None)  # the device waited its interval
    tokens = poll(client, tv.client_id, device_code)
    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.headers["Cache-Control"] == "no-store"
    got = tokens.get_json()
    assert got["token_type"] == "Bearer" and got["scope"] == "openid profile offline_access"
    assert {"access_token", "refresh_token", "id_token", "expires_in"} <= set(got)
    with db.connection_context():
        access = store.find_access_token(crypto.sha256(got["access_token"]))
        assert access.user_id == user.id and access.audience == ISSUER
        assert TokenFamily.get().grant_type == DEVICE_GRANT
        assert AuditEvent.get(AuditEvent.action == "device.approve").target == tv.client_id
    assert row_of(device_code).status == "used"

    again = poll(client, tv.client_id, device_code)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    me = client.get("/api/v2/users/me", headers={"Authorization": "Bearer " + got["access_token"]})
    assert me.status_code == 200  # a late poll is refused, not treated as theft

    reused = alice.post("/oauth2/device", data={"user_code": user_code})
    assert reused.status_code == 400 and 'data-outcome="used"' in reused.text


def test_no_refresh_token_without_the_grant_and_no_id_token_without_openid(client, alice):
    c = make_client("Kiosk", public=True, grant_types=[DEVICE_GRANT])[0]
    body = start(client, c.client_id, scope="profile").get_json()
    decide(alice, body["user_code"], "allow")
    got = poll(client, c.client_id, body["device_code"]).get_json()
    assert "access_token" in got
    assert "refresh_token" not in got and "id_token" not in got


def test_confidential_client_polls_with_its_secret(client, alice):
    c, secret = make_client("CLI", grant_types=[DEVICE_GRANT])
    body = start(client, c.client_id, secret).get_json()
    decide(alice, body["user_code"], "allow")
    assert poll(client, c.client_id, body["device_code"]).status_code == 401
    assert poll(client, c.client_id, body["device_code"], secret).status_code == 200


def test_deny_gives_access_denied(client, tv, alice):
    body = start(client, tv.client_id).get_json()
    done = decide(alice, body["user_code"], "deny")
    assert 'data-outcome="denied"' in done.text
    for _ in range(2):  # stays denied, and a denied code is never slowed down
        denied = poll(client, tv.client_id, body["device_code"])
        assert denied.get_json()["error"] == "access_denied"
    again = decide(alice, body["user_code"], "allow")  # a denial is final
    assert again.status_code == 400 and 'data-outcome="denied"' in again.text
    assert row_of(body["device_code"]).status == "denied"


def test_slow_down_grows_the_interval_and_persists_it(client, tv):
    device_code = start(client, tv.client_id).get_json()["device_code"]
    errors = [poll(client, tv.client_id, device_code).get_json()["error"] for _ in range(3)]
    assert errors == ["authorization_pending", "slow_down", "slow_down"]
    assert row_of(device_code).interval == 15
    update_row(
        device_code, last_polled_at=row_of(device_code).last_polled_at - timedelta(seconds=9)
    )
    assert poll(client, tv.client_id, device_code).get_json()["error"] == "slow_down"  # 9 < 20
    assert row_of(device_code).interval == 20
    update_row(
        device_code, last_polled_at=row_of(device_code).last_polled_at - timedelta(seconds=20)
    )
    assert poll(client, tv.client_id, device_code).get_json()["error"] == "authorization_pending"
    assert row_of(device_code).interval == 20


def test_expired_code(client, tv, alice):
    body = start(client, tv.client_id).get_json()
    update_row(body["device_code"], expires_at=row_of(body["device_code"]).created_at)
    expired = poll(client, tv.client_id, body["device_code"])
    assert expired.status_code == 400 and expired.get_json()["error"] == "expired_token"
    page = alice.post("/oauth2/device", data={"user_code": body["user_code"]})
    assert page.status_code == 400 and 'data-outcome="expired"' in page.text
    late = decide(alice, body["user_code"], "allow")
    assert 'data-outcome="expired"' in late.text
    assert row_of(body["device_code"]).status == "pending"


def test_expired_after_approval_gives_expired_token(client, tv, alice):
    body = start(client, tv.client_id).get_json()
    decide(alice, body["user_code"], "allow")
    update_row(body["device_code"], expires_at=row_of(body["device_code"]).created_at)
    assert poll(client, tv.client_id, body["device_code"]).get_json()["error"] == "expired_token"


def test_bound_to_its_client(client, tv, alice):
    other = make_client("Other TV", public=True, grant_types=[DEVICE_GRANT])[0]
    body = start(client, tv.client_id).get_json()
    decide(alice, body["user_code"], "allow")
    stolen = poll(client, other.client_id, body["device_code"])
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    assert poll(client, tv.client_id, body["device_code"]).status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"device_code": None}, 400, "invalid_request"),
        ({"device_code": "gdc_unknown"}, 400, "invalid_grant"),
        ({"device_code": "gat_" + "x" * 43}, 400, "invalid_grant"),
        ({"device_code": "gdc_" + "x" * 400}, 400, "invalid_grant"),
        ({"resource": "https://elsewhere.example/"}, 400, "invalid_target"),
    ],
)
def test_poll_errors(client, tv, alice, form, status, error):
    body = start(client, tv.client_id).get_json()
    decide(alice, body["user_code"], "allow")
    data = {"grant_type": DEVICE_GRANT, "client_id": tv.client_id}
    data.update({"device_code": body["device_code"], **form})
    response = client.post("/oauth2/token", data={k: v for k, v in data.items() if v})
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert row_of(body["device_code"]).status == "approved"  # nothing was spent


def test_token_endpoint_refuses_clients_without_the_grant(client, tv, public_client):
    device_code = start(client, tv.client_id).get_json()["device_code"]
    response = poll(client, public_client.client_id, device_code)
    assert response.get_json()["error"] == "unauthorized_client"


# -- /oauth2/device, the page ---------------------------------------------------------------


def test_page_requires_sign_in(client):
    response = client.get("/oauth2/device?user_code=BCDF-GHJK")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "user_code%3DBCDF-GHJK" in response.headers["Location"]


@pytest.mark.parametrize("typed", ["", "nonsense", "BCDF-GHJK", "AAAA-AAAA"])
def test_wrong_codes_are_refused_and_counted(alice, typed):
    response = alice.post("/oauth2/device", data={"user_code": typed})
    assert response.status_code == 400
    assert 'id="device-form"' not in response.text
    with db.connection_context():
        counted = ThrottleEvent.select().where(ThrottleEvent.bucket.startswith("device:")).count()
    assert counted == (0 if typed == "" else 2)  # an empty form is not a guess


def test_a_bad_decision_value_is_refused(client, tv, alice):
    body = start(client, tv.client_id).get_json()
    assert decide(alice, body["user_code"], "maybe").status_code == 400
    assert row_of(body["device_code"]).status == "pending"


def test_ten_wrong_codes_from_one_ip_then_429(app, client, tv, alice, user):
    good = start(client, tv.client_id).get_json()["user_code"]
    for _ in range(10):
        assert alice.post("/oauth2/device", data={"user_code": "BCDF-BCDF"}).status_code == 400
    blocked = alice.post("/oauth2/device", data={"user_code": good})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    other_session = app.test_client()  # a new session from the same IP is blocked too
    login(other_session)
    assert other_session.post("/oauth2/device", data={"user_code": good}).status_code == 429


def test_ten_wrong_codes_from_one_session_then_429_from_any_ip(client, tv, alice):
    good = start(client, tv.client_id).get_json()["user_code"]
    for n in range(10):
        env = {"REMOTE_ADDR": f"10.0.0.{n}"}
        wrong = alice.post("/oauth2/device", data={"user_code": "BCDF-BCDF"}, environ_base=env)
        assert wrong.status_code == 400
    env = {"REMOTE_ADDR": "10.0.1.1"}
    blocked = alice.post("/oauth2/device", data={"user_code": good}, environ_base=env)
    assert blocked.status_code == 429


def test_old_wrong_codes_stop_counting(client, tv, alice):
    good = start(client, tv.client_id).get_json()["user_code"]
    for _ in range(10):
        alice.post("/oauth2/device", data={"user_code": "BCDF-BCDF"})
    with db.connection_context():
        ThrottleEvent.update(created_at=utcnow() - timedelta(minutes=16)).execute()
    assert alice.post("/oauth2/device", data={"user_code": good}).status_code == 200


def test_csrf_protects_the_page_but_not_the_endpoint(config, tv, user):
    from app import create_app

    config["WTF_CSRF_ENABLED"] = True
    http = create_app(config).test_client()
    body = start(http, tv.client_id).get_json()  # exempt: clients have no CSRF token
    assert USER_CODE.match(body["user_code"])
    page = http.get("/login")
    token = CSRF.search(page.text).group(1)
    form = {"username": "alice", "password": "correct horse battery", "csrf_token": token}
    assert http.post("/login", data=form).status_code == 302
    refused = decide(http, body["user_code"], "allow")
    assert refused.status_code == 400 and "CSRF" in refused.text
    assert row_of(body["device_code"]).status == "pending"
    token = CSRF.search(http.get("/oauth2/device").text).group(1)
    confirm = http.post(
        "/oauth2/device", data={"user_code": body["user_code"], "csrf_token": token}
    )
    token = CSRF.search(confirm.text).group(1)
    done = http.post(
        "/oauth2/device",
        data={"user_code": body["user_code"], "decision": "allow", "csrf_token": token},
    )
    assert 'data-outcome="approved"' in done.text
    assert row_of(body["device_code"]).status == "approved"


# -- a live server: concurrency across workers ----------------------------------------------


@pytest.fixture
def live_server(tmp_path):
    with serve_device(tmp_path, workers=4) as server:
        yield server


@pytest.mark.live
def test_8_concurrent_polls_after_approval_exactly_one_gets_tokens(live_server):
    client_id = live_server.extra["client_id"]
    url = live_server.url
    body = httpx.post(url + "/oauth2/device_authorization", data={"client_id": client_id}).json()
    assert approve_over_http(url, body["user_code"]) == "approved"

    form = {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": client_id}
    barrier = threading.Barrier(8)

    def send(_):
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            return http.post(url + "/oauth2/token", data=form)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 7, live_server.log()[-2000:]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    bearer = {"Authorization": "Bearer " + winner["access_token"]}
    me = httpx.get(url + "/api/v2/users/me", headers=bearer)
    assert me.status_code == 200 and me.json()["username"] == "alice"
