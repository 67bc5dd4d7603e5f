"""Authorization endpoint and consent (RFC 6749 §4.1, RFC 7636, RFC 8707, RFC 9207)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("authorize", __name__, url_prefix="/oauth2")
