"""Token revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("introspection", __name__, url_prefix="/oauth2")
