"""Token endpoint (RFC 6749 §3.2): one function per grant_type."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("token", __name__, url_prefix="/oauth2")
