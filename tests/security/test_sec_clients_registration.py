"""Issue 9 §2 and §7: the registration policy covers RFC 7591 and metadata documents alike;
metadata-document fetches are limited, remembered when they fail, and fail in one way.

Documents come from test_cimd's local HTTPS server (the test-only allowlist lets the fetcher
reach 127.0.0.1).
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from app import create_app
from models import AccessToken, Client, TokenFamily, db, utcnow
from oauth import crypto
from oauth import safe_fetch as cimd_fetch
from oauth.ops import maintenance
from oauth.ops.migrations import upgrade
from oauth.rules import client_id_metadata as cimd
from tests.helpers.authorize import params
from tests.helpers.common import make_client


@pytest.fixture
def make_app(config, doc_server):  # noqa: F811
    """An app with the given settings that may fetch documents from the local server."""
    apps = []

    def build(**settings):
        upgrade(config["DATABASE"])
        config.update(CIMD_ALLOWLIST=doc_server.allow, CIMD_CA_BUNDLE=doc_server.cafile)
        apps.append(create_app({**config, **settings}))
        return apps[-1].test_client()

    cimd.clear_cache()
    yield build
    cimd.clear_cache()
    db.close()


def authorize(http, client_id):
    return http.get("/oauth2/authorize", query_string=params(client_id))


def clients():
    with db.connection_context():
        return Client.select().count()


# -- the policy -----------------------------------------------------------------------------


def test_off_refuses_metadata_documents_and_says_so(make_app, doc_server):  # noqa: F811
    # The reproduction: REGISTRATION=off still created a client from a URL client_id.
    http = make_app(REGISTRATION="off")
    response = authorize(http, doc_server.base + "/client.json")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "registration is off" in response.get_data(as_text=True)
    assert doc_server.hits == {} and clients() == 0
    metadata = http.get("/.well-known/oauth-authorization-server").get_json()
    assert metadata["client_id_metadata_document_supported"] is False
    assert "registration_endpoint" not in metadata
    assert http.post("/oauth2/register", json={"redirect_uris": []}).status_code == 403


def test_off_still_serves_a_url_client_id_an_admin_registered(make_app, doc_server):  # noqa: F811
    http = make_app(REGISTRATION="off")
    url = doc_server.base + "/client.json"
    row, _ = make_client(public=True)
    with db.connection_context():
        Client.update(client_id=url).where(Client.id == row.id).execute()
    assert authorize(http, url).status_code == 302  # to the sign-in page
    assert doc_server.hits == {}


def test_admin_needs_an_initial_access_token_for_rfc7591(make_app):
    http = make_app(REGISTRATION="admin")
    response = http.post("/oauth2/register", json={"redirect_uris": ["https://a.example/cb"]})
    assert response.status_code == 401
    assert clients() == 0


def test_admin_accepts_documents_only_from_listed_hosts(make_app, doc_server):  # noqa: F811
    http = make_app(REGISTRATION="admin", CIMD_HOSTS="apps.example.com")
    response = authorize(http, doc_server.base + "/client.json")
    assert response.status_code == 400
    assert "127.0.0.1 is not one of them" in response.get_data(as_text=True)
    assert doc_server.hits == {} and clients() == 0
    metadata = http.get("/.well-known/oauth-authorization-server").get_json()
    assert metadata["client_id_metadata_document_supported"] is True


def test_admin_fetches_documents_from_listed_hosts(make_app, doc_server):  # noqa: F811
    http = make_app(REGISTRATION="admin", CIMD_HOSTS="apps.example.com, 127.0.0.1")
    assert authorize(http, doc_server.base + "/client.json").status_code == 302
    with db.connection_context():
        row = Client.get()
    assert row.registration == "metadata_document" and row.vetted is False


@pytest.mark.parametrize(
    "setting, hosts",
    [
        ("", set()),
        ("a.example", {"a.example"}),
        ("a.example,b.example", {"a.example", "b.example"}),
        (" A.example ,\n b.example.  c.example ", {"a.example", "b.example", "c.example"}),
    ],
)
def test_cimd_hosts_setting(setting, hosts):
    assert cimd.trusted_hosts(setting) == hosts


def test_document_asking_for_client_credentials_is_refused(make_app, doc_server, monkeypatch):  # noqa: F811
    document = {
        "client_id": doc_server.base + "/machine.json",
        "client_name": "Machine",
        "redirect_uris": ["http://127.0.0.1:9999/callback"],
        "grant_types": ["authorization_code", "client_credentials"],
    }
    monkeypatch.setattr(cimd, "fetch_document", lambda *args: (document, 300))
    response = authorize(make_app(), document["client_id"])
    assert response.status_code == 400
    assert "must not contain client_credentials" in response.get_data(as_text=True)
    assert clients() == 0


# -- fetch limits -----------------------------------------------------------------------------


def test_fetches_per_ip_are_limited(make_app, doc_server, monkeypatch):  # noqa: F811
    monkeypatch.setattr(cimd.throttle, "CIMD_FETCH_IP_LIMIT", 2)
    http = make_app()
    url = doc_server.base + "/nostore.json"  # never cached: every request fetches
    assert [authorize(http, url).status_code for _ in range(2)] == [302, 302]
    response = authorize(http, url)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert doc_server.hits["/nostore.json"] == 2


def test_concurrent_fetches_per_worker_are_capped(make_app, doc_server):  # noqa: F811
    http = make_app()
    held = 0
    while cimd._fetch_slots.acquire(blocking=False):  # as if that many fetches were running
        held += 1
    try:
        response = authorize(http, doc_server.base + "/client.json")
    finally:
        for _ in range(held):
            cimd._fetch_slots.release()
    assert held == cimd.MAX_FETCHES
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert doc_server.hits == {}
    assert authorize(http, doc_server.base + "/client.json").status_code == 302  # not remembered


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


def test_an_unreachable_host_is_not_retried_for_any_url(make_app, closed_port, monkeypatch):
    http = make_app(CIMD_ALLOWLIST=f"127.0.0.1:{closed_port}")
    calls = []
    real = cimd.fetch_document
    monkeypatch.setattr(cimd, "fetch_document", lambda *a: calls.append(a[0]) or real(*a))
    base = f"https://127.0.0.1:{closed_port}"
    for path in ("/a.json", "/a.json", "/b.json"):
        response = authorize(http, base + path)
        assert response.status_code == 400
        assert cimd_fetch.FETCH_FAILED in response.get_data(as_text=True)
    assert calls == [base + "/a.json"]  # refused once; then remembered for the whole host


# -- one generic fetch error, and the address check -------------------------------------------


@pytest.fixture
def silent_port():
    """A port that accepts connections and then says nothing (a TLS handshake times out)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_fetch_failures_look_alike(closed_port, silent_port):
    def failure(url, allowlist=""):
        with pytest.raises(cimd.CIMDError) as info:
            cimd.fetch_document(url, allowlist, timeout=0.5)
        return info.value.description

    answers = {
        failure(f"https://127.0.0.1:{closed_port}/x.json", "127.0.0.1"),  # connection refused
        failure(f"https://127.0.0.1:{silent_port}/x.json", "127.0.0.1"),  # timeout
        failure(f"https://127.0.0.1:{closed_port}/x.json"),  # a non-public address
        failure("https://10.1.2.3/x.json"),
    }
    assert answers == {cimd_fetch.FETCH_FAILED}
    assert "Error" not in cimd_fetch.FETCH_FAILED


@pytest.mark.parametrize(
    "ip",
    [
        "::8.8.8.8",  # IPv4-compatible (::/96)
        "::a00:1",
        "fec0::1",  # site-local
        "fec0:1234::5",
        "::ffff:0:808:808",  # IPv4-translated (::ffff:0:0:0/96)
        "::ffff:0:a00:1",
    ],
)
def test_deprecated_ipv6_forms_are_not_public(ip):
    assert cimd.is_public_address(ip) is False


# -- purge ---------------------------------------------------------------------------------------


def test_purge_removes_idle_unvetted_clients_without_live_tokens(app, runner, user):
    long_ago = utcnow() - timedelta(days=31)
    idle, _ = make_client("Idle", registration="dynamic")
    busy, _ = make_client("Has a live token", registration="metadata_document", public=True)
    fresh, _ = make_client("New", registration="dynamic")
    vetted, _ = make_client("Admin made")
    with db.connection_context():
        old = [idle.id, busy.id, vetted.id]
        Client.update(created_at=long_ago, updated_at=long_ago).where(Client.id.in_(old)).execute()
        family = TokenFamily.create(
            client=busy,
            user=user,
            grant_type="authorization_code",
            audience="x",
            created_at=long_ago,
            expires_at=utcnow() + timedelta(days=60),
        )
        AccessToken.create(
            token_hash=crypto.sha256("t"),
            family_id=family.id,
            created_at=long_ago,
            expires_at=utcnow() + timedelta(hours=1),
        )
    result = runner.invoke(args=["db", "purge"])
    assert result.exit_code == 0, result.output
    assert "unvetted clients unused for 30 days: 1 deleted" in result.output
    with db.connection_context():
        left = {c.name for c in Client.select()}
    assert left == {"Has a live token", "New", "Admin made"}
    assert maintenance.purge()["unvetted clients unused for 30 days"] == 0


def test_purge_also_forgets_idle_clients_whose_tokens_expired(app, user):
    long_ago = utcnow() - timedelta(days=40)
    idle, _ = make_client("Idle", registration="dynamic")
    with db.connection_context():
        Client.update(created_at=long_ago, updated_at=long_ago).execute()
        TokenFamily.create(
            client=idle,
            user=user,
            grant_type="authorization_code",
            audience="x",
            created_at=long_ago,
            expires_at=long_ago + timedelta(days=1),
        )
        maintenance.purge()
        assert Client.select().count() == 0
