"""/healthz and /metrics: what they report and who may read them."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from app import create_app
from oauth.ops import metrics
from oauth.ops.hardening import HTML_PREFIXES, JSON_PREFIXES
from tests.helpers.common import basic, login, make_client
from tests.helpers.live import restart, start_live_server, worker_pids

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
    # prometheus_client writes bounds as Go does: le="1.0" (Prometheus 3 normalises to that).
    buckets = [
        sample(text, name + "_bucket", endpoint="ops.healthz", le=str(b)) for b in metrics.BUCKETS
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
    server = start_live_server(tmp_path, workers=2)
    yield server
    server.stop()


def unmatched_404s(server) -> float:
    """Requests to unknown paths so far, as the server's /metrics reports them."""
    text = httpx.get(server.url + "/metrics").text
    found = sample(text, "gatehouse_http_requests_total", endpoint="unmatched", status="404")
    return found or 0


def miss(server, times: int) -> None:
    for _ in range(times):
        # A new connection each time so the sync workers share the load.
        assert httpx.get(server.url + "/no/such/page").status_code == 404


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("gave up waiting for " + what)
        time.sleep(0.1)


@pytest.mark.live
def test_metrics_sum_every_worker_dead_or_alive(live_server):
    """/metrics reports the whole server: every worker's counts, those of dead workers too."""
    miss(live_server, 10)
    before = worker_pids(live_server)
    # A live gauge per worker, as prometheus_client writes them: the master's child_exit hook
    # must remove a dead worker's (its counters stay).
    directory = Path(live_server.database + "-metrics")
    gauges = [directory / f"gauge_livesum_{pid}.db" for pid in before]
    for gauge in gauges:
        MmapedDict(str(gauge)).close()
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(g.exists() for g in gauges), "child_exit")
    wait_for(lambda: len(set(worker_pids(live_server)) - set(before)) == 2, "new workers")
    miss(live_server, 5)
    # Only the old workers counted the first 10, only new ones the last 5.
    assert unmatched_404s(live_server) == 15


@pytest.mark.live
def test_metrics_of_a_previous_run_do_not_count(live_server):
    miss(live_server, 3)
    assert unmatched_404s(live_server) == 3
    live_server.stop()
    again = restart(live_server)
    try:
        miss(again, 2)
        assert unmatched_404s(again) == 2
    finally:
        again.stop()


def test_metrics_refuse_to_start_when_multiprocess_mode_came_too_late(monkeypatch, tmp_path):
    """The variable was set after prometheus_client chose in-memory values: say so, loudly."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        create_app({"DATABASE": str(tmp_path / "db.sqlite3"), "SECRET_KEY": "k" * 64})


# -- /openapi.json and /api/docs ------------------------------------------------------------

DOCUMENTED_ELSEWHERE = (
    "/.well-known/oauth-authorization-server/<path:suffix>",  # RFC 8414 path insertion aliases
    "/.well-known/openid-configuration/<path:suffix>",
    "/<path:prefix>/.well-known/openid-configuration",
    "/<path:prefix>/.well-known/oauth-protected-resource",
    "/openapi.json",
    "/api/docs",
)


def _shape(path: str) -> str:
    """A path with its parameters blanked: `/apps/<client_id>` and `/apps/{id}` compare equal."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def json_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if not path.startswith(JSON_PREFIXES) and "/.well-known/" not in path:
            continue
        page = any(path == p or path.startswith(p + "/") for p in HTML_PREFIXES)
        if page or path in DOCUMENTED_ELSEWHERE:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((_shape(path), method.lower()))
    return routes


@pytest.fixture(params=[False, True], ids=["normal", "mock"])
def any_mode_app(config, request):
    """The app without and with GATEHOUSE_MOCK (the mock control API is listed only there)."""
    config["MOCK"] = request.param
    return request.getfixturevalue("app")


def test_openapi_documents_every_json_route(any_mode_app):
    doc = any_mode_app.test_client().get("/openapi.json").get_json()
    documented = {
        (_shape(path), method)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert json_routes(any_mode_app) == documented


def test_openapi_document_is_3_1_and_every_ref_resolves(any_mode_app):
    response = any_mode_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": "http://127.0.0.1:8000"}]
    refs = re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', response.get_data(as_text=True))
    assert refs and set(refs) <= set(doc["components"]["schemas"])
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                assert operation["responses"] and operation["summary"] and operation["tags"]


def test_api_docs_page_shows_every_operation_from_this_server(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    doc = client.get("/openapi.json").get_json()
    for path, item in doc["paths"].items():
        for method in item:
            if method != "parameters":
                assert f"<code>{method.upper()} {path}</code>" in html
    # Server-side rendered: no script, and nothing fetched from another origin.
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_api_docs_page_renders_its_text(client):
    """Inline `code` in descriptions becomes <code>; headings are titles, not tag names."""
    html = client.get("/api/docs").get_data(as_text=True)
    assert "`" not in html
    assert "<h2>Api</h2>" not in html and "<h2>The built-in API</h2>" in html
    assert "<code>validations</code>" in html
