"""The import contracts import-linter cannot express (it takes packages, not top-level modules):
models.py imports neither flask nor oauth; the oauth package never imports app.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_roots(path: Path) -> set[str]:
    """The top-level package names a module imports (absolute imports, anywhere in it)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.partition(".")[0])
    return roots


def test_models_imports_neither_flask_nor_oauth():
    assert imported_roots(ROOT / "models.py") & {"flask", "oauth", "app"} == set()


def test_oauth_never_imports_app():
    importers = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "oauth").rglob("*.py"))
        if "app" in imported_roots(path)
    ]
    assert importers == []


def test_store_imports_no_flask():
    """oauth/store.py, the hot paths' SQL, runs under any caller (grants, rules, CLI, bench)."""
    assert imported_roots(ROOT / "oauth" / "store.py") & {"flask", "app"} == set()
