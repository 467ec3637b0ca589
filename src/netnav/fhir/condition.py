"""Conditions → case fields: the primary cancer (site, differentiation, histotype from ICD-10-CM
and the mCODE histology-morphology-behavior extension, ICD-O-3), secondary cancers
(``tumor.metastases``) and clinical findings (symptoms, functional syndromes).

Tables: sites.yaml, morphology.yaml, findings.yaml. The morphology's site-specific fields
(lung/thymic histotype) are added once the primary site is known: :class:`Morphology`
entries are returned for the importer to finish with :func:`apply_morphology`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netnav.fhir.codes import CodeTables, normal_icdo3
from netnav.fhir.facts import Candidate, Facts
from netnav.fhir.fields import case_fields, field_kind
from netnav.fhir.observations import add_finding
from netnav.fhir.values import codings, date_text

__all__ = ["Morphology", "abatement_when", "apply_morphology", "condition_when", "read_condition"]

_INACTIVE = {"inactive", "remission", "resolved"}


@dataclass(frozen=True, slots=True)
class Morphology:
    """A morphology read on a primary-cancer Condition, waiting for the primary site."""

    code: str
    entry: dict[str, Any]
    label: str
    when: str | None
    site: str | None  # the site the same Condition gave, if any


def condition_when(cond: Any) -> str | None:
    """onset[x] (dateTime, or a period's start), else recordedDate."""
    onset = date_text(getattr(cond, "onsetDateTime", None))
    period = getattr(cond, "onsetPeriod", None)
    if onset is None and period is not None:
        onset = date_text(period.start)
    return onset or date_text(getattr(cond, "recordedDate", None))


def abatement_when(cond: Any) -> str | None:
    """The date a Condition abated (``abatementDateTime``, ``abatementPeriod.start``,
    ``abatementString`` …): ``""`` when it abated at an unknown date (a string, an age, a
    ``Range``); ``None`` when no abatement is recorded."""
    when = date_text(getattr(cond, "abatementDateTime", None))
    if when is not None:
        return when
    period = getattr(cond, "abatementPeriod", None)
    if period is not None:
        return date_text(period.start) or date_text(period.end) or ""
    for name in ("abatementAge", "abatementRange", "abatementString"):
        if getattr(cond, name, None) is not None:
            return ""
    return None


def _status(concept: Any) -> str | None:
    for _, code, _ in codings(concept):
        if code:
            return str(code)
    return None


def _profiles(cond: Any) -> set[str]:
    meta = getattr(cond, "meta", None)
    return {str(p).split("|")[0] for p in (meta.profile or [])} if meta is not None else set()


def _add(facts: Facts, path: str, value: Any, label: str, element: str, when: str | None) -> None:
    candidate = Candidate(path, value, f"{label}.{element}", label, f"Condition.{element}", when)
    if field_kind(case_fields()[path]) == "enum_array":
        facts.add_item(candidate)
    else:
        facts.add(candidate)


def _morphology(cond: Any, tables: CodeTables) -> tuple[str, dict[str, Any] | None, int] | None:
    url = tables.uri("histology_morphology_behavior")
    for index, ext in enumerate(cond.extension or []):
        if ext.url != url:
            continue
        for system, code, _ in codings(ext.valueCodeableConcept):
            if system in (tables.uri("icdo3"), tables.uri("icdo3_oid")) and code:
                written = normal_icdo3(str(code))
                return written, tables.morphology.get(written), index
            snomed = tables.morphology_snomed.get(str(code))
            if system == tables.uri("snomed") and snomed is not None:
                return f"SNOMED CT {code} (ICD-O-3 {snomed['icdo3']})", snomed, index
            if code:
                return f"{system}|{code}", None, index
    return None


def _body_site(cond: Any, tables: CodeTables, role: str) -> tuple[str, int] | None:
    for index, concept in enumerate(cond.bodySite or []):
        for system, code, _ in codings(concept):
            if system == tables.uri("snomed") and code in tables.body_sites:
                value = tables.body_sites[code].get(role)
                if value:
                    return str(value), index
    return None


def read_condition(
    cond: Any,
    label: str,
    when: str | None,
    tables: CodeTables,
    facts: Facts,
    *,
    resolved: str | None = None,
) -> list[Morphology]:
    """Map one Condition (unconfirmed, refuted or entered-in-error ones already excluded).

    ``resolved``: why the Condition is no longer current though ``clinicalStatus`` may not say
    so (``"abated 2021-06-01"``): a metastasis or finding is then not counted; a primary cancer
    still gives its site and histology (listed)."""
    icd = [(s, str(c)) for s, c, _ in codings(cond.code) if tables.is_icd10(s) and c]
    profiles = _profiles(cond)
    clinical = _status(cond.clinicalStatus)
    if resolved is not None and clinical not in _INACTIVE:
        clinical = resolved
    for _, code in icd:
        hit = tables.icd10(code, "metastasis")
        if hit is not None:
            _secondary(cond, label, when, tables, facts, hit, clinical)
            return []
    for _, code in icd:
        hit = tables.icd10(code, "primary")
        if hit is not None:
            _note_primary_resolved(facts, label, clinical)
            return _primary(cond, label, when, tables, facts, code, hit[1])
    if tables.uri("secondary_cancer_profile") in profiles:
        _secondary(cond, label, when, tables, facts, None, clinical)
        return []
    if tables.uri("primary_cancer_profile") in profiles:
        _note_primary_resolved(facts, label, clinical)
        return _primary(cond, label, when, tables, facts, None, None)
    for _, code in icd:
        reason = tables.icd10(code, "not_used")
        if reason is not None:
            facts.note(label, "Condition.code", f"ICD-10 {code}: {reason[1]}")
            return []
    snomed = tables.uri("snomed")
    for system, finding, _ in codings(cond.code):
        if system == snomed and finding in tables.findings:
            if _not_current(clinical):
                facts.note(
                    label,
                    _status_element(clinical),
                    f"{finding} ({tables.findings[str(finding)]['display']}) is {clinical}: not a current finding",
                )
            else:
                add_finding(tables.findings[str(finding)], label, "Condition.code", when, facts)
            return []
    shown = ", ".join(
        f"{s or '?'}|{c}" + (f" ({d})" if d else "") for s, c, d in codings(cond.code)
    )
    facts.note(
        label, "Condition.code", f"{shown or 'no coding'}: not a diagnosis or finding netnav reads"
    )
    return []


def _not_current(clinical: str | None) -> bool:
    return clinical is not None and (clinical in _INACTIVE or clinical.startswith("abate"))


def _status_element(clinical: str | None) -> str:
    return (
        "Condition.abatement[x]"
        if clinical and clinical.startswith("abate")
        else "Condition.clinicalStatus"
    )


def _note_primary_resolved(facts: Facts, label: str, clinical: str | None) -> None:
    if _not_current(clinical):
        facts.note(
            label,
            _status_element(clinical),
            f"primary cancer recorded as {clinical}: its site and histology are still read "
            "(the tumour's history); check whether the disease is current",
        )


def _primary(
    cond: Any,
    label: str,
    when: str | None,
    tables: CodeTables,
    facts: Facts,
    code: str | None,
    entry: dict[str, Any] | None,
) -> list[Morphology]:
    morph = _morphology(cond, tables)
    site: str | None = None
    if morph is not None and morph[1] is None:
        facts.note(
            label,
            f"Condition.extension[{morph[2]}]",
            f"morphology {morph[0]}: not a neuroendocrine morphology netnav reads (the ICD-O-3 and SNOMED CT codes of morphology.yaml)",
        )
    if entry is not None:
        if entry.get("needs_morphology") and (morph is None or morph[1] is None):
            facts.note(
                label,
                "Condition.code",
                f"ICD-10 {code} ({entry['display']}): an organ code is read as the NEN primary only with a neuroendocrine morphology (ICD-O-3 or SNOMED CT) on the same Condition",
            )
            return []
        for path, value in entry["sets"].items():
            _add(facts, path, value, label, "code", when)
            if path == "tumor.primary_site":
                site = str(value)
    if site is None:
        found = _body_site(cond, tables, "primary")
        if found is not None:
            site = found[0]
            _add(facts, "tumor.primary_site", site, label, f"bodySite[{found[1]}]", when)
        elif entry is not None and not entry["sets"]:
            facts.note(
                label,
                "Condition.code",
                f"ICD-10 {code} ({entry['display']}) names no primary site netnav can use",
            )
    result: list[Morphology] = []
    if morph is not None and morph[1] is not None:
        element = f"extension[{morph[2]}]"
        for path, value in morph[1].get("sets", {}).items():
            _add(facts, path, value, label, element, when)
        if morph[1].get("by_site"):
            result.append(Morphology(morph[0], morph[1], f"{label}.{element}", when, site))
    return result


def apply_morphology(items: list[Morphology], primary_site: str | None, facts: Facts) -> None:
    """Add the site-specific fields of each morphology (lung/thymic histotype)."""
    for item in items:
        site = item.site or primary_site
        extra = item.entry.get("by_site", {}).get(site or "", {})
        resource = item.label.split(".", 1)[0]
        for path, value in extra.items():
            facts.add(
                Candidate(path, value, item.label, resource, "Condition.extension", item.when)
            )


def _secondary(
    cond: Any,
    label: str,
    when: str | None,
    tables: CodeTables,
    facts: Facts,
    hit: tuple[str, Any] | None,
    clinical: str | None,
) -> None:
    path = "tumor.metastases"
    if _not_current(clinical):
        facts.note(
            label,
            _status_element(clinical),
            f"metastasis is {clinical}: not counted as current disease",
        )
        return
    if hit is not None and hit[1]["sets"]:
        for value in hit[1]["sets"].values():
            facts.add_item(Candidate(path, value, f"{label}.code", label, "Condition.code", when))
        return
    found = _body_site(cond, tables, "metastasis")
    if found is not None:
        facts.add_item(
            Candidate(
                path, found[0], f"{label}.bodySite[{found[1]}]", label, "Condition.bodySite", when
            )
        )
        return
    facts.add_item(
        Candidate(path, "unknown", f"{label}.code", label, "Condition.code", when, "unknown_site")
    )
