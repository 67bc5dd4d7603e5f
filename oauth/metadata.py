"""Discovery: RFC 8414 and OIDC metadata, RFC 9728 protected resource metadata, JWKS."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("metadata", __name__)
