"""Admin UI for users, resources and the audit log: /admin/users, /admin/resources, /admin/audit."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_users", __name__, url_prefix="/admin")
