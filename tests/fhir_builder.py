"""Test-only: express a netnav case as a FHIR R4 Bundle using only netnav's local codes.

``build(case)`` returns a ``collection`` Bundle whose ``timestamp`` is the case's ``as_of``:
a Patient (gender, a birthDate giving ``age_years`` at ``as_of``), one case-field Observation
per scalar field of ``patient`` and ``tumor`` (dated ``as_of``), one per array item
(case-value ``none`` for an empty array), the SSTR-imaging panel with components, Ki-67 as
``tumor.ki67_percent`` plus one ``tumor.ki67_history`` Observation per history item, and one
MedicationStatement per treatment (therapy code system, effectivePeriod, the
treatment-outcome extension, status active/completed/unknown from ``ongoing``).

Not expressible (not FHIR-derived, docs/fhir.md): ``preferences``, ``extensions``; ``id`` and
``setting.region`` are given to ``import_bundle`` as arguments, as the CLI does.
"""

from __future__ import annotations

from typing import Any

from netnav.fhir.codes import tables
from netnav.fhir.fields import case_fields, field_kind

__all__ = ["NOT_EXPRESSIBLE", "build"]

NOT_EXPRESSIBLE = ("preferences", "extensions")

FIELD = "https://fhir.netnav.org/CodeSystem/case-field"
VALUE = "https://fhir.netnav.org/CodeSystem/case-value"
THERAPY = "https://fhir.netnav.org/CodeSystem/therapy"
OUTCOME = "https://fhir.netnav.org/StructureDefinition/treatment-outcome"
UCUM = "http://unitsofmeasure.org"


def _code(path: str) -> dict[str, Any]:
    return {"coding": [{"system": FIELD, "code": path}]}


def _value(path: str, value: Any) -> dict[str, Any]:
    kind = field_kind(case_fields()[path])
    if kind == "boolean":
        return {"valueBoolean": value}
    if kind == "integer":
        return {"valueInteger": value}
    if kind == "number":
        unit = tables().target_unit(path) or "1"
        return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
    if kind == "string":
        return {"valueString": value}
    return {"valueCodeableConcept": {"coding": [{"system": VALUE, "code": value}]}}


class _Bundle:
    def __init__(self, as_of: str) -> None:
        self.as_of = as_of
        self.entries: list[dict[str, Any]] = []

    def add(self, resource: dict[str, Any]) -> None:
        resource_id = f"{resource['resourceType'].lower()}-{len(self.entries)}"
        self.entries.append(
            {"fullUrl": f"urn:uuid:{resource_id}", "resource": {"id": resource_id, **resource}}
        )

    def observation(
        self, path: str, value_part: dict[str, Any], when: str | None = None, **more: Any
    ) -> None:
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": _code(path),
        }
        obs["effectiveDateTime"] = when or self.as_of
        obs.update(value_part)
        obs.update(more)
        self.add(obs)


def _scalars(bundle: _Bundle, prefix: str, obj: dict[str, Any]) -> None:
    for name, value in obj.items():
        path = f"{prefix}.{name}"
        if path in (
            "patient.age_years",
            "patient.sex",
            "tumor.ki67_percent",
            "tumor.ki67_history",
            "tumor.sstr_imaging",
        ):
            continue
        kind = field_kind(case_fields()[path])
        if kind == "object":
            _scalars(bundle, path, value)
        elif kind == "enum_array":
            for item in value or ["none"]:
                bundle.observation(path, _value(path, item))
        else:
            bundle.observation(path, _value(path, value))


def _treatment(item: dict[str, Any]) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": THERAPY, "code": item["therapy"]}]}
    if "details" in item:
        concept["text"] = item["details"]
    status = {True: "active", False: "completed"}.get(item.get("ongoing"), "unknown")  # type: ignore[call-overload]
    statement: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "status": status,
        "medicationCodeableConcept": concept,
        "subject": {"reference": "urn:uuid:patient-0"},
    }
    period = {k: item[k] for k in ("start", "end") if k in item}
    if period:
        statement["effectivePeriod"] = period
    outcome: list[dict[str, Any]] = []
    for name, key in (
        ("best_response", "valueCode"),
        ("stop_reason", "valueCode"),
        ("months_to_progression", "valueDecimal"),
        ("cycles", "valueInteger"),
    ):
        if name in item:
            outcome.append({"url": name, key: item[name]})
    if outcome:
        statement["extension"] = [{"url": OUTCOME, "extension": outcome}]
    return statement


def build(case: dict[str, Any]) -> dict[str, Any]:
    """A FHIR R4 collection Bundle that imports back into ``case`` (see the module doc)."""
    as_of = case["as_of"]
    bundle = _Bundle(as_of)
    patient = dict(case.get("patient", {}))
    person: dict[str, Any] = {"resourceType": "Patient"}
    if "sex" in patient:
        person["gender"] = patient["sex"]
    if "age_years" in patient:
        person["birthDate"] = f"{int(as_of[:4]) - patient['age_years']:04d}-01-01"
    bundle.add(person)
    _scalars(bundle, "patient", patient)
    tumor = case["tumor"]
    _scalars(bundle, "tumor", tumor)
    if "ki67_percent" in tumor:
        bundle.observation(
            "tumor.ki67_percent", _value("tumor.ki67_percent", tumor["ki67_percent"])
        )
    for record in tumor.get("ki67_history", []):
        components = []
        if "specimen" in record:
            components.append(
                {
                    "code": _code("tumor.ki67_history.specimen"),
                    **_value("tumor.ki67_history.specimen", record["specimen"]),
                }
            )
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": _code("tumor.ki67_history"),
        }
        if "date" in record:
            obs["effectiveDateTime"] = record["date"]
        obs["valueQuantity"] = {
            "value": record["percent"],
            "unit": "%",
            "system": UCUM,
            "code": "%",
        }
        if components:
            obs["component"] = components
        bundle.add(obs)
    if "sstr_imaging" in tumor:
        components = [
            {
                "code": _code(f"tumor.sstr_imaging.{name}"),
                **_value(f"tumor.sstr_imaging.{name}", value),
            }
            for name, value in tumor["sstr_imaging"].items()
        ]
        bundle.observation("tumor.sstr_imaging", {}, component=components)
    for item in case.get("treatments", []):
        bundle.add(_treatment(item))
    if case.get("treatments") == []:
        bundle.observation(
            "treatments", {"valueCodeableConcept": {"coding": [{"system": VALUE, "code": "none"}]}}
        )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": f"{as_of}T12:00:00Z",
        "entry": bundle.entries,
    }
