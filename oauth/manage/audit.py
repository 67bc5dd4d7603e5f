"""The audit log: who did what to which thing, from where (/admin/audit).

Events are written by the services (`models.audit`, one row per change, no secrets); this page
reads them, newest first, filtered by exact actor or target and by action or action prefix.
"""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request
from peewee import Select

from models import AuditEvent
from oauth.manage.pages import admin_users as bp
from oauth.session import admin_required

AUDIT_PAGE_SIZE = 50
MAX_PAGE = 100_000
FILTERS = ("actor", "action", "target")


def audit_query(filters: dict[str, str]) -> Select:
    """Audit events matching `filters` (empty values match all), newest first."""
    query = AuditEvent.select().order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if filters["actor"]:
        query = query.where(AuditEvent.actor == filters["actor"])
    if filters["target"]:
        query = query.where(AuditEvent.target == filters["target"])
    if filters["action"]:  # "login" matches login.success, login.failure, ...
        action = filters["action"].rstrip(".")
        query = query.where(
            (AuditEvent.action == action) | AuditEvent.action.startswith(action + ".")
        )
    return query


def as_json(value: Any) -> str:
    """A recorded value as people should read it: JSON (`["a"]`, `true`, `null`), not repr."""
    return json.dumps(value, ensure_ascii=False)


def change_lines(changes: dict[str, Any] | None) -> list[dict[str, str]]:
    """Each changed field as {"field", "before", "after"} (JSON text); a value recorded alone
    has only "value". Fields whose before and after are equal are left out."""
    lines = []
    for field, change in (changes or {}).items():
        if isinstance(change, list) and len(change) == 2:
            if change[0] != change[1]:
                lines.append({"field": field, "before": as_json(change[0]),
                              "after": as_json(change[1])})  # fmt: skip
        else:
            lines.append({"field": field, "value": as_json(change)})
    return lines


@bp.get("/audit")
@admin_required
def audit_log():
    """Audit events, newest first, filtered by exact actor/target and action (or prefix)."""
    filters = {key: request.args.get(key, "").strip() for key in FILTERS}
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    query = audit_query(filters)
    # One row more than a page tells whether an older page exists.
    rows = list(query.limit(AUDIT_PAGE_SIZE + 1).offset((page - 1) * AUDIT_PAGE_SIZE))
    more = len(rows) > AUDIT_PAGE_SIZE
    return render_template(
        "admin_users/audit.html",
        events=rows[:AUDIT_PAGE_SIZE],
        filters=filters,
        filter_args={key: value for key, value in filters.items() if value},
        page=page,
        more=more,
        change_lines=change_lines,
    )
