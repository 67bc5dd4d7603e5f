"""Operations endpoints: /healthz (liveness and a database check)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from peewee import PeeweeException

from models import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness plus a real database round trip; 503 when the database does not answer."""
    try:
        db.execute_sql("SELECT 1").fetchone()
    except PeeweeException:
        return jsonify({"status": "unavailable", "database": "error"}), 503
    return jsonify({"status": "ok", "database": "ok"})
