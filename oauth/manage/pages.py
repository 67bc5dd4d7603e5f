"""The admin page blueprints, each defined once and shared by the modules that add routes.

- "admin" (/admin/apps, /admin/resources): apps_pages.py and resources_pages.py.
- "admin_users" (/admin/users, /admin/audit): users_pages.py and audit.py.

Each of those modules names its blueprint `bp`; app.py registers each blueprint once, and
`url_for("admin.app_page")` and the templates name them as before.
"""

from __future__ import annotations

from flask import Blueprint
from flask_wtf import FlaskForm

from oauth.manage.apps import Problems

admin = Blueprint("admin", __name__, url_prefix="/admin")
admin_users = Blueprint("admin_users", __name__, url_prefix="/admin")


def attach_problems(form: FlaskForm, problems: Problems, fallback) -> None:
    """Show each problem under its field (`redirect_uris[2]` under redirect_uris)."""
    for problem in problems:
        field = form._fields.get(problem["field"].partition("[")[0], fallback)
        field.errors = [*field.errors, problem["detail"]]
