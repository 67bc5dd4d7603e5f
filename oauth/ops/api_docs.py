"""The API reference page (/api/docs): the OpenAPI document (oauth/ops/openapi.py) by tag."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

# Section headings: the tag names are identifiers ("api"), people read titles.
TAG_TITLES = {
    "discovery": "Discovery",
    "protocol": "OAuth protocol endpoints",
    "registration": "Client registration",
    "api": "The built-in API",
    "management": "Management API",
    "mock": "Mock control API",
    "operations": "Operations",
}
_INLINE_CODE = re.compile(r"`([^`]+)`")


def inline_text(text: str | None) -> Markup:
    """A description as HTML: escaped, with `inline code` (CommonMark's one rule we use)
    as <code>, so no literal backtick reaches the page."""
    parts = _INLINE_CODE.split(text or "")
    return Markup("").join(
        Markup("<code>%s</code>") % part if odd else escape(part)
        for odd, part in ((i % 2 == 1, part) for i, part in enumerate(parts))
    )


def _type_of(schema: dict[str, Any]) -> str:
    """A short human reading of a schema: `string`, `one of a, b`, `App`, `list of string`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return f'"{schema["const"]}"'
    if "anyOf" in schema:
        return " or ".join(_type_of(s) for s in schema["anyOf"])
    kind = schema.get("type", "object")
    if kind == "array":
        return "list of " + _type_of(schema.get("items", {}))
    return " or ".join(kind) if isinstance(kind, list) else kind


def fields(schema: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of an object schema (following $ref into `schemas`, and allOf) for a table."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema:
        return [field for part in schema["allOf"] for field in fields(part, schemas)]
    required = set(schema.get("required", []))
    return [
        {"name": name, "type": _type_of(sub), "required": name in required}
        for name, sub in schema.get("properties", {}).items()
    ]


def reference(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document regrouped by tag for the HTML reference: sections of operations."""
    sections = {
        tag["name"]: {**tag, "title": TAG_TITLES.get(tag["name"], tag["name"].capitalize()),
                      "operations": []}
        for tag in doc["tags"]
    }  # fmt: skip
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method == "parameters":
                continue
            media, schema = next(iter(operation.get("requestBody", {}).get("content", {}).items()),
                                 (None, None))  # fmt: skip
            auth = [", ".join(req) or "none" for req in operation.get("security", [])]
            responses = []
            for status, response in operation["responses"].items():
                content = next(iter(response.get("content", {}).values()), None)
                shape = _type_of(content["schema"]) if content else ""
                responses.append({"status": status, "description": response["description"],
                                  "schema": shape})  # fmt: skip
            sections[operation["tags"][0]]["operations"].append({
                "id": f"{method}-{path}".replace("/", "-").strip("-"),
                "method": method.upper(),
                "path": path,
                "summary": operation["summary"],
                "auth": auth,
                "parameters": [
                    {"name": p["name"], "in": p["in"], "type": _type_of(p["schema"]),
                     "required": p.get("required", False)}
                    for p in [*shared, *operation.get("parameters", [])]
                ],
                "media": media,
                "fields": fields(schema["schema"], doc["components"]["schemas"]) if schema else [],
                "responses": responses,
            })  # fmt: skip
    return list(sections.values())


def schema_tables(doc: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every component schema of the document as (name, member rows)."""
    schemas = doc["components"]["schemas"]
    return [(name, fields(schema, schemas)) for name, schema in schemas.items()]
