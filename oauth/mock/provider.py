"""Mock identity provider mode (GATEHOUSE_MOCK=1): the switches, extra claims and users.

Sign-in by username alone creates the user; extra claims (a JSON object) ride on `User.claims`
into id_tokens and UserInfo. Forced errors are in `oauth.mock.forced`, adopted clients and
minted tokens in `oauth.mock.clients`; the views are `oauth.login` and `oauth.mock.api`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import current_app

from models import User, audit, db, utcnow
from oauth.manage import apps, users
from oauth.rules import id_token as claims

MOCK_ACTOR = "mock"
MAX_CLAIMS_BYTES = 8 * 1024


class MockError(ValueError):
    """Input the mock rules refuse; `problems` lists every one as {"field", "detail"}."""

    def __init__(self, message: str, problems: apps.Problems | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def mock_on() -> bool:
    return bool(current_app.config["MOCK"])


def auto_consent() -> bool:
    """Whether consent is approved without asking (mock mode + GATEHOUSE_MOCK_AUTO_CONSENT)."""
    return mock_on() and bool(current_app.config["MOCK_AUTO_CONSENT"])


# -- claims --------------------------------------------------------------------------------


def claims_problem(value: Any) -> str | None:
    """Why `value` cannot be a user's extra claims, or None: a small JSON object, no
    registered names (`sub`, `iss`, `aud`, ... : oauth.rules.id_token.PROTECTED_CLAIMS)."""
    if not isinstance(value, Mapping):
        return "must be a JSON object"
    taken = sorted(name for name in value if name in claims.PROTECTED_CLAIMS)
    if taken:
        return f"must not set registered claims: {', '.join(taken)}"
    if any(not name for name in value):
        return "claim names must not be empty"
    if len(json.dumps(value)) > MAX_CLAIMS_BYTES:
        return f"must be at most {MAX_CLAIMS_BYTES} bytes of JSON"
    return None


def parse_claims_text(text: str | None) -> dict[str, Any] | None:
    """The claims typed into the sign-in page's JSON box; None when the box is empty."""
    if not (text or "").strip():
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise MockError('Extra claims must be valid JSON, e.g. {"groups": ["staff"]}.') from None
    problem = claims_problem(value)
    if problem:
        raise MockError(f"Extra claims {problem}.")
    return dict(value)


# -- users ---------------------------------------------------------------------------------


def sign_in_user(username: str, extra: dict[str, Any] | None, ip: str = "") -> User:
    """The user named `username`, created on first sign-in; `extra` replaces their claims.

    Call inside `db.atomic("IMMEDIATE")` so two first sign-ins cannot race.
    """
    normal = users.check_username(username)
    user = User.by_username(normal)
    if user is None:
        user = users.create_user(normal, claims=extra or {})
        audit(MOCK_ACTOR, "user.create", "user", normal, {"username": [None, normal]}, ip)
    elif extra is not None and extra != user.claims:
        _write_user(user, {"claims": extra}, MOCK_ACTOR, ip)
    return user


def check_user_fields(data: Any) -> dict[str, Any]:
    """Validated fields of a control-API user body; every problem at once (MockError)."""
    if not isinstance(data, Mapping):
        raise MockError("The body must be a JSON object.")
    clean: dict[str, Any] = {}
    problems: apps.Problems = []
    checks = {
        "email": users.check_email,
        "name": users.check_name,
        "password": users.check_password,
    }
    for field, check in checks.items():
        if field in data:
            value = data[field]
            if value is not None and not isinstance(value, str):
                problems.append({"field": field, "detail": "must be a string"})
                continue
            try:
                clean[field] = check(value) if value is not None else None
            except users.AccountError as exc:
                problems.append({"field": field, "detail": str(exc)})
    for field in ("admin", "email_verified"):
        if field in data:
            if not isinstance(data[field], bool):
                problems.append({"field": field, "detail": "must be true or false"})
            clean[field] = data[field]
    if "claims" in data:
        problem = claims_problem(data["claims"])
        if problem:
            problems.append({"field": "claims", "detail": problem})
        clean["claims"] = data["claims"]
    if problems:
        raise MockError("Validation failed.", problems)
    return clean


def upsert_user(username: str, fields: dict[str, Any], actor: str, ip: str) -> tuple[User, bool]:
    """Create or update a user with validated fields: (user, created). Left-out fields keep."""
    normal = users.check_username(username)
    with db.atomic("IMMEDIATE"):  # read then write: one upsert at a time
        user = User.by_username(normal)
        created = user is None
        if created:
            user = users.create_user(normal)
            audit(actor, "user.create", "user", normal, {"username": [None, normal]}, ip)
        if fields.get("admin") is False and user.is_admin:
            try:
                users.set_admin(actor, ip, user, False)  # keeps the last admin rule
            except users.AccountError as exc:
                problem = {"field": "admin", "detail": str(exc)}
                raise MockError("Validation failed.", [problem]) from None
        _write_user(user, fields, actor, ip)
    return user, created


def _write_user(user: User, fields: dict[str, Any], actor: str, ip: str) -> None:
    values = {
        "email": fields.get("email", user.email),
        "name": fields.get("name", user.name),
        "is_admin": fields.get("admin", user.is_admin),
        "email_verified": fields.get("email_verified", bool(user.email_verified)),
        "claims": fields.get("claims", user.claims),
    }
    changes = {k: [getattr(user, k), v] for k, v in values.items() if getattr(user, k) != v}
    if "password" in fields:
        password = fields["password"]
        user.password_hash = users.hash_password(password) if password else None
        changes["password"] = [None, "(changed)"]  # never the password or its hash
    if not changes:
        return
    for name, value in values.items():
        setattr(user, name, value)
    user.updated_at = utcnow()
    user.save()
    audit(actor, "user.update", "user", user.username, changes, ip)


def user_json(user: User) -> dict[str, Any]:
    """A user as the control API shows it (never the password hash)."""
    return {
        "username": user.username,
        "sub": user.sub,
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "name": user.name,
        "admin": bool(user.is_admin),
        "claims": user.claims or {},
        "created_at": apps.timestamp(user.created_at),
        "updated_at": apps.timestamp(user.updated_at),
    }
