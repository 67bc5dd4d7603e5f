"""The built-in protected resource: /api/v2/users/me (RFC 6750 bearer tokens)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v2")
