"""JSON management API for OAuth2 apps and their secrets: /api/v2/oauth2-provider/apps."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("apps_api", __name__, url_prefix="/api/v2/oauth2-provider")
