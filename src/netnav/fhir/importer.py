"""``import_bundle``: a FHIR R4 Bundle (mCODE) → a netnav-case/1 document with provenance.

Order of work: read and validate every resource (:mod:`netnav.fhir.read`; an invalid entry is
listed, not read); decide whose record it is (:mod:`netnav.fhir.subjects`; resources about
another patient are listed, not read); fix ``as_of`` (argument, else ``Bundle.timestamp``'s
date, else the newest date of a resource that records a fact; never the clock); drop resources
entered in error / cancelled, diagnoses not confirmed, and those dated after ``as_of`` (each
listed); tell the neuroendocrine primary from other cancers (:mod:`netnav.fhir.cancers`); map
Patient, Conditions and Observations to candidate facts and withhold tumour-specific ones that
are not the NEN's; resolve them (newest wins, same-date disagreement left unknown); hand
medications and procedures to :func:`netnav.fhir.treatments.treatments_from_resources`; list
every resource that gave nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from netnav.fhir.cancers import (
    attribute,
    classify,
    describe_condition,
    not_competing,
    primary_sites,
    withhold,
)
from netnav.fhir.codes import CodeTables, tables
from netnav.fhir.condition import (
    Morphology,
    abatement_when,
    apply_morphology,
    condition_when,
    read_condition,
)
from netnav.fhir.facts import Candidate, Facts, date_key, earliest_day
from netnav.fhir.fields import case_fields
from netnav.fhir.model import FhirImport, FhirImportError, Unmapped
from netnav.fhir.observations import KI67, KI67_HISTORY, SSTR, TREATMENTS, Special, read_observation
from netnav.fhir.patient import read_patient
from netnav.fhir.read import Entry, ReadBundle, read_document
from netnav.fhir.subjects import (
    RecordPatient,
    normal_patient_id,
    raw_subject_reference,
    record_patient,
    subject_reference,
)
from netnav.fhir.values import codings, date_text, observation_when

__all__ = ["TREATMENT_TYPES", "import_bundle"]

TREATMENT_TYPES = frozenset(
    {"MedicationRequest", "MedicationAdministration", "MedicationStatement", "Procedure"}
)
_NOT_FACTS = "not clinical facts netnav reads"
_EXCLUDED_STATUS = {"entered-in-error", "cancelled"}
_EXCLUDED_VERIFICATION = {"entered-in-error", "refuted"}
# Condition.verificationStatus codes of a diagnosis not (yet) made: not a fact either.
_UNCONFIRMED = {"unconfirmed", "provisional", "differential"}
# Statuses and intents of a resource that records no fact (yet): its dates never set as_of.
_NOT_YET = {"draft", "planned", "preparation", "not-done", "not-taken", "intended", "registered"}
_NOT_YET_INTENT = {"proposal", "plan", "option"}
_INVALID_CONSEQUENCE = {
    "Patient": "the patient's sex and age are not read from it",
    "Condition": "the diagnosis it records is not used",
}
_FINAL = {"final", "amended", "corrected"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NO_LIMIT = date(9999, 12, 31)
# Case fields computed from as_of (with a date of the record).
_FROM_AS_OF = ("patient.age_years", "tumor.months_observed")


def import_bundle(
    bundle: Mapping[str, Any],
    *,
    as_of: date | None = None,
    case_id: str | None = None,
    region: str | None = None,
    patient_id: str | None = None,
) -> FhirImport:
    """Read a FHIR R4 Bundle (or one resource) as a netnav-case/1 document.

    ``bundle``: decoded JSON (any Bundle type, e.g. the ``collection`` a CDS Hooks service
    builds from its prefetch; :func:`netnav.fhir.read.parse_fhir_json` reads the text).
    ``as_of``: the date the case describes (default: the Bundle's ``timestamp`` date, else the
    newest date of a resource recording a fact). ``case_id`` → ``case.id`` (default: the
    Bundle's ``identifier.value``, else its ``id``);
    ``region`` (us, eu, uk, other) → ``case.setting.region`` (not FHIR-derived);
    ``patient_id``: the id of the patient the record is about (CDS Hooks
    ``context.patientId``): resources about any other patient, and Patient resources with
    another id, are listed and not read.

    Returns a :class:`FhirImport` whose case is *not yet validated*: read it with
    :func:`netnav.case.load.case_from_mapping`. Raises :class:`FhirImportError` (JSON path,
    value, what is allowed) when the document is not FHIR R4 netnav can read, when its
    resources are about several patients and ``patient_id`` does not say which one, or when it
    is nested too deeply to read.
    """
    try:
        return _import(bundle, as_of, case_id, region, patient_id)
    except RecursionError:
        raise FhirImportError(
            "(document)", None, "a FHIR R4 document", "the document is nested too deeply to read"
        ) from None


def _import(
    bundle: Mapping[str, Any],
    as_of: date | None,
    case_id: str | None,
    region: str | None,
    patient_id: str | None,
) -> FhirImport:
    read = read_document(bundle)
    codes = tables()
    facts = Facts()
    _note_invalid(read, facts)
    patient_id = normal_patient_id(patient_id)
    patient = _record_patient(read, patient_id)
    entries = [e for e in read.entries if _same_patient(e, patient, facts)]
    _some_about_the_patient(read, entries, patient)
    stamp: datetime | None = None
    as_of_source: str | None = None
    if as_of is None:
        as_of, as_of_source, stamp = _bundle_as_of(read, entries)
    entries = [e for e in entries if _usable(e, as_of, stamp, facts)]
    finals = _final_results(entries)
    entries = [e for e in entries if not _preliminary_superseded(e, finals, facts)]
    kinds, verdicts, calm = _attribution(entries, read, codes, as_of)

    special = Special()
    morphologies: list[Morphology] = []
    treatment_entries: list[Entry] = []
    for entry in entries:
        resource = entry.resource
        if entry.type == "Patient":
            read_patient(resource, entry.label, as_of, facts)
        elif entry.type == "Condition":
            if kinds.get(entry.label) == "other":
                why = calm.get(entry.label)
                facts.note(
                    entry.label, "Condition.code", _other_cancer(resource, entry, codes, why)
                )
                continue
            morphologies += read_condition(
                resource,
                entry.label,
                condition_when(resource),
                codes,
                facts,
                resolved=_abated(resource, as_of),
            )
        elif entry.type == "Observation":
            read_observation(
                resource, entry.label, observation_when(resource), codes, facts, special
            )
        elif entry.type in TREATMENT_TYPES:
            treatment_entries.append(entry)
        elif entry.type != "Medication":
            facts.note(entry.label, entry.type, _NOT_FACTS)
    withheld: dict[str, set[str]] = {}
    special.ki67, special.sstr = withhold(
        facts, special.ki67, special.sstr, verdicts, codes, withheld
    )
    _summarise_withheld(withheld, kinds, calm, entries, codes, facts)

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
    resources = {e.label: e.resource for e in entries}
    special.ki67, special.sstr = _in_range(facts, special, resources, codes)
    _resolve_sstr(facts, special, values, provenance)
    _resolve_ki67(facts, special, values, provenance)
    resolved, resolved_provenance = facts.resolve()
    values.update(resolved)
    provenance.update(resolved_provenance)

    if case_id is None:
        case_id, source = _bundle_case_id(bundle)
        if source:
            provenance["id"] = [source]
    if as_of_source is not None:
        provenance["as_of"] = [as_of_source]
        # A field computed from as_of names where as_of came from (a mistyped year shows).
        for path in _FROM_AS_OF:
            if path in provenance and as_of_source not in provenance[path]:
                provenance[path].append(as_of_source)
    case = _build_case(values, as_of, case_id, treatments if treatments_known else None, region)
    unmapped = list(facts.unmapped)
    _list_silent(read, provenance, unmapped)
    unmapped[:0] = _repairs(read)
    return FhirImport(case=case, provenance=provenance, unmapped=tuple(unmapped))


# -- whose record, which cancer -------------------------------------------------------------


def _note_invalid(read: ReadBundle, facts: Facts) -> None:
    for item in read.invalid:
        consequence = _INVALID_CONSEQUENCE.get(item.type, "nothing in it is used")
        facts.note(item.label, item.element, f"{item.reason}; {consequence}")


def _repairs(read: ReadBundle) -> list[Unmapped]:
    """What was changed in each entry so that it could be read (see :mod:`netnav.fhir.read`)."""
    return [
        Unmapped(entry.label, repair.element, repair.reason)
        for entry in read.entries
        for repair in entry.repairs
    ]


def _record_patient(read: ReadBundle, patient_id: str | None) -> RecordPatient:
    patients: list[tuple[str | None, str | None, str, Any]] = []
    refs = []
    for entry in read.entries:
        if entry.type == "Patient":
            patients.append((entry.id, entry.full_url, entry.label, entry.resource.identifier))
        else:
            ref = subject_reference(entry.resource)
            if ref is not None:
                refs.append(ref)
    for item in read.invalid:
        if item.type == "Patient":
            patients.append((item.id, item.full_url, item.label, None))
        else:
            ref = raw_subject_reference(item.raw)
            if ref is not None:
                refs.append(ref)
    return record_patient(patients, refs, patient_id)


def _some_about_the_patient(read: ReadBundle, kept: list[Entry], patient: RecordPatient) -> None:
    """Refuse a record none of whose clinical resources is about the chosen patient (the wrong
    ``--patient``/``context.patientId``, or references that cannot be matched to it)."""
    clinical = TREATMENT_TYPES | {"Condition", "Observation"}
    total = sum(1 for e in read.entries if e.type in clinical)
    if patient.key is None or total == 0 or any(e.type in clinical for e in kept):
        return
    shown = f"Patient/{patient.key}"
    raise FhirImportError(
        "entry",
        shown,
        "resources about the record's patient",
        f"no resource of this record is about patient {shown}: {total} clinical resources "
        "name other patients or none that can be matched to it; check --patient (CDS Hooks: "
        "context.patientId) and the resources' subject references",
    )


def _same_patient(entry: Entry, patient: RecordPatient, facts: Facts) -> bool:
    ref = None if entry.type == "Patient" else subject_reference(entry.resource)
    reason = patient.other_reason(entry.type, entry.id, ref)
    if reason is None:
        return True
    element = f"{entry.type}.id" if entry.type == "Patient" else f"{entry.type}.subject"
    facts.note(entry.label, element, reason)
    return False


def _attribution(
    entries: list[Entry], read: ReadBundle, codes: CodeTables, as_of: date | None
) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """(Condition label → kind, verdicts, other cancer → why it does not compete)."""
    kinds: dict[str, str] = {}
    describe: dict[str, str] = {}
    labels: dict[int, str] = {id(e.resource): e.label for e in entries}
    conditions = {e.label: e.resource for e in entries if e.type == "Condition"}
    for label, cond in conditions.items():
        kind = classify(cond, codes)
        if kind is not None:
            kinds[label] = kind
            describe[label] = describe_condition(cond, label)
    net_sites: set[str] = set()
    for label, kind in kinds.items():
        if kind == "net":
            net_sites |= primary_sites(conditions[label], codes)
    calm: dict[str, str] = {}
    for label, kind in kinds.items():
        if kind == "other":
            why = not_competing(
                conditions[label], codes, net_sites, _abated(conditions[label], as_of)
            )
            if why is not None:
                calm[label] = why

    def resolve(reference: str) -> str | None:
        found = read.resolve(reference)
        return None if found is None else labels.get(id(found))

    competing = {label for label, kind in kinds.items() if kind == "other"} - set(calm)
    verdicts = attribute(
        ((e.label, e.type, e.resource) for e in entries),
        kinds,
        describe,
        resolve,
        codes,
        competing,
    )
    return kinds, verdicts, calm


def _summarise_withheld(
    withheld: dict[str, set[str]],
    kinds: dict[str, str],
    calm: dict[str, str],
    entries: list[Entry],
    codes: CodeTables,
    facts: Facts,
) -> None:
    """One plain-words entry on the competing cancer's Condition: how many tumour results were
    not used because they are not linked to the NEN."""
    if not withheld:
        return
    competing = [label for label, kind in kinds.items() if kind == "other" and label not in calm]
    if not competing:
        return
    conditions = {e.label: e.resource for e in entries}
    shown = "; ".join(
        c + describe_condition(conditions[c], "")[2:-1].join((", ", "")) for c in competing
    )
    order = list(codes.tumour_specific_fields)
    names: list[str] = []
    paths = {p for found in withheld.values() for p in found}
    for path in sorted(
        paths, key=lambda p: next(i for i, f in enumerate(order) if p.startswith(f))
    ):
        name = codes.field_name(path)
        if name not in names:
            names.append(name)
    count = len(withheld)
    results = "result" if count == 1 else "results"
    were = "was" if count == 1 else "were"
    facts.unmapped.insert(
        0,
        Unmapped(
            competing[0],
            "Condition",
            f"Another active cancer is recorded ({shown}): {count} tumour {results} not linked "
            f"to the neuroendocrine tumour {were} not used ({', '.join(names)}). Link each "
            "result to the NET's Condition (Observation.focus) to use it.",
        ),
    )


def _other_cancer(cond: Any, entry: Entry, codes: CodeTables, calm: str | None = None) -> str:
    shown = describe_condition(cond, entry.label)
    if calm is not None and ("organ of the neuroendocrine primary" in calm or "C80" in calm):
        return f"{shown}: {calm}; its code alone does not give the primary (no neuroendocrine morphology)"
    hint = ""
    for _, code, _ in codings(cond.code):
        hit = codes.icd10(str(code or ""), "primary")
        if hit is not None and hit[1].get("needs_morphology"):
            hint = (
                f" (ICD-10 {code}: an organ code is read as the NEN primary only with a "
                "neuroendocrine morphology (ICD-O-3 or SNOMED CT) on the same Condition)"
            )
            break
    if calm is not None:
        return (
            f"{shown}: another cancer, not a neuroendocrine neoplasm{hint}; {calm}, so it is "
            "not counted as a second active cancer: this record's tumour results are read as "
            "the neuroendocrine tumour's unless they name this Condition"
        )
    return (
        f"{shown}: another primary cancer, not a neuroendocrine neoplasm{hint}; not the "
        "tumour netnav plans, and tumour results that name it are not used"
    )


def _abated(cond: Any, as_of: date | None) -> str | None:
    """``clinicalStatus`` inactive/remission/resolved, or ``abatement[x]`` on or before
    ``as_of``: the text saying so; ``None`` while the condition is current."""
    when = abatement_when(cond)
    if when is None:
        return None
    if when == "" or as_of is None:
        return "abatement recorded"
    day = earliest_day(when)
    if day is not None and day > as_of:
        return None
    return f"abated {when}"


# -- as_of and filtering ------------------------------------------------------------------


def _clinical_dates(resource: Any, type_: str) -> list[tuple[str, str]]:
    """``(date text, element)`` of each clinical date of a resource."""
    if type_ == "Observation":
        found = [(observation_when(resource), "Observation.effective[x]")]
    elif type_ == "Condition":
        found = [(condition_when(resource), "Condition.onset[x]")]
    else:
        found = []
        for name in ("authoredOn", "effectiveDateTime", "performedDateTime", "dateAsserted"):
            found.append((date_text(getattr(resource, name, None)), name))
        for name in ("effectivePeriod", "performedPeriod"):
            period = getattr(resource, name, None)
            if period is not None:
                found += [(date_text(period.start), name), (date_text(period.end), name)]
    return [(d, element) for d, element in found if d]


def _instant(text: str | None) -> datetime | None:
    """A dateTime with a time and a time zone as an aware datetime, else ``None``."""
    if not text or len(text) <= 10:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _records_fact(entry: Entry) -> bool:
    """False for a resource whose status or intent says nothing happened (yet): planned,
    draft, proposal … (its dates never set as_of)."""
    resource = entry.resource
    status = getattr(resource, "status", None)
    if isinstance(status, str) and status in _NOT_YET:
        return False
    intent = getattr(resource, "intent", None)
    return not (isinstance(intent, str) and intent in _NOT_YET_INTENT)


def _bundle_as_of(
    read: ReadBundle, entries: list[Entry]
) -> tuple[date | None, str | None, datetime | None]:
    """(as_of, its source for the provenance, the Bundle timestamp's instant if zoned)."""
    if read.timestamp is not None:
        if not _TIMESTAMP.match(read.timestamp):
            raise FhirImportError("timestamp", read.timestamp, "an instant (YYYY-MM-DDThh:mm:ssZ)")
        try:
            day = date.fromisoformat(read.timestamp[:10])
        except ValueError:
            raise FhirImportError("timestamp", read.timestamp, "a real calendar date") from None
        return day, None, _instant(read.timestamp)
    newest: tuple[tuple[int, int, int], str, str] | None = None
    for entry in entries:
        if entry.type not in TREATMENT_TYPES | {"Observation", "Condition"}:
            continue
        if _excluded_status(entry) is not None or not _records_fact(entry):
            continue
        for text, element in _clinical_dates(entry.resource, entry.type):
            key = date_key(text)
            if key is not None and (newest is None or key > newest[0]):
                newest = (key, text, f"{entry.label}.{element.split('.', 1)[-1]}")
    if newest is None:
        return None, None, None
    return earliest_day(newest[1]), newest[2], None


def _excluded_status(entry: Entry) -> str | None:
    resource = entry.resource
    status = getattr(resource, "status", None)
    if isinstance(status, str) and status in _EXCLUDED_STATUS:
        return f"status {status}: not a fact"
    if entry.type == "Condition":
        for _, code, _ in codings(resource.verificationStatus):
            if code in _EXCLUDED_VERIFICATION:
                return f"verificationStatus {code}: not a fact"
            if code in _UNCONFIRMED:
                return f"verificationStatus {code}: not a confirmed diagnosis, not used"
    return None


def _usable(entry: Entry, as_of: date | None, stamp: datetime | None, facts: Facts) -> bool:
    excluded = _excluded_status(entry)
    if excluded is not None:
        element = "verificationStatus" if "verificationStatus" in excluded else "status"
        facts.note(entry.label, f"{entry.type}.{element}", excluded)
        return False
    if as_of is None or entry.type not in ("Observation", "Condition"):
        return True
    when = _clinical_dates(entry.resource, entry.type)
    text = when[0][0] if when else None
    first = earliest_day(text)
    if first is not None and first > as_of:
        # A result timed before the Bundle's timestamp is not later than it, whatever the
        # time zone each is written in (2024-02-02T03:00Z is 2024-02-01T22:00-05:00).
        instant = _instant(text)
        if stamp is not None and instant is not None and instant <= stamp:
            return True
        facts.note(
            entry.label, entry.type, f"dated {text}, after as_of {as_of.isoformat()}: ignored"
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


def _final_results(entries: list[Entry]) -> dict[tuple[str, str, str], str]:
    found: dict[tuple[str, str, str], str] = {}
    for entry in entries:
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
    for name, value in result.tumor.items():
        path = f"tumor.{name}"
        refs = result.provenance.get(path) or [entries[0].label]
        label = refs[0].split(".", 1)[0]
        # Dated by the procedure itself, so "newest wins" weighs it against other records.
        when = _treatment_date(label, result.treatments, result.provenance)
        facts.add(Candidate(path, value, refs[0], label, "treatment", when))
    return list(result.treatments)


def _treatment_date(
    label: str, treatments: Sequence[Mapping[str, Any]], provenance: Mapping[str, list[str]]
) -> str | None:
    """The end (else start) date of the treatment item that resource ``label`` gave."""
    for index, item in enumerate(treatments):
        sources = provenance.get(f"treatments[{index}].therapy", [])
        if any(source.split(".", 1)[0] == label for source in sources):
            found = item.get("end") or item.get("start")
            return str(found) if found else None
    return None


# -- allowed ranges ----------------------------------------------------------------------


def _bounds(path: str) -> tuple[float | None, float | None, bool] | None:
    """(minimum, maximum, minimum exclusive) of a case field's JSON Schema, else ``None``."""
    node = case_fields().get(path)
    if node is None:
        return None
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum")
    if low is None and high is None:
        return None
    return low, high, "exclusiveMinimum" in node


def _outside(path: str, value: Any, unit: str | None, sent: str) -> str | None:
    """Why ``value`` is outside the allowed range of ``path`` (the report's sentence)."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _outside(f"{path}.{key}", item, None, sent)
            if found is not None:
                return found
        return None
    bounds = _bounds(path)
    if bounds is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low, high, exclusive = bounds
    below = low is not None and (value <= low if exclusive else value < low)
    if not below and not (high is not None and value > high):
        return None
    suffix = f" {unit}" if unit and unit != "1" else ""
    if low is not None and high is not None:
        allowed = f"{low:g}–{high:g}{suffix}"
    elif low is not None:
        allowed = f"{'above' if exclusive else 'at least'} {low:g}{suffix}"
    else:
        allowed = f"at most {high:g}{suffix}"
    name = tables().field_name(path)
    shown = f"{name} ({path})" if name != path else path
    text = f"{shown} {value:g}{suffix}{sent} is outside {allowed}: not used"
    if unit == "%" and sent:
        text += "; check the unit ('1' means a fraction: 0.12 is 12 %)"
    else:
        text += "; check the value and its unit"
    return text


def _as_sent(resource: Any) -> str:
    """`` (sent as 12 '1')``: the value and UCUM unit an Observation carries, when it has one."""
    quantity = getattr(resource, "valueQuantity", None)
    if quantity is None or quantity.value is None:
        return ""
    unit = quantity.code or quantity.unit
    return f" (sent as {quantity.value} {unit!r})" if unit else ""


_OLDER_NOT_CURRENT = (
    "not used: a newer result of the same test is out of range, and an older value is not "
    "taken as the current one"
)


_OLDER_KI67 = (
    "kept as an earlier Ki-67 (history), not as the current index: the newest Ki-67 result is "
    "out of range"
)


def _in_range(
    facts: Facts, special: Special, resources: Mapping[str, Any], codes: CodeTables
) -> tuple[list[Any], list[Candidate]]:
    """Drop (and list) every value read from a record entry that lies outside its case field's
    allowed range (the case schema's minimum/maximum), history items included. Values the
    Patient resource gives (age from the birth date and as_of) are kept: an impossible age
    means as_of is wrong, and the case is refused naming where as_of came from."""

    def bad(path: str, value: Any, resource: str, element: str) -> str | None:
        if element.startswith("Patient."):
            return None
        return _outside(path, value, codes.target_unit(path), _as_sent(resources.get(resource)))

    for single, store in ((True, facts.single), (False, facts.arrays)):
        for path in list(store):
            kept = []
            dropped: list[Candidate] = []
            for c in store[path]:
                why = bad(path, c.value, c.resource, c.element)
                if why is None:
                    kept.append(c)
                else:
                    dropped.append(c)
                    facts.note(c.resource, c.element, why)
            if single and dropped and kept:
                # An older value never stands in for a newer one that cannot be used: the
                # newest result is what the clinician would read, so the field stays unknown.
                newest_dropped = max(c.key for c in dropped)
                if newest_dropped >= max(c.key for c in kept):
                    for c in kept:
                        facts.note(c.resource, c.element, _OLDER_NOT_CURRENT)
                    kept = []
            if kept:
                store[path] = kept
            else:
                del store[path]
    ki67 = []
    dropped_current: list[tuple[int, int, int]] = []
    for k in special.ki67:
        path = KI67_HISTORY + ".percent" if k.history else KI67
        why = bad(path, k.percent, k.resource, "Observation.value")
        if why is None:
            ki67.append(k)
        else:
            if not k.history:
                dropped_current.append(date_key(k.when) or (0, 0, 0))
            facts.note(k.resource, "Observation.valueQuantity", why)
    if dropped_current:
        # The newest Ki-67 cannot be used: older ones stay earlier values (history), and the
        # current index is left unknown rather than taken from an older result.
        newest_dropped = max(dropped_current)
        for index, k in enumerate(ki67):
            if not k.history and (date_key(k.when) or (0, 0, 0)) <= newest_dropped:
                facts.note(k.resource, "Observation.valueQuantity", _OLDER_KI67)
                ki67[index] = dataclasses.replace(k, history=True)
    sstr = []
    for c in special.sstr:
        why = bad(c.path, c.value, c.resource, c.element)
        if why is None:
            sstr.append(c)
        else:
            facts.note(c.resource, c.element, why)
    return ki67, sstr


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
