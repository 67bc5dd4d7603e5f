"""CSRF protection for every browser form (Flask-WTF).

Blueprints that clients call directly are exempted in create_app; the JSON management API
re-applies it for session (not token) callers, and RP logout's confirmation form checks itself.
"""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
