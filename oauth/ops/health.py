"""Operations endpoints: /healthz, /metrics (Prometheus), /openapi.json and /api/docs."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from peewee import PeeweeException

from models import db
from oauth.ops import metrics, openapi
from oauth.ops.api_docs import inline_text, reference, schema_tables
from oauth.params import bearer_token
from oauth.session import current_user, personal_token_user
from oauth.urls import is_loopback_host

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness plus a real database round trip; 503 when the database does not answer."""
    try:
        db.execute_sql("SELECT 1").fetchone()
    except PeeweeException:
        return jsonify({"status": "unavailable", "database": "error"}), 503
    return jsonify({"status": "ok", "database": "ok"})


def may_read_metrics() -> bool:
    """Loopback callers (a local Prometheus or agent) and administrators may read /metrics.

    A request relayed by a proxy we were not told to trust only looks local, so it is not.
    """
    trusted = int(current_app.config["TRUSTED_PROXIES"])
    relayed = "X-Forwarded-For" in request.headers and not trusted
    if is_loopback_host(request.remote_addr or "") and not relayed:
        return True
    token = bearer_token()
    user = personal_token_user(token) if token else current_user()
    return user is not None and user.is_admin


@bp.get("/metrics")
def metrics_view():
    """Requests by endpoint and status, latency histogram, tokens issued (Prometheus text)."""
    if not may_read_metrics():
        body = {"error": "access_denied", "error_description": "Metrics are for operators."}
        return jsonify(body), 403
    return Response(metrics.exposition(current_app), content_type=metrics.CONTENT_TYPE)


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document of the JSON endpoints (public, like the metadata)."""
    response = jsonify(openapi.document(current_app.config["ISSUER"], current_app.config["MOCK"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/api/docs")
def api_docs():
    """The API reference, rendered here from the same document (nothing loaded from elsewhere)."""
    doc = openapi.document(current_app.config["ISSUER"], current_app.config["MOCK"])
    sections = reference(doc)
    schemas = schema_tables(doc)
    return render_template(
        "ops/api_docs.html", doc=doc, sections=sections, schemas=schemas, text=inline_text
    )
