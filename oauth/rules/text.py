"""Names and free text people see: usernames, and the characters no displayed text may hold."""

from __future__ import annotations

import re
import unicodedata

_USERNAME = re.compile(r"^[a-z0-9._-]{1,64}$")
# Unicode categories no name or free text needs, and that let text misstate itself on consent
# and admin pages, in the audit log and in terminals: controls (Cc: C0 and C1), format (Cf: bidi
# overrides, zero-width), surrogates (Cs), private use (Co), line and paragraph separators (Zl,
# Zp). Unicode TR #36 §2 and "Trojan Source" (CVE-2021-42574).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def text_problem(text: str) -> str | None:
    """Why a name or free-text value is refused (a hidden or control character), or None."""
    for ch in text:
        if unicodedata.category(ch) in HIDDEN_CATEGORIES:
            return f"must not contain control or invisible characters (U+{ord(ch):04X})"
    return None


def normalize_username(username: str) -> str | None:
    """Lower-cased username if it is 1-64 of [a-z0-9._-], else None."""
    if not isinstance(username, str):
        return None
    value = username.strip().lower()
    if value in (".", "..") or not _USERNAME.match(value):  # never a path segment trick
        return None
    return value
