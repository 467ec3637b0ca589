"""``import_bundle``: a FHIR R4 Bundle (mCODE) → a netnav-case/1 document with provenance.

Order of work: read and validate every resource (:mod:`netnav.fhir.read`); fix ``as_of``
(argument, else ``Bundle.timestamp``'s date, else the newest clinical date in the bundle;
never the clock); drop resources entered in error / cancelled / refuted and those dated after
``as_of`` (each listed); map Patient, Conditions and Observations to candidate facts; resolve
them (newest wins, same-date disagreement left unknown); hand medications and procedures to
:func:`netnav.fhir.treatments.treatments_from_resources`; list every resource that gave nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from netnav.fhir.codes import tables
from netnav.fhir.condition import Morphology, apply_morphology, condition_when, read_condition
from netnav.fhir.facts import Candidate, Facts, date_key, earliest_day
from netnav.fhir.fields import case_fields
from netnav.fhir.model import FhirImport, FhirImportError, Unmapped
from netnav.fhir.observations import KI67, KI67_HISTORY, SSTR, TREATMENTS, Special, read_observation
from netnav.fhir.patient import read_patient
from netnav.fhir.read import Entry, ReadBundle, read_document
from netnav.fhir.values import codings, date_text, observation_when

__all__ = ["TREATMENT_TYPES", "import_bundle"]

TREATMENT_TYPES = frozenset(
    {"MedicationRequest", "MedicationAdministration", "MedicationStatement", "Procedure"}
)
_NOT_FACTS = "not clinical facts netnav reads"
_EXCLUDED_STATUS = {"entered-in-error", "cancelled"}
_EXCLUDED_VERIFICATION = {"entered-in-error", "refuted"}
_FINAL = {"final", "amended", "corrected"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NO_LIMIT = date(9999, 12, 31)


def import_bundle(
    bundle: Mapping[str, Any],
    *,
    as_of: date | None = None,
    case_id: str | None = None,
    region: str | None = None,
) -> FhirImport:
    """Read a FHIR R4 Bundle (or one resource) as a netnav-case/1 document.

    ``bundle``: decoded JSON (any Bundle type, e.g. the ``collection`` a CDS Hooks service
    builds from its prefetch). ``as_of``: the date the case describes (default: the Bundle's
    ``timestamp`` date, else the newest clinical date found). ``case_id`` → ``case.id`` (default: the
    Bundle's ``identifier.value``, else its ``id``);
    ``region`` (us, eu, uk, other) → ``case.setting.region`` (not FHIR-derived).

    Returns a :class:`FhirImport` whose case is *not yet validated*: read it with
    :func:`netnav.case.load.case_from_mapping`. Raises :class:`FhirImportError` (JSON path,
    value, what is allowed) when the document is not FHIR R4 netnav can read.
    """
    read = read_document(bundle)
    codes = tables()
    as_of = as_of or _bundle_as_of(read)
    facts = Facts()
    special = Special()
    morphologies: list[Morphology] = []
    treatment_entries: list[Entry] = []
    finals = _final_results(read)
    for entry in read.entries:
        if not _usable(entry, as_of, facts) or _preliminary_superseded(entry, finals, facts):
            continue
        resource = entry.resource
        if entry.type == "Patient":
            read_patient(resource, entry.label, as_of, facts)
        elif entry.type == "Condition":
            morphologies += read_condition(
                resource, entry.label, condition_when(resource), codes, facts
            )
        elif entry.type == "Observation":
            read_observation(
                resource, entry.label, observation_when(resource), codes, facts, special
            )
        elif entry.type in TREATMENT_TYPES:
            treatment_entries.append(entry)
        elif entry.type != "Medication":
            facts.note(entry.label, entry.type, _NOT_FACTS)

    values: dict[str, Any] = {}
    provenance: dict[str, list[str]] = {}
    site = facts.resolve_single("tumor.primary_site")
    if site is not None:
        values["tumor.primary_site"] = site[0]
        provenance["tumor.primary_site"] = [c.source for c in site[1]]
    apply_morphology(morphologies, values.get("tumor.primary_site"), facts)

    treatments: list[dict[str, Any]] = []
    if treatment_entries:
        treatments = _treatments(
            treatment_entries,
            as_of,
            values.get("tumor.primary_site"),
            read.resolve,
            facts,
            provenance,
        )

    no_treatment = facts.arrays.pop(TREATMENTS, [])
    if no_treatment and not treatments:
        treatments_known = True
        provenance[TREATMENTS] = [c.source for c in no_treatment]
    else:
        treatments_known = bool(treatments)
        for c in no_treatment:
            facts.note(
                c.resource, c.element, "'no treatment so far' outweighed by the treatments recorded"
            )
    _resolve_sstr(facts, special, values, provenance)
    _resolve_ki67(facts, special, values, provenance)
    resolved, resolved_provenance = facts.resolve()
    values.update(resolved)
    provenance.update(resolved_provenance)

    if case_id is None:
        case_id, source = _bundle_case_id(bundle)
        if source:
            provenance["id"] = [source]
    case = _build_case(values, as_of, case_id, treatments if treatments_known else None, region)
    unmapped = list(facts.unmapped)
    _list_silent(read, provenance, unmapped)
    return FhirImport(case=case, provenance=provenance, unmapped=tuple(unmapped))


# -- as_of and filtering ------------------------------------------------------------------


def _clinical_dates(resource: Any, type_: str) -> list[str]:
    if type_ == "Observation":
        found = [observation_when(resource)]
    elif type_ == "Condition":
        found = [condition_when(resource)]
    else:
        found = []
        for name in ("authoredOn", "effectiveDateTime", "performedDateTime", "dateAsserted"):
            found.append(date_text(getattr(resource, name, None)))
        for name in ("effectivePeriod", "performedPeriod"):
            period = getattr(resource, name, None)
            if period is not None:
                found += [date_text(period.start), date_text(period.end)]
    return [d for d in found if d]


def _bundle_as_of(read: ReadBundle) -> date | None:
    if read.timestamp is not None:
        if not _TIMESTAMP.match(read.timestamp):
            raise FhirImportError("timestamp", read.timestamp, "an instant (YYYY-MM-DDThh:mm:ssZ)")
        try:
            return date.fromisoformat(read.timestamp[:10])
        except ValueError:
            raise FhirImportError("timestamp", read.timestamp, "a real calendar date") from None
    newest: tuple[tuple[int, int, int], str] | None = None
    for entry in read.entries:
        if entry.type not in TREATMENT_TYPES | {"Observation", "Condition"}:
            continue
        if _excluded_status(entry) is not None:
            continue
        for text in _clinical_dates(entry.resource, entry.type):
            key = date_key(text)
            if key is not None and (newest is None or key > newest[0]):
                newest = (key, text)
    return None if newest is None else earliest_day(newest[1])


def _excluded_status(entry: Entry) -> str | None:
    resource = entry.resource
    status = getattr(resource, "status", None)
    if isinstance(status, str) and status in _EXCLUDED_STATUS:
        return f"status {status}"
    if entry.type == "Condition":
        for _, code, _ in codings(resource.verificationStatus):
            if code in _EXCLUDED_VERIFICATION:
                return f"verificationStatus {code}"
    return None


def _usable(entry: Entry, as_of: date | None, facts: Facts) -> bool:
    excluded = _excluded_status(entry)
    if excluded is not None:
        facts.note(entry.label, f"{entry.type}.status", f"{excluded}: not a fact")
        return False
    if as_of is None or entry.type not in ("Observation", "Condition"):
        return True
    when = _clinical_dates(entry.resource, entry.type)
    first = earliest_day(when[0]) if when else None
    if first is not None and first > as_of:
        facts.note(
            entry.label, entry.type, f"dated {when[0]}, after as_of {as_of.isoformat()}: ignored"
        )
        return False
    return True


def _result_key(entry: Entry) -> tuple[str, str, str] | None:
    """(code system, code, date) of an Observation: a preliminary result and a final one of the
    same test on the same date are one result, the final one replacing the preliminary."""
    obs = entry.resource
    first = next(iter(codings(obs.code)), None)
    when = observation_when(obs)
    if first is None or when is None:
        return None
    return (str(first[0]), str(first[1]), when)


def _final_results(read: ReadBundle) -> dict[tuple[str, str, str], str]:
    found: dict[tuple[str, str, str], str] = {}
    for entry in read.entries:
        if entry.type == "Observation" and entry.resource.status in _FINAL:
            key = _result_key(entry)
            if key is not None:
                found.setdefault(key, entry.label)
    return found


def _preliminary_superseded(
    entry: Entry, finals: dict[tuple[str, str, str], str], facts: Facts
) -> bool:
    if entry.type != "Observation" or entry.resource.status != "preliminary":
        return False
    key = _result_key(entry)
    final = finals.get(key) if key is not None else None
    if final is None:
        return False
    facts.note(
        entry.label,
        "Observation.status",
        f"preliminary result superseded by the final result {final}",
    )
    return True


# -- treatments ---------------------------------------------------------------------------


def _treatments(
    entries: list[Entry],
    as_of: date | None,
    primary_site: str | None,
    resolve: Callable[[str], Any],
    facts: Facts,
    provenance: dict[str, list[str]],
) -> list[dict[str, Any]]:
    try:
        from netnav.fhir.treatments import treatments_from_resources
    except ImportError:  # pragma: no cover - the module ships with netnav
        for entry in entries:
            facts.note(entry.label, entry.type, "treatment import is not available in this build")
        return []
    result = treatments_from_resources(
        [e.resource for e in entries],
        as_of=as_of or _NO_LIMIT,
        primary_site=primary_site,
        resolve=resolve,
    )
    facts.unmapped.extend(result.unmapped)
    for path, refs in result.provenance.items():
        if not path.startswith("tumor."):
            provenance[path] = list(refs)
    when = as_of.isoformat() if as_of else None
    for name, value in result.tumor.items():
        path = f"tumor.{name}"
        refs = result.provenance.get(path) or [entries[0].label]
        label = refs[0].split(".", 1)[0]
        facts.add(Candidate(path, value, refs[0], label, "treatment", when))
    return list(result.treatments)


# -- special fields ----------------------------------------------------------------------


def _resolve_sstr(
    facts: Facts, special: Special, values: dict[str, Any], provenance: dict[str, list[str]]
) -> None:
    for panel in special.sstr:
        facts.add(panel)
    found = facts.resolve_single(SSTR)
    if found is None:
        return
    panel_value, winners = found
    values[SSTR] = dict(panel_value)
    provenance[SSTR] = [c.source for c in winners]
    newest = winners[0].key
    for path in [p for p in facts.single if p.startswith(SSTR + ".")]:
        keep: list[Candidate] = []
        for c in facts.single[path]:
            if c.key < newest:
                facts.note(c.resource, c.element, f"{path}: superseded by {winners[0].source}")
            else:
                keep.append(c)
        facts.single[path] = keep
        if not keep:
            del facts.single[path]


def _resolve_ki67(
    facts: Facts, special: Special, values: dict[str, Any], provenance: dict[str, list[str]]
) -> None:
    current = [k for k in special.ki67 if not k.history]
    history = [k for k in special.ki67 if k.history]
    if current:
        newest = max(date_key(k.when) or (0, 0, 0) for k in current)
        top = [k for k in current if (date_key(k.when) or (0, 0, 0)) == newest]
        older = [k for k in current if (date_key(k.when) or (0, 0, 0)) != newest]
        if len({k.percent for k in top}) > 1:
            listing = "; ".join(f"{k.source} ({k.percent}%, {k.when or 'undated'})" for k in top)
            for k in top:
                facts.note(
                    k.resource,
                    "Observation.valueQuantity",
                    f"{KI67}: values disagree on the same date ({listing}); left unknown",
                )
        else:
            values[KI67] = top[0].percent
            provenance[KI67] = [k.source for k in top]
        history += older
    history.sort(key=lambda k: date_key(k.when) or (0, 0, 0))
    items: list[dict[str, Any]] = []
    for index, k in enumerate(history):
        item: dict[str, Any] = {}
        if k.when and len(k.when) >= 7:
            item["date"] = k.when[:10]
        item["percent"] = k.percent
        item["specimen"] = k.specimen or "unknown"
        items.append(item)
        provenance[f"{KI67_HISTORY}[{index}]"] = [k.source]
    if items:
        values[KI67_HISTORY] = items


# -- the case document ---------------------------------------------------------------------


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
        node[parts[-1]].update(value)
    else:
        node[parts[-1]] = value


def _bundle_case_id(bundle: Mapping[str, Any]) -> tuple[str | None, str]:
    """The case id a Bundle names: its ``identifier.value``, else its ``id`` (a record
    number is what the case format's ``id`` holds; it never decides anything)."""
    if bundle.get("resourceType") != "Bundle":
        return None, ""
    label = f"Bundle/{bundle.get('id')}" if isinstance(bundle.get("id"), str) else "Bundle"
    identifier = bundle.get("identifier")
    value = identifier.get("value") if isinstance(identifier, Mapping) else None
    if isinstance(value, str) and value.strip():
        return value.strip()[:200], f"{label}.identifier.value"
    if isinstance(bundle.get("id"), str) and bundle["id"].strip():
        return str(bundle["id"]).strip()[:200], f"{label}.id"
    return None, ""


def _build_case(
    values: dict[str, Any],
    as_of: date | None,
    case_id: str | None,
    treatments: Sequence[dict[str, Any]] | None,
    region: str | None,
) -> dict[str, Any]:
    case: dict[str, Any] = {"format": "netnav-case/1"}
    if case_id is not None:
        case["id"] = case_id
    if as_of is not None:
        case["as_of"] = as_of.isoformat()
    body: dict[str, Any] = {}
    order = list(case_fields())
    for path in sorted(values, key=lambda p: order.index(p) if p in order else len(order)):
        _set(body, path, values[path])
    if "patient" in body:
        case["patient"] = body["patient"]
    case["tumor"] = body.get("tumor", {})
    if treatments is not None:
        case["treatments"] = list(treatments)
    if region is not None:
        case["setting"] = {"region": region}
    return case


def _list_silent(
    read: ReadBundle, provenance: dict[str, list[str]], unmapped: list[Unmapped]
) -> None:
    """Every resource ends up in the provenance or in the unmapped list (never dropped)."""
    used = {ref.split(".", 1)[0] for refs in provenance.values() for ref in refs}
    listed = {item.resource for item in unmapped}
    for entry in read.entries:
        if entry.label in used or entry.label in listed:
            continue
        if entry.type == "Medication":
            reason = "read only through a medication resource that names it; none used it"
        else:
            reason = "nothing in it became a case field"
        unmapped.append(Unmapped(entry.label, entry.type, reason))
