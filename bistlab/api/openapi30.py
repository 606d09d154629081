"""FastAPI's OpenAPI 3.1 document written down as OpenAPI 3.0, for the Swagger UI of ``/docs``.

The ``swagger-ui-bundle`` package ships Swagger UI 4, which reads OpenAPI 2.0 and 3.0 only and
refuses FastAPI's 3.1 document ("does not specify a valid version field"). :func:`as_openapi_30`
rewrites what differs in FastAPI's output: ``anyOf`` with ``{"type": "null"}`` (and ``type`` lists
with ``"null"``) become ``nullable``, a schema's ``examples`` list its ``example``, ``const`` a
one-value ``enum``, and a numeric ``exclusiveMinimum``/``exclusiveMaximum`` the 3.0 boolean form.
``/openapi.json`` stays FastAPI's own 3.1 document.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["OPENAPI_30", "as_openapi_30"]

OPENAPI_30 = "3.0.3"

_NULL = {"type": "null"}


def _nullable_any_of(schema: dict[str, Any]) -> None:
    """``anyOf: [X, {"type": "null"}]`` → X with ``nullable: true`` (a ``$ref`` wrapped in ``allOf``)."""
    members = schema.get("anyOf")
    if not isinstance(members, list) or _NULL not in members:
        return
    rest = [m for m in members if m != _NULL]
    del schema["anyOf"]
    schema["nullable"] = True
    if len(rest) == 1 and "$ref" in rest[0]:
        schema["allOf"] = rest
    elif len(rest) == 1:
        for key, value in rest[0].items():
            schema.setdefault(key, value)
    elif rest:
        schema["anyOf"] = rest


def _schema_30(schema: dict[str, Any]) -> None:
    """Rewrite one schema object in place (its children are visited by :func:`_walk`)."""
    _nullable_any_of(schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        schema["type"] = others[0] if len(others) == 1 else others
        if "null" in kind:
            schema["nullable"] = True
    if isinstance(schema.get("examples"), list):
        examples = schema.pop("examples")
        if examples:
            schema.setdefault("example", examples[0])
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = schema.get(bound)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            schema[limit], schema[bound] = value, True


_NAMED = ("properties", "schemas", "patternProperties", "$defs")
"""Keys whose value maps names to schemas (a property called ``type`` is not a schema's ``type``)."""


def _walk(node: Any) -> None:
    if isinstance(node, dict):
        if any(k in node for k in ("anyOf", "type", "examples", "const", "exclusiveMinimum", "exclusiveMaximum")):
            _schema_30(node)
        for key, value in node.items():
            if key in _NAMED and isinstance(value, dict):
                for child in value.values():
                    _walk(child)
            else:
                _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def as_openapi_30(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the OpenAPI 3.1 document ``spec`` as OpenAPI 3.0 (module docstring)."""
    out = copy.deepcopy(spec)
    out["openapi"] = OPENAPI_30
    _walk(out.get("paths"))
    _walk(out.get("components"))
    return out
