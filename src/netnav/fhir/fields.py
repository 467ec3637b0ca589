"""The case fields a FHIR Observation may fill directly (case-field code system).

:func:`case_fields` walks the packaged case schema (``netnav/case/case.schema.json``) and
returns ``{path: schema node}`` for every field under ``patient`` and ``tumor``: scalars
(``tumor.ki67_percent``), fields of nested objects (``patient.labs.egfr_ml_min``,
``tumor.sstr_imaging.krenning_max``), arrays of enumerations (``tumor.symptoms``) and the two
structured fields read specially (``tumor.sstr_imaging``, ``tumor.ki67_history``), with the fields of their items
(``tumor.ki67_history.specimen``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["case_fields", "field_kind"]


@cache
def case_fields() -> dict[str, dict[str, Any]]:
    """``{case field path: JSON-schema node}`` for patient.* and tumor.* (read once)."""
    text = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
    schema = json.loads(text)
    found: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for name, child in node.get("properties", {}).items():
            path = f"{prefix}.{name}"
            found[path] = child
            if child.get("type") == "object":
                walk(path, child)
            elif child.get("type") == "array" and child.get("items", {}).get("type") == "object":
                walk(path, child["items"])  # tumor.ki67_history.specimen …

    for top in ("patient", "tumor"):
        walk(top, schema["properties"][top])
    return found


def field_kind(node: dict[str, Any]) -> str:
    """``boolean``, ``integer``, ``number``, ``string``, ``enum``, ``enum_array``, ``object``
    or ``array`` (an array of objects) for a schema node."""
    if "enum" in node:
        return "enum"
    kind = str(node.get("type", ""))
    if kind == "array":
        return "enum_array" if "enum" in node.get("items", {}) else "array"
    return kind
