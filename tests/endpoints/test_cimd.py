"""Client ID metadata documents: fetch rules, SSRF refusal, caching, the upserted client.

The documents come from an in-process HTTPS server on 127.0.0.1 with a self-signed
certificate made here; the fetcher trusts it through the test-only `cafile`/`CIMD_CA_BUNDLE`
and may reach loopback only because the test-only allowlist names the server.
"""

from __future__ import annotations

import time

import pytest

from models import Client, db
from oauth import safe_fetch as cimd_fetch
from oauth.rules import client_id_metadata as cimd
from tests.helpers.cimd import DOC_REDIRECT  # noqa: E402

REDIRECT = DOC_REDIRECT


def fetch(server, path, **kwargs):
    kwargs.setdefault("allowlist", server.allow)
    return cimd.fetch_document(server.base + path, cafile=server.cafile, **kwargs)


# -- the address classifier (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    "ip, public",
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a bind
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("192.0.0.77", False),  # IETF protocol assignments
        ("192.0.0.9", False),  # ... including its anycast addresses
        ("64:ff9b:1::a00:1", False),  # local-use NAT64 (RFC 8215)
        ("64:ff9b:1::808:808", False),
        ("224.0.0.1", False),  # multicast
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 wrapping 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 wrapping 169.254.169.254
    ],
)
def test_is_public_address(ip, public):
    assert cimd.is_public_address(ip) is public


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://app.example/client.json", True),
        ("https://app.example:8443/oauth/client", True),
        ("http://app.example/client.json", False),
        ("https://app.example", False),
        ("https://app.example/", False),
        ("https://app.example/a/../client.json", False),
        ("https://app.example/./client.json", False),
        ("https://user@app.example/client.json", False),
        ("https://app.example/client.json#frag", False),
        ("https://app.example/client.json?v=1", False),
        ("https://app.example/client json", False),
        ("https://app.example:99999/client.json", False),
    ],
)
def test_client_id_url_rules(url, ok):
    assert (cimd.client_id_url_problem(url) is None) is ok


@pytest.mark.parametrize(
    "host, port, allowlist, allowed",
    [
        ("127.0.0.1", 8443, "127.0.0.1:8443", True),
        ("127.0.0.1", 8443, "127.0.0.1", True),
        ("127.0.0.1", 8443, "127.0.0.1:9443", False),
        ("localhost", 443, "example.com, localhost", True),
        ("::1", 8443, "[::1]:8443", True),
        ("::1", 8443, "::1", True),
        ("127.0.0.1", 8443, "", False),
    ],
)
def test_allowlist(host, port, allowlist, allowed):
    assert cimd.allowlisted(host, port, allowlist) is allowed


@pytest.mark.parametrize(
    "header, seconds",
    [
        (None, 300),
        ("max-age=60", 60),
        ("public, max-age=86400", 3600),  # capped
        ("no-store", 0),
        ("no-cache, max-age=60", 0),
        ("max-age=soon", 300),
    ],
)
def test_max_age(header, seconds):
    assert cimd.max_age(header) == seconds


# -- real fetches --------------------------------------------------------------------------


def test_fetches_a_document(doc_server):
    document, ttl = fetch(doc_server, "/client.json")
    assert document["client_id"] == doc_server.base + "/client.json"
    assert ttl == 300


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/client.json",  # loopback, not allowlisted
        "https://localhost:{port}/client.json",  # a name that resolves to loopback
        "https://[::1]:{port}/client.json",
        "https://10.0.0.1/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://192.168.0.1/client.json",
    ],
)
def test_refuses_non_public_addresses(doc_server, url):
    url = url.format(port=doc_server.server_port)
    with pytest.raises(cimd.CIMDError) as refused:
        cimd.fetch_document(url, cafile=doc_server.cafile)
    assert refused.value.description == cimd_fetch.FETCH_FAILED  # no reason: no oracle
    assert doc_server.hits == {}  # refused before connecting


@pytest.mark.parametrize(
    "path, message",
    [
        ("/redirect.json", "redirects are not followed"),
        ("/big.json", "larger than 5120 bytes"),
        ("/html.json", "application/json"),
        ("/broken.json", "not valid JSON"),
        ("/missing.json", "HTTP 404"),
    ],
)
def test_fetch_rules(doc_server, path, message):
    with pytest.raises(cimd.CIMDError, match=message):
        fetch(doc_server, path)
    if path == "/redirect.json":
        assert "/client.json" not in doc_server.hits


def test_timeout_bounds_the_whole_fetch(doc_server):
    started = time.monotonic()
    with pytest.raises(cimd.CIMDError, match="Could not fetch"):
        fetch(doc_server, "/slow.json", timeout=0.3)
    assert time.monotonic() - started < 1.4  # gave up before the server's 1.5 s answer


def test_a_dribbling_server_cannot_hold_the_fetching_thread(doc_server):
    # Each read has a timeout, but a byte every 0.2 s never trips it: without a deadline on
    # every read, the pool thread would sit here for 30 s after the request gave up.
    deadline = time.monotonic() + 0.5
    url = doc_server.base + "/dribble.json"
    with pytest.raises(TimeoutError):
        cimd_fetch._get(url, doc_server.allow, doc_server.cafile, deadline, 5120)


def test_certificate_is_verified(doc_server):
    with pytest.raises(cimd.CIMDError, match="Could not fetch"):
        cimd.fetch_document(doc_server.base + "/client.json", allowlist=doc_server.allow)


# -- documents and the client row ----------------------------------------------------------


@pytest.fixture
def cimd_app(config, doc_server):
    from app import create_app
    from oauth.ops.migrations import upgrade

    config["CIMD_ALLOWLIST"] = doc_server.allow
    config["CIMD_CA_BUNDLE"] = doc_server.cafile
    upgrade(config["DATABASE"])
    app = create_app(config)
    yield app
    db.close()


def resolve(app, url):
    with app.test_request_context(), db.connection_context():
        return cimd.find_client(url)


@pytest.mark.parametrize(
    "path, message",
    [
        ("/wrong-id.json", "must equal its URL"),
        ("/no-name.json", "client_name"),
        ("/secret.json", "client_secret"),
        ("/evil-redirect.json", "redirect_uris"),
    ],
)
def test_document_rules(cimd_app, doc_server, path, message):
    with pytest.raises(cimd.CIMDError, match=message):
        resolve(cimd_app, doc_server.base + path)
    with db.connection_context():
        assert Client.by_client_id(doc_server.base + path) is None


def test_resolves_to_a_public_metadata_document_client(cimd_app, doc_server):
    url = doc_server.base + "/client.json"
    client = resolve(cimd_app, url)
    assert client.client_id == url
    assert client.registration == "metadata_document"
    assert client.is_public and client.token_endpoint_auth_method == "none"
    assert client.redirect_uris == [REDIRECT]
    assert client.name == "Doc Client"
    assert cimd.document_host(client) == "127.0.0.1"
    # Cached: a second resolution does not fetch again, and reuses the same row.
    again = resolve(cimd_app, url)
    assert again.id == client.id
    assert doc_server.hits["/client.json"] == 1


def test_uncacheable_documents_are_refetched_and_refresh_the_row(cimd_app, doc_server):
    doc_server.names[:] = ["First", "Second"]
    url = doc_server.base + "/renamed.json"
    assert resolve(cimd_app, url).name == "First"
    assert resolve(cimd_app, url).name == "Second"
    assert doc_server.hits["/renamed.json"] == 2
    with db.connection_context():
        assert Client.select().where(Client.client_id == url).count() == 1


def test_failures_are_remembered_briefly_per_url(cimd_app, doc_server, monkeypatch):
    url = doc_server.base + "/missing.json"
    for _ in range(2):
        with pytest.raises(cimd.CIMDError, match="HTTP 404"):
            resolve(cimd_app, url)
    assert doc_server.hits["/missing.json"] == 1  # the second answer came from memory
    assert resolve(cimd_app, doc_server.base + "/client.json").name == "Doc Client"  # same host
    monkeypatch.setattr(cimd, "FAILURE_TTL", 0.0)
    cimd.clear_cache()
    with pytest.raises(cimd.CIMDError):
        resolve(cimd_app, url)
    assert doc_server.hits["/missing.json"] == 2


def test_not_a_url_is_an_ordinary_lookup(cimd_app, oauth_client):
    assert resolve(cimd_app, oauth_client[0].client_id).id == oauth_client[0].id
    assert resolve(cimd_app, "no-such-client") is None


def test_refuses_to_fetch_inside_a_transaction(cimd_app, doc_server):
    refused = pytest.raises(RuntimeError, match="outside database transactions")
    with cimd_app.test_request_context(), db.connection_context(), db.atomic(), refused:
        cimd.find_client(doc_server.base + "/client.json")
    assert doc_server.hits == {}


def test_connects_to_the_vetted_address_not_a_second_lookup(doc_server, monkeypatch):
    # DNS rebinding: the first answer is vetted; any later lookup of the name would point
    # elsewhere (127.0.0.3, where nothing listens). The fetch must use the vetted address.
    real = cimd_fetch.socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        lookups.append(host)
        address = "127.0.0.1" if lookups.count("localhost") == 1 else "127.0.0.3"
        return real(address if host == "localhost" else host, port, *args, **kwargs)

    monkeypatch.setattr(cimd_fetch.socket, "getaddrinfo", rebinding)
    url = f"https://localhost:{doc_server.server_port}/client.json"
    document, _ = cimd.fetch_document(
        url, allowlist=f"localhost:{doc_server.server_port}", cafile=doc_server.cafile
    )
    assert document["client_id"] == doc_server.base + "/client.json"
    assert lookups.count("localhost") == 1
    assert doc_server.hits == {"/client.json": 1}


def test_consent_page_shows_the_documents_host(cimd_app, doc_server, user):
    from tests.helpers.authorize import sign_in
    from tests.helpers.common import pkce_pair

    client = cimd_app.test_client()
    sign_in(client)
    url = doc_server.base + "/client.json"
    _, challenge = pkce_pair()
    response = client.get(
        "/oauth2/authorize",
        query_string={
            "response_type": "code",
            "client_id": url,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert 'id="consent-form"' in page
    host = f"127.0.0.1:{doc_server.server_port}"
    assert f"described by a document at <strong>{host}</strong>" in page
    assert "Doc Client" in page
