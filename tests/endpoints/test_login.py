"""Sign-in, sign-out, `next`, throttling and the session cookie."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest

from app import create_app
from models import AuditEvent, ThrottleEvent, User, db, utcnow
from oauth.manage import users as accounts
from oauth.ops.migrations import upgrade
from oauth.rules import throttle
from oauth.session import login_url
from oauth.store import record_event
from tests.helpers.common import login

ALICE = ("alice", "correct horse battery")
COOKIE = "gatehouse_session"


def signed_in_as(client) -> str | None:
    """Where `/` sends this client: None when signed out, else the landing path."""
    location = client.get("/").headers["Location"]
    return None if location.startswith("/login") else location


# -- the page ------------------------------------------------------------------------------


def test_login_page_has_the_contract_fields(client):
    response = client.get("/login?next=/account/apps")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in ("username", "password", "next"):
        assert f'name="{name}"' in html
    assert re.search(
        r'<input[^>]*name="next"[^>]*type="hidden"|type="hidden"[^>]*name="next"', html
    )
    assert 'value="/account/apps"' in html


def test_login_page_has_a_csrf_token_when_csrf_is_on(config, app):
    app.config["WTF_CSRF_ENABLED"] = True
    html = app.test_client().get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in html


def test_login_hint_prefills_the_username(client):
    html = client.get("/login?login_hint=alice").get_data(as_text=True)
    assert re.search(r'name="username"[^>]*value="alice"', html)


def test_login_hint_is_escaped(client):
    html = client.get('/login?login_hint="><script>x</script>').get_data(as_text=True)
    assert "<script>x" not in html


def test_success_redirects_home_and_records_audit(client, user):
    response = login(client, *ALICE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in_as(client) == "/account/apps"
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.action == "login.success")
    assert (event.actor, event.target, event.success, event.ip) == (
        "alice",
        "alice",
        True,
        "127.0.0.1",
    )
    assert ALICE[1] not in str(event.changes)


def test_username_is_case_insensitive(client, user):
    assert login(client, "ALICE", ALICE[1]).status_code == 302


def test_unknown_user_and_wrong_password_look_the_same(client, user):
    wrong = login(client, "alice", "wrong password")
    unknown = login(client, "mallory", "wrong password")
    assert wrong.status_code == unknown.status_code == 200
    body = wrong.get_data(as_text=True).replace('value="alice"', 'value="X"')
    assert body == unknown.get_data(as_text=True).replace('value="mallory"', 'value="X"')
    assert "Wrong username or password." in body
    assert signed_in_as(client) is None


def test_failures_are_audited_without_the_password(client, user):
    login(client, "alice", "hunter2 guess")
    login(client, "mallory", "hunter2 guess")
    with db.connection_context():
        events = list(AuditEvent.select().where(AuditEvent.action == "login.failure"))
    assert [(e.actor, e.target, e.success) for e in events] == [
        ("anonymous", "alice", False),
        ("anonymous", "mallory", False),
    ]
    assert all("hunter2" not in str(e.changes) for e in events)


@pytest.mark.parametrize("form", [{}, {"username": "alice"}, {"password": "x"}])
def test_missing_fields_are_a_400_page(client, form):
    response = client.post("/login", data=form)
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_csrf_is_enforced_on_login(config, app, user):
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post("/login", data={"username": "alice", "password": ALICE[1]})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_csrf_token_from_the_page_works(config, app, user):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    form = {"username": "alice", "password": ALICE[1], "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302


# -- next ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/account/apps", "/account/apps"),
        ("/ok?x=1", "/ok?x=1"),
        ("/oauth2/authorize?client_id=a&state=s%20t&prompt=login", None),
        ("//evil.com", "/"),
        ("//evil.com/path", "/"),
        ("/\\evil.com", "/"),
        ("\\\\evil.com", "/"),
        ("https://evil.com", "/"),
        ("http://localhost/", "/"),
        ("javascript:alert(1)", "/"),
        ("JavaScript:alert(1)", "/"),
        (" /ok", "/"),
        ("/\tevil", "/"),
        ("relative/path", "/"),
        ("", "/"),
    ],
)
def test_next_rules(client, user, next_value, location):
    response = client.post(
        "/login", data={"username": "alice", "password": ALICE[1], "next": next_value}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == (location or next_value)


@pytest.mark.parametrize("encoded", ["/%5Cevil.com", "/%2F%2Fevil.com"])
def test_percent_encoded_next_stays_on_this_origin(client, user, encoded):
    # Followed literally these are paths on our own host, never another origin.
    response = login_with_next(client, encoded)
    location = response.headers["Location"]
    assert location in ("/", encoded)
    assert not location.startswith(("//", "/\\"))


def login_with_next(client, next_value):
    return client.post(
        "/login", data={"username": "alice", "password": ALICE[1], "next": next_value}
    )


AUTHORIZE_NEXT = (
    "/oauth2/authorize?client_id=abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb"
    "&scope=openid%20profile&state=x%26y&prompt=login&max_age=0&unknown=1"
)


def test_next_from_authorize_survives_the_round_trip(app, client, user):
    with app.test_request_context():
        url = login_url(AUTHORIZE_NEXT)
    html = client.get(url).get_data(as_text=True)
    hidden = htmllib.unescape(re.search(r'name="next" type="hidden" value="([^"]*)"', html)[1])
    assert hidden == AUTHORIZE_NEXT
    assert login_with_next(client, hidden).headers["Location"] == AUTHORIZE_NEXT


# -- index and logout -----------------------------------------------------------------------


def test_index_when_signed_out_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_index_for_admin_goes_to_admin_apps(client, admin):
    login(client, "root", "admin password 123")
    assert signed_in_as(client) == "/admin/apps"


def test_logout_is_post_only(client, user):
    login(client, *ALICE)
    assert client.get("/logout").status_code == 405
    assert signed_in_as(client) == "/account/apps"


def test_logout_signs_out_with_a_flash(client, user):
    login(client, *ALICE)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You have signed out." in client.get("/login").get_data(as_text=True)
    assert signed_in_as(client) is None


def test_logout_requires_csrf(config, app, user):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    client.post("/login", data={"username": "alice", "password": ALICE[1], "csrf_token": token})
    assert client.post("/logout").status_code == 400
    assert signed_in_as(client) == "/account/apps"


# -- sessions --------------------------------------------------------------------------------


def copy_of_cookie(client, app):
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def client_with_cookie(app, value):
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    return other


def test_session_id_rotates_at_login(app, client, user):
    login(client, *ALICE)
    first = copy_of_cookie(client, app)
    login(client, *ALICE)
    second = copy_of_cookie(client, app)
    assert first != second
    assert signed_in_as(client_with_cookie(app, first)) is None  # the old session is dead
    assert signed_in_as(client_with_cookie(app, second)) == "/account/apps"


def test_a_pre_login_cookie_does_not_become_the_session(app, client, user):
    client.get("/login")
    with client.session_transaction() as s:
        s["sid"] = "gsi_planted-by-an-attacker"
    planted = copy_of_cookie(client, app)
    login(client, *ALICE)
    assert signed_in_as(client_with_cookie(app, planted)) is None


def test_logout_kills_the_session_server_side(app, client, user):
    login(client, *ALICE)
    stolen = copy_of_cookie(client, app)
    client.post("/logout")
    assert signed_in_as(client_with_cookie(app, stolen)) is None


def test_deleted_users_session_is_dead(app, client, user):
    login(client, *ALICE)
    assert signed_in_as(client) == "/account/apps"
    with db.connection_context():
        User.delete().where(User.id == user.id).execute()
    assert signed_in_as(client) is None


def test_https_issuer_cookie_is_host_prefixed_secure_httponly_lax(config):
    config.update(ISSUER="https://id.example.com", SESSION_LIFETIME=3600)
    upgrade(config["DATABASE"])
    app = create_app(config)
    with db.connection_context():
        accounts.create_user("alice", password=ALICE[1])
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": "alice", "password": ALICE[1]},
        base_url="https://id.example.com",
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-gatehouse=")
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert not any(a.startswith("domain=") for a in attributes)
    expires = next(a for a in cookie.split(";") if a.strip().lower().startswith("expires="))
    lifetime = parsedate_to_datetime(expires.split("=", 1)[1]).replace(tzinfo=None) - utcnow()
    assert timedelta(minutes=50) < lifetime <= timedelta(hours=1)


def test_http_issuer_cookie_is_httponly_lax_not_secure(client, user):
    cookie = login(client, *ALICE).headers["Set-Cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith(COOKIE + "=")
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes


# -- throttling ------------------------------------------------------------------------------


def test_ten_failures_lock_the_username_from_that_ip(client, user):
    for _ in range(throttle.LOGIN_USER_IP_LIMIT):
        assert login(client, "alice", "wrong").status_code == 200
    response = login(client, "Alice", ALICE[1])
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    assert signed_in_as(client) is None
    # another user from the same IP is unaffected
    with db.connection_context():
        accounts.create_user("bob", password="bob password 1")
    assert login(client, "bob", "bob password 1").status_code == 302


def test_an_attempt_counts_before_its_password_is_checked(client, user, monkeypatch):
    """Attempts arriving on other workers while a password is being checked already see it
    counted, so no more than the limit ever reach the password check."""
    check_password = accounts.authenticate
    racing: list[int] = []

    def authenticate_while_others_arrive(username: str, password: str):
        if not racing:  # the first attempt: the others arrive while its hash is computed
            racing.append(0)
            for _ in range(throttle.LOGIN_USER_IP_LIMIT):
                racing.append(login(client, "alice", "wrong").status_code)
        return check_password(username, password)

    monkeypatch.setattr(accounts, "authenticate", authenticate_while_others_arrive)
    assert login(client, "alice", "wrong").status_code == 200
    assert racing[1:] == [200] * (throttle.LOGIN_USER_IP_LIMIT - 1) + [429]


def test_a_good_password_is_not_counted_as_a_failure(client, user):
    for _ in range(throttle.LOGIN_USER_IP_LIMIT - 1):
        login(client, "alice", "wrong")
    assert login(client, *ALICE).status_code == 302
    with db.connection_context():
        assert ThrottleEvent.select().where(ThrottleEvent.bucket == "login:user:alice").count() == (
            throttle.LOGIN_USER_IP_LIMIT - 1
        )


def test_fifty_failures_from_one_ip_lock_that_ip(client, user):
    with db.connection_context():
        for _ in range(throttle.LOGIN_IP_LIMIT - 1):
            record_event("login:ip:127.0.0.1")
    assert login(client, "someone", "wrong").status_code == 200  # the 50th failure
    assert login(client, *ALICE).status_code == 429
    other_ip = client.post(
        "/login",
        data={"username": "alice", "password": ALICE[1]},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other_ip.status_code == 302


def test_throttled_attempt_is_audited(client, user):
    with db.connection_context():
        for _ in range(throttle.LOGIN_USER_LIMIT):
            record_event("login:user:alice")
    assert login(client, *ALICE).status_code == 429
    with db.connection_context():
        event = AuditEvent.get(AuditEvent.action == "login.throttled")
    assert (event.target, event.success) == ("alice", False)


def test_failures_outside_the_window_do_not_count(client, user):
    old = utcnow() - throttle.WINDOW - timedelta(seconds=1)
    with db.connection_context():
        for _ in range(throttle.LOGIN_USER_LIMIT):
            ThrottleEvent.create(bucket="login:user:alice", created_at=old)
    assert login(client, *ALICE).status_code == 302


def test_failures_inside_the_window_still_count(client, user):
    recent = utcnow() - throttle.WINDOW + timedelta(minutes=1)
    with db.connection_context():
        for _ in range(throttle.LOGIN_USER_LIMIT):
            ThrottleEvent.create(bucket="login:user:alice", created_at=recent)
    assert login(client, *ALICE).status_code == 429


# -- throttle module, directly ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "ip", "buckets"),
    [
        (
            "Alice",
            "10.0.0.1",
            [
                ("login:user-ip:alice|10.0.0.1", 10),
                ("login:user:alice", 100),
                ("login:ip:10.0.0.1", 50),
            ],
        ),
        ("not valid!", "10.0.0.1", [("login:ip:10.0.0.1", 50)]),
        ("", "2001:db8::7", [("login:ip:2001:db8::/64", 50)]),  # an IPv6 host holds a /64
        ("", "::ffff:192.0.2.1", [("login:ip:192.0.2.1", 50)]),
    ],
)
def test_login_buckets(username, ip, buckets):
    assert throttle.login_buckets(username, ip) == buckets


def test_retry_after_counts_down_to_when_the_limit_clears(app):
    now = utcnow()
    bucket = [("device:ip:10.0.0.1", 3)]
    with db.connection_context():
        for minutes_ago in (14, 10, 5, 1):  # 4 events, limit 3: the 10-minute one must expire
            record_event("device:ip:10.0.0.1", now - timedelta(minutes=minutes_ago))
        with pytest.raises(throttle.Throttled) as info:
            throttle.check(bucket, now=now)
        assert info.value.retry_after == 5 * 60 + 1
        throttle.check(bucket, now=now + timedelta(minutes=5, seconds=1))  # no raise


def test_fail_drops_expired_events_of_its_buckets(app):
    now = utcnow()
    with db.connection_context():
        ThrottleEvent.create(bucket="b", created_at=now - timedelta(hours=1))
        ThrottleEvent.create(bucket="other", created_at=now - timedelta(hours=1))
        throttle.fail([("b", 5)], now=now)
        assert sorted(e.bucket for e in ThrottleEvent.select()) == ["b", "other"]
        assert ThrottleEvent.get(ThrottleEvent.bucket == "b").created_at == now


@pytest.mark.parametrize("next_value", ["//evil.com", "https://evil.com", "javascript:alert(1)"])
def test_unsafe_next_is_not_carried_into_the_form(client, next_value):
    html = client.get("/login", query_string={"next": next_value}).get_data(as_text=True)
    assert "evil" not in html and "javascript" not in html
