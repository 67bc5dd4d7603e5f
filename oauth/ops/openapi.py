"""The OpenAPI 3.1 document for Gatehouse's JSON endpoints: protocol, management, operations.

The document is data, kept by hand in openapi.json beside this module: when an endpoint changes
what it accepts or answers, change it there. Two things are decided at run time: the server URL
(this server's issuer) and the mock control API, whose operations (tagged `mock`) are listed
only in mock mode, the only mode in which their routes exist.

Served at /openapi.json and rendered as the reference page /api/docs (oauth/ops/api_docs.py).
Schemathesis checks the running server against it (tests/interop/test_schemathesis.py), so every
status an operation can answer is listed, with the shape of its body; tests/ops/test_ops.py checks
that it describes every JSON route and nothing more.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("openapi.json")
MOCK_TAG = "mock"


@cache
def _data() -> dict[str, Any]:
    """openapi.json as written: every operation, no servers (read once per process)."""
    return json.loads(SOURCE.read_text(encoding="utf-8"))


def _is_mock(operation: dict[str, Any]) -> bool:
    return MOCK_TAG in operation.get("tags", [])


def _outside_mock_mode(item: dict[str, Any]) -> dict[str, Any] | None:
    """A path item without its mock operations; None when no operation is left."""
    kept = {key: value for key, value in item.items() if key == "parameters" or not _is_mock(value)}
    return kept if set(kept) - {"parameters"} else None


@cache
def paths(mock: bool = False) -> dict[str, Any]:
    """Every JSON operation, by path and method; the mock control API only in mock mode."""
    every = _data()["paths"]
    if mock:
        return every
    kept = {path: _outside_mock_mode(item) for path, item in every.items()}
    return {path: item for path, item in kept.items() if item is not None}


@lru_cache(maxsize=8)
def document(issuer: str, mock: bool = False) -> dict[str, Any]:
    """The document for a server at `issuer`, built once per process: shared, do not change it."""
    data = _data()
    tags = data["tags"] if mock else [tag for tag in data["tags"] if tag["name"] != MOCK_TAG]
    return {**data, "servers": [{"url": issuer}], "tags": tags, "paths": paths(mock)}
