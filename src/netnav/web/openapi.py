"""The OpenAPI document's shared schemas: the case and plan formats from their JSON Schemas,
and the API's own envelopes (saved plan, plan list, explanation, problem details)."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from netnav.vocabulary import OPTION_IDS
from netnav.web.problems import PROBLEM_MEDIA_TYPE

__all__ = ["component_schemas", "json_body", "problem_responses", "ref"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _hoist(schema: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """A JSON Schema as components: ``$defs`` become ``<prefix><Def>`` with refs rewritten."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    names = {d: prefix + d.title().replace("_", "") for d in defs}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                    out[k] = f"#/components/schemas/{names[v.removeprefix('#/$defs/')]}"
                else:
                    out[k] = rewrite(v)
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    out = {prefix: rewrite(schema)}
    for d, body in defs.items():
        out[names[d]] = rewrite(body)
    return out


def _package_schema(package: str, name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(resources.files(package).joinpath(name).read_text("utf-8"))
    return value


_VERDICT = {
    "type": "object",
    "required": ["criterion", "verdict", "why", "facts"],
    "properties": {
        "criterion": {"type": "string"},
        "verdict": {"type": "string", "description": "pass, warn, undetermined or fail"},
        "why": {"type": "string"},
        "facts": {"type": "array", "items": {"type": "string"}},
        "missing": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "test"],
                "properties": {"field": {"type": "string"}, "test": {"type": ["string", "null"]}},
            },
        },
        "children": {"type": "array", "items": ref("VerdictNode")},
    },
}

_SAVED_FIELDS: dict[str, Any] = {
    "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "url": {"type": "string", "description": "this plan in the API"},
    "page": {"type": "string", "description": "this plan's web page"},
    "case_id": {"type": ["string", "null"]},
    "knowledge_version": {"type": "string"},
    "netnav_version": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "previous_plan_id": {
        "type": ["string", "null"],
        "description": "the saved plan this one re-ran under a newer knowledge version",
    },
}


@cache
def component_schemas() -> dict[str, Any]:
    """Schemas to merge into ``components.schemas`` of the OpenAPI document."""
    schemas: dict[str, Any] = {}
    schemas.update(_hoist(_package_schema("netnav.case", "case.schema.json"), "Case"))
    schemas.update(_hoist(_package_schema("netnav", "plan.schema.json"), "Plan"))
    summary_required = list(_SAVED_FIELDS)
    schemas["SavedPlanSummary"] = {
        "type": "object",
        "required": summary_required,
        "properties": dict(_SAVED_FIELDS),
    }
    schemas["SavedPlan"] = {
        "type": "object",
        "description": "A plan as saved: the plan document with its id, time and knowledge.",
        "required": [*summary_required, "plan"],
        "properties": {**_SAVED_FIELDS, "plan": ref("Plan")},
    }
    schemas["FhirBundle"] = {
        "type": "object",
        "description": "A FHIR R4 Bundle of the patient's record (mCODE profiles; docs/fhir.md "
        "lists every element read).",
        "required": ["resourceType"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"type": "string"},
            "timestamp": {"type": "string"},
            "entry": {"type": "array", "items": {"type": "object"}},
        },
    }
    schemas["FhirImportReport"] = {
        "type": "object",
        "description": "Where each case field came from, and every FHIR item not used.",
        "required": ["format", "provenance", "unmapped"],
        "properties": {
            "format": {"const": "netnav-fhir-import/1"},
            "provenance": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "unmapped": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["resource", "element", "reason"],
                    "properties": {
                        "resource": {"type": "string"},
                        "element": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    }
    schemas["SavedPlanFromFhir"] = {
        "type": "object",
        "description": "A plan saved from a FHIR Bundle, with the import report.",
        "required": [*summary_required, "plan", "fhir_import"],
        "properties": {
            **_SAVED_FIELDS,
            "plan": ref("Plan"),
            "fhir_import": ref("FhirImportReport"),
        },
    }
    schemas["SavedPlanWithCase"] = {
        "type": "object",
        "required": [*summary_required, "plan", "case"],
        "properties": {**_SAVED_FIELDS, "plan": ref("Plan"), "case": ref("Case")},
    }
    schemas["PlanList"] = {
        "type": "object",
        "required": ["total", "plans"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "plans": {"type": "array", "items": ref("SavedPlanSummary")},
        },
    }
    schemas["ExplainRequest"] = {
        "type": "object",
        "required": ["case", "option"],
        "properties": {
            "case": ref("Case"),
            "option": {
                "enum": list(OPTION_IDS),
                "description": "an option id of the vocabulary (docs/options.md)",
            },
        },
    }
    schemas["VerdictNode"] = _VERDICT
    schemas["Explanation"] = {
        "type": "object",
        "required": ["option", "name", "status", "summary", "knowledge_version", "tree"],
        "properties": {
            "option": {"type": "string"},
            "name": {"type": "string"},
            "status": {"enum": ["recommended", "avoid", "held_back", "not_recommended"]},
            "summary": {"type": "string"},
            "knowledge_version": {"type": "string"},
            "tree": ref("VerdictNode"),
        },
    }
    schemas["KnowledgeRule"] = {
        "type": "object",
        "required": ["id", "knowledge_version", "rule", "file"],
        "properties": {
            "id": {"type": "string"},
            "knowledge_version": {"type": "string"},
            "file": {"type": "string"},
            "rule": {"type": "object"},
        },
    }
    schemas["Health"] = {
        "type": "object",
        "required": ["status", "netnav_version", "knowledge_version", "database"],
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "netnav_version": {"type": "string"},
            "knowledge_version": {"type": "string"},
            "database": {"enum": ["ok", "unavailable"]},
        },
    }
    schemas["ProblemField"] = {
        "type": "object",
        "required": ["path", "message", "allowed", "detail"],
        "properties": {
            "path": {"type": "string"},
            "message": {"type": "string"},
            "value": {},
            "allowed": {"type": "string"},
            "detail": {"type": "string"},
        },
    }
    schemas["Problem"] = {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": ref("ProblemField")},
        },
    }
    return schemas


def json_body(name: str, description: str, fhir_schema: str | None = None) -> dict[str, Any]:
    """An ``openapi_extra`` request body of JSON schema ``name`` (and, with ``fhir_schema``,
    the same operation taking ``application/fhir+json``)."""
    content: dict[str, Any] = {"application/json": {"schema": ref(name)}}
    if fhir_schema is not None:
        content["application/fhir+json"] = {"schema": ref(fhir_schema)}
    return {"requestBody": {"required": True, "description": description, "content": content}}


_PROBLEM_TEXT = {
    400: "The body is not valid JSON",
    401: "A bearer token is required (server bound off loopback)",
    404: "No such id",
    413: "The request body is over 1 MB",
    415: "The body is neither application/json nor application/fhir+json",
    422: "The request is not valid: `errors` lists every problem (path, value, allowed)",
    503: "The plan store is unavailable; nothing was saved",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem-details answers."""
    return {
        code: {
            "description": _PROBLEM_TEXT[code],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ref("Problem")}},
        }
        for code in codes
    }
