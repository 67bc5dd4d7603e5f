"""Dynamic client registration (RFC 7591) and management (RFC 7592)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("registration", __name__, url_prefix="/oauth2")
