"""The guide facts: what the patient texts' ``when`` conditions and placeholders read.

Built from the case, the planner's result and the plan document, so that the texts in
``knowledge/data/patient/<lang>/guide.yaml`` can say when they apply without any Python
(``when: {sstr_status: [unknown]}``). Each fact is a scalar (string, number, boolean) or a
set of strings; an unknown value is the string ``"unknown"`` — never False (unknown is never
"no"). A condition ``{fact: [allowed, ...]}`` holds when a scalar fact is one of the allowed
values, or a set fact shares at least one value with them. A ``when`` needs all its
conditions; an ``unless`` hides the text when any one of its conditions holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netnav.case.model import Case
from netnav.engine.planner import PlanResult

__all__ = [
    "FACT_NAMES",
    "PLACEHOLDERS",
    "GuideFacts",
    "guide_facts",
    "matches",
    "matches_all_values",
    "matches_any",
]

Scalar = str | int | float | bool
FactValue = Scalar | frozenset[str]

UNKNOWN = "unknown"

FACT_NAMES: frozenset[str] = frozenset(
    {
        "site",
        "category",
        "grade",
        "extent",
        "syndrome",
        "syndrome_controlled",
        "sstr_status",
        "ki67_known",
        "size_known",
        "primary_removed",
        "resection_margin",
        "line_of_therapy",
        "disease_course",
        "lung_histotype",
        "gastric_type",
        "carcinoid_heart_disease",
        "germline_syndrome",
        "metastases",
        "has_metastases",
        "multiple_primaries",
        "options",
        "first_choice",
        "avoid",
        "next_steps",
        "missing",
        "has_missing",
        "tests",
        "surveillance",
        "watchful_waiting",
        "rebiopsy",
        "wants_trial_information",
        "treated_before",
        "ongoing",
        "treatment_offered",
        "after_removal",
        "grade_disagrees",
        "symptoms",
        "pregnant",
        "jaundice",
        "schedule",
        "best_supportive_care_offered",
    }
)
"""Every fact a ``when`` may name (the loader refuses others)."""

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "site",
        "ki67",
        "size",
        "grade",
        "reported_grade",
        "metastases",
        "syndrome",
        "clinic",
        "line",
        "lesions",
    }
)
"""Every ``{placeholder}`` a text may use (the loader refuses others)."""


@dataclass(frozen=True)
class GuideFacts:
    """Facts for conditions (``values``) and display strings for placeholders (``display``)."""

    values: Mapping[str, FactValue]
    display: Mapping[str, str]


def _s(value: object) -> Scalar:
    if value is None:
        return UNKNOWN
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _num(x: float) -> str:
    """A value as a person writes it: at most one decimal, never exponent notation."""
    text = f"{round(x, 1):.1f}".rstrip("0").rstrip(".")
    return text if text != "0" or x == 0 else "less than 0.1"


def _size(mm: float) -> str:
    # The report's millimetres exactly (thresholds such as 2 cm matter), with centimetres
    # for a sense of scale from 1 cm up.
    return f"{_num(mm)} mm (about {_num(mm / 10)} cm)" if mm >= 10 else f"{_num(mm)} mm"


_NOT_TREATMENT = frozenset({"strategy", "referral", "genetics", "trial"})


def guide_facts(
    case: Case,
    result: PlanResult,
    plan: Mapping[str, Any],
    names: Mapping[str, Mapping[str, str]],
    clinic: str,
    option_classes: Mapping[str, tuple[str, ...]] | None = None,
) -> GuideFacts:
    """Guide facts of one patient.

    ``option_classes`` (option id -> therapy classes, first the main one) tells which
    options are treatments (``treatment_offered``). ``names`` maps a kind (``site``, ``grade``, ``metastasis``, ``syndrome``) and a
    vocabulary value to its plain name (from ``guide.yaml``); ``clinic`` is the clinic's
    name from the settings.
    """
    t = case.tumor
    d = result.derived
    surveillance = plan.get("surveillance") or {}
    options = [o["id"] for o in plan["options"]]
    history = d.history
    values: dict[str, FactValue] = {
        "site": t.primary_site,
        "category": d.category.value,
        "grade": _s(d.grade.value),
        "extent": d.extent.value,
        "syndrome": _s(t.functional_syndrome),
        "syndrome_controlled": _s(t.syndrome_controlled),
        "sstr_status": d.sstr_status.value,
        "ki67_known": t.ki67_percent is not None,
        "size_known": t.size_mm is not None,
        "primary_removed": _s(t.primary_removed),
        "resection_margin": _s(t.resection_margin),
        "line_of_therapy": d.line_of_therapy.value,
        "disease_course": _s(t.disease_course),
        "lung_histotype": _s(d.lung_histotype.value),
        "gastric_type": _s(t.gastric_type),
        "carcinoid_heart_disease": _s(t.carcinoid_heart_disease),
        "germline_syndrome": _s(case.patient.germline_syndrome if case.patient else None),
        "metastases": frozenset(t.metastases or ()),
        "has_metastases": bool(t.metastases),
        "multiple_primaries": (t.lesion_count or 1) > 1,
        "options": frozenset(options),
        "first_choice": options[0] if options else "none",
        "avoid": frozenset(a["id"] for a in plan["avoid"]),
        "next_steps": frozenset(plan["at_progression"]),
        "missing": frozenset(m["field"] for m in plan["missing_information"]),
        "has_missing": bool(plan["missing_information"]),
        "tests": frozenset(plan["tests"]),
        "surveillance": bool(surveillance),
        "watchful_waiting": bool(surveillance.get("watchful_waiting"))
        or "active_surveillance" in options,
        "rebiopsy": bool(surveillance.get("rebiopsy")),
        "wants_trial_information": _s(
            case.preferences.wants_trial_information if case.preferences else None
        ),
        "treated_before": bool(history.given),
        "treatment_offered": any(
            (option_classes or {}).get(o, ("other",))[0] not in _NOT_TREATMENT for o in options
        ),
        "after_removal": t.primary_removed is True
        and d.extent.value in ("localized", "locoregional"),
        "grade_disagrees": t.reported_grade is not None
        and d.grade.value is not None
        and t.reported_grade != d.grade.value,
        "symptoms": frozenset(t.symptoms or ()),
        "pregnant": _s(case.patient.pregnant_or_breastfeeding if case.patient else None),
        "jaundice": _s(t.jaundice),
        "schedule": surveillance.get("id", "none"),
        "best_supportive_care_offered": "best_supportive_care" in options,
        "ongoing": frozenset(history.ongoing),
    }
    # "other" last: "the liver and other places", not "the other places and liver".
    ordered = sorted(t.metastases or (), key=lambda m: m == "other")
    mets = [names.get("metastasis", {}).get(m, m.replace("_", " ")) for m in ordered]
    display = {
        "site": names.get("site", {}).get(t.primary_site, t.primary_site.replace("_", " ")),
        "ki67": f"{_num(t.ki67_percent)}%" if t.ki67_percent is not None else "",
        "reported_grade": names.get("grade", {}).get(str(t.reported_grade), ""),
        "lesions": str(t.lesion_count) if t.lesion_count else "",
        "size": _size(t.size_mm) if t.size_mm is not None else "",
        "grade": names.get("grade", {}).get(str(d.grade.value), ""),
        "metastases": (", ".join(mets[:-1]) + " and " + mets[-1])
        if len(mets) > 1
        else "".join(mets),
        "syndrome": names.get("syndrome", {}).get(str(t.functional_syndrome), ""),
        "clinic": clinic,
        "line": str(d.line_of_therapy.value),
    }
    return GuideFacts(values, display)


def _holds(name: str, allowed: Any, facts: Mapping[str, FactValue]) -> bool:
    allowed_list = allowed if isinstance(allowed, list) else [allowed]
    value = facts[name]
    if isinstance(value, frozenset):
        return bool(value.intersection(str(a) for a in allowed_list))
    return any(_same(value, a) for a in allowed_list)


def matches(condition: Mapping[str, Any], facts: Mapping[str, FactValue]) -> bool:
    """``when``: true when every entry of ``condition`` holds (an empty one always holds)."""
    return all(_holds(name, allowed, facts) for name, allowed in condition.items())


def matches_all_values(condition: Mapping[str, Any], facts: Mapping[str, FactValue]) -> bool:
    """``when_all``: every listed value is in the (set) fact, for every entry."""
    for name, wanted in condition.items():
        value = facts[name]
        values = wanted if isinstance(wanted, list) else [wanted]
        if isinstance(value, frozenset):
            if not all(str(v) in value for v in values):
                return False
        elif not all(_same(value, v) for v in values):
            return False
    return True


def matches_any(condition: Mapping[str, Any], facts: Mapping[str, FactValue]) -> bool:
    """``unless``: true when at least one entry of ``condition`` holds."""
    return any(_holds(name, allowed, facts) for name, allowed in condition.items())


def _same(value: Scalar, allowed: object) -> bool:
    # YAML true/false and numbers compare as themselves; bool is never equal to 1 here.
    if isinstance(value, bool) or isinstance(allowed, bool):
        return type(value) is type(allowed) and value == allowed
    return value == allowed
