"""/healthz and /metrics: what they report and who may read them."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from conftest import basic, login, make_client
from live_helpers import serve

from oauth import metrics

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_metrics_count_requests_by_endpoint_and_status(client):
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    text = client.get("/metrics", environ_overrides=LOOPBACK).get_data(as_text=True)
    name = "gatehouse_http_requests_total"
    assert sample(text, name, endpoint="ops.healthz", method="GET", status="200") == 3
    assert sample(text, name, endpoint="unmatched", method="GET", status="404") == 1


def test_metrics_latency_histogram_is_cumulative(client):
    for _ in range(4):
        client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    name = "gatehouse_http_request_duration_seconds"
    buckets = [
        sample(text, name + "_bucket", endpoint="ops.healthz", le=f"{b:g}") for b in metrics.BUCKETS
    ]
    inf = sample(text, name + "_bucket", endpoint="ops.healthz", le="+Inf")
    assert buckets == sorted(buckets)
    assert inf == sample(text, name + "_count", endpoint="ops.healthz") == 4
    assert sample(text, name + "_sum", endpoint="ops.healthz") > 0


def test_metrics_count_tokens_issued_by_grant_type(client):
    app_client, secret = make_client(grant_types=["client_credentials"])
    for _ in range(2):
        response = client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers=basic(app_client.client_id, secret),
        )
        assert response.status_code == 200
    client.post("/oauth2/token", data={"grant_type": "client_credentials"})  # no client: 401
    text = client.get("/metrics").get_data(as_text=True)
    name = "gatehouse_tokens_issued_total"
    assert sample(text, name, grant_type="client_credentials") == 2


def test_metrics_is_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    for line in response.get_data(as_text=True).splitlines():
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{.*\})? [0-9.e+-]+", line), line


@pytest.mark.parametrize(
    "environ, headers",
    [
        (REMOTE, {}),
        (LOOPBACK, {"X-Forwarded-For": "198.51.100.1"}),  # relayed by an untrusted proxy
        (REMOTE, {"Authorization": "Bearer gpt_not-a-real-token"}),
    ],
)
def test_metrics_refuse_strangers(client, environ, headers):
    response = client.get("/metrics", environ_overrides=environ, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"] == "access_denied"
    assert "gatehouse_http_requests_total" not in response.get_data(as_text=True)


def test_metrics_admit_an_admin_session_from_anywhere(client, admin):
    assert login(client, "root", "admin password 123").status_code in (302, 303)
    response = client.get("/metrics", environ_overrides=REMOTE)
    assert response.status_code == 200


def test_metrics_refuse_a_non_admin_session(client, user):
    login(client)
    assert client.get("/metrics", environ_overrides=REMOTE).status_code == 403


def test_metrics_admit_an_admin_personal_token(client, admin, runner):
    token = runner.invoke(args=["users", "token", "root"]).output.strip().splitlines()[-1]
    response = client.get(
        "/metrics", environ_overrides=REMOTE, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


@pytest.fixture
def live_server(tmp_path):
    server = serve(tmp_path)
    yield server
    server.stop()


@pytest.mark.live
def test_metrics_sum_every_worker(live_server):
    """Four workers each count their own requests; /metrics reports the whole server."""
    total = 40
    with httpx.Client(base_url=live_server.url) as http:
        for _ in range(total):
            # A new connection each time so the sync workers share the load.
            assert httpx.get(live_server.url + "/healthz").status_code == 200
        deadline = time.monotonic() + 15
        seen = 0.0
        while time.monotonic() < deadline:
            text = http.get("/metrics").text
            name = "gatehouse_http_requests_total"
            seen = sample(text, name, endpoint="ops.healthz", status="200") or 0
            # The start-up probe also hit /healthz; snapshots lag up to a second.
            if seen >= total:
                break
            time.sleep(0.3)
    assert seen >= total
