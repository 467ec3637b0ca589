"""Cancer-related medications and procedures (FHIR R4 / mCODE) -> the case's ``treatments[]``.

``treatments_from_resources(resources, as_of=..., primary_site=..., resolve=...)`` reads
MedicationRequest, MedicationAdministration, MedicationStatement and Procedure models
(``fhir.resources.R4B``) and returns a :class:`TreatmentImport`:

- ``treatments``: case-format items (``{"therapy": <option id>, "start": "YYYY-MM[-DD]",
  "end": ..., "ongoing": bool, "best_response": ..., "stop_reason": ..., "months_to_progression":
  number, "cycles": int, "details": str ≤ 500}``; absent keys are unknown), oldest first by
  start (items without a start last; stable);
- ``tumor``: facts a procedure settles, only ``{"primary_removed": True}`` (a resection that
  takes out the primary of ``primary_site``); the margin is the importer's (local Observation);
- ``provenance``: ``"treatments[0].start" -> ["MedicationAdministration/ma1.effectivePeriod.start"]``;
- ``unmapped``: every resource or element read and not used, with the reason.

The code tables are data: ``fhir/data/treatments.yaml`` (RxNorm ingredient codes checked
against the CPIC drug table, SNOMED CT procedure codes checked against SNOMED/HL7 material,
names and brand names, regimens, octreotide formulation evidence, statusReason words);
docs/fhir-treatments.md lists every code and the merging rules.

Rules, in the order applied:

1. Status: entered-in-error, cancelled, draft, not-done, not-taken, intended, preparation,
   MedicationRequest intent proposal/plan/option and doNotPerform are ignored (listed); so are
   statuses that do not say it was given (MedicationRequest on-hold/unknown, MedicationStatement
   on-hold, MedicationAdministration/Procedure unknown) and a statusReason saying the course
   never began ("never started" with no dose-level word: "never started the higher dose",
   "previous dose not given", "not given since PD" keep the course, listed). A resource whose start is after ``as_of`` is ignored (listed); an end after ``as_of``
   is dropped.
2. Dates (first present wins): MedicationRequest ``dosageInstruction[0].timing.repeat.boundsPeriod``,
   then ``dispenseRequest.validityPeriod``, then ``authoredOn`` (start only);
   MedicationAdministration ``effectivePeriod``, then ``effectiveDateTime`` (start = end);
   MedicationStatement ``effectivePeriod``, then ``effectiveDateTime`` (start only);
   Procedure ``performedPeriod``, then ``performedDateTime`` (start only). The precision given is
   kept (``2024-03`` stays a month); a year alone cannot be written (the case needs a month) and
   is listed, but still orders and merges.
3. What was given: the local therapy code system (code = option id) wins; then a verified
   RxNorm/SNOMED code; then names in the code's text and displays (whole words,
   case-insensitive; the longer name wins: "irinotecan liposome" is not irinotecan). Octreotide's
   formulation comes from its evidence (LAR/depot/intramuscular/mg dose vs
   subcutaneous/immediate release/µg dose); none or both, or oral (Mycapssa) ->
   ``ssa_unspecified``. ``medicationReference``: ``#id`` from ``contained``, else ``resolve``,
   else the reference's ``display``; regimen names (CAPTEM, FOLFOX, EP …) stand for their drugs.
   A procedure's code text is read clause by clause (em/en dashes split too): every name rule
   matching a clause (not on words an earlier rule matched) gives a treatment, each vetoed or
   kept on its own ("Ileal resection post-PRRT" is a resection), vetoed when that clause holds
   a non-therapeutic head noun
   (planning, dosimetry, CT, biopsy …; not a modifier such as "CT-guided", "PET-avid", "seen on
   PET", not beside an administration marker such as "cycle 2 of 4"); a treatment is not
   performed when a not-done word in its text, statusReason, outcome or note is about it (its
   subject, else object: its name, "procedure", or nothing else; not "declined blood
   transfusion"; a qualifier such as "converted", "initially", "once" keeps it), after "no"
   before its name, or with outcome Unsuccessful. Vetoes and kept remarks are listed; each
   surviving treatment is one item.
4. Courses: resources of the same drug (or same procedure option) merge into one treatment when
   they share a group (MedicationRequest.groupIdentifier, basedOn CarePlan, the request of an
   administration) or the next starts at most 90 days (a repeated therapy of
   ``procedure_courses``, PRRT: its own gap) after the course's end so far
   (cycles of one treatment). Start = the earliest, end = the latest; an administration's date
   is a dose, not the course's end: it ends the item only when a status, statusReason or the
   extension says the course stopped. A first text saying "cycle N" (N > 1) keeps its date as
   the earliest known start (listed: the course began earlier).
5. Regimens: courses of drugs that some regimen combines, sharing a group, overlapping in time
   or starting within ``regimen_start_window_days``,
   become one treatment with the regimen's option (every slot filled, every drug in a slot or
   optional). No regimen fits and all are cytotoxic -> one ``chemotherapy_unspecified``; else
   each drug alone (its ``alone`` option; folinic acid alone is listed, not a treatment).
6. ``ongoing``: the latest resource with a telling status decides (request/statement active ->
   True, completed/stopped -> False; procedure in-progress -> True, completed/stopped -> False;
   administration in-progress -> True, stopped -> False, completed says nothing of the course).
   ``stop_reason``: the treatment-outcome extension, else ``statusReason`` words (standalone
   tokens, negation-aware; several reasons or none -> absent, listed). ``cycles``: the
   extension, else blocks of administrations per drug split at gaps > ``cycle_gap_days``
   (absent when a day is inexact, a block is continuous dosing, or a text says "cycle N" with
   N above the count); for a repeated therapy recorded as Procedures (PRRT), the number of
   procedures, and the last one's date is the end when all are completed (a procedure is a
   whole event; an administration is one dose). ``best_response`` and
   ``months_to_progression``: the extension only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources as importlib_resources
from typing import Any, Final

import yaml

from netnav.fhir.model import Unmapped
from netnav.vocabulary import ALL_THERAPY_IDS

__all__ = [
    "OUTCOME_URL",
    "THERAPY_SYSTEM",
    "TreatmentImport",
    "treatments_from_resources",
]

THERAPY_SYSTEM: Final = "https://fhir.netnav.org/CodeSystem/therapy"
CASE_VALUE_SYSTEM: Final = "https://fhir.netnav.org/CodeSystem/case-value"
OUTCOME_URL: Final = "https://fhir.netnav.org/StructureDefinition/treatment-outcome"
OUTCOME_ELEMENT: Final = "extension[treatment-outcome]"
DETAILS_MAX: Final = 500
COURSE_GAP: Final = timedelta(days=90)

BEST_RESPONSES: Final = frozenset({"cr", "pr", "sd", "pd", "not_evaluable"})
STOP_REASONS: Final = frozenset({"progression", "toxicity", "completed", "patient_choice", "other"})
MEDICATION_TYPES: Final = frozenset(
    {"MedicationRequest", "MedicationAdministration", "MedicationStatement"}
)
IGNORED_STATUS: Final[dict[str, frozenset[str]]] = {
    "MedicationRequest": frozenset({"entered-in-error", "cancelled", "draft"}),
    "MedicationAdministration": frozenset({"entered-in-error", "not-done"}),
    "MedicationStatement": frozenset({"entered-in-error", "not-taken", "intended"}),
    "Procedure": frozenset({"entered-in-error", "not-done", "preparation"}),
}
# statuses that do not say the treatment was given (listed as "not known to have been given").
# A MedicationStatement asserts use (R4 says "not-taken" when it was not used): its status
# unknown only leaves the state of use (active or completed) unknown, so it still counts.
NOT_KNOWN_GIVEN_STATUS: Final[dict[str, dict[str, str]]] = {
    "MedicationRequest": {"on-hold": "on hold", "unknown": "status unknown"},
    "MedicationStatement": {"on-hold": "on hold"},
    "MedicationAdministration": {"unknown": "status unknown"},
    "Procedure": {"unknown": "status unknown"},
}
# MedicationRequest intents that are not an order (a proposal, a plan, one option among others)
NOT_ORDER_INTENTS: Final = frozenset({"proposal", "plan", "option"})
# status -> ongoing (None: the status says nothing of the course)
ONGOING_BY_STATUS: Final[dict[str, dict[str, bool]]] = {
    "MedicationRequest": {"active": True, "completed": False, "stopped": False},
    "MedicationStatement": {"active": True, "completed": False, "stopped": False},
    "MedicationAdministration": {"in-progress": True, "stopped": False},
    "Procedure": {"in-progress": True, "completed": False, "stopped": False},
}

Resource = Any  # a fhir.resources.R4B model instance (its fields are read dynamically)


@dataclass(frozen=True)
class TreatmentImport:
    """What the medication and procedure resources give the case (see the module docstring)."""

    treatments: list[dict[str, Any]]
    tumor: dict[str, Any]
    provenance: dict[str, list[str]]
    unmapped: list[Unmapped]


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Drug:
    key: str
    display: str
    names: tuple[str, ...]
    alone: str | None
    cytotoxic: bool
    modifier: bool


@dataclass(frozen=True)
class _Regimen:
    option: str
    display: str
    slots: tuple[frozenset[str], ...]
    optional: frozenset[str]

    @property
    def covered(self) -> frozenset[str]:
        return frozenset().union(*self.slots) | self.optional

    def fits(self, drugs: frozenset[str]) -> bool:
        """Every slot filled by at least one drug and every drug in a slot or optional."""
        return drugs <= self.covered and all(slot & drugs for slot in self.slots)


@dataclass(frozen=True)
class _ProcedureRule:
    option: str
    groups: tuple[tuple[re.Pattern[str], ...], ...]
    removes_primary: frozenset[str]


@dataclass(frozen=True)
class _Tables:
    rxnorm_system: str
    snomed_system: str
    octreotide_options: dict[str, str]  # long_acting / short_acting / unknown -> option id
    long_acting_min_mg: float
    drugs: dict[str, _Drug]
    rxnorm: dict[str, str]  # RXCUI -> drug key
    name_patterns: tuple[tuple[re.Pattern[str], str], ...]  # (pattern, drug key)
    regimen_option_names: tuple[tuple[re.Pattern[str], str], ...]  # (pattern, option id)
    long_words: tuple[re.Pattern[str], ...]
    short_words: tuple[re.Pattern[str], ...]
    long_routes: frozenset[str]
    short_routes: frozenset[str]
    long_units: frozenset[str]
    short_units: frozenset[str]
    regimens: tuple[_Regimen, ...]
    supportive_codes: dict[str, str]  # RXCUI -> option
    supportive_names: tuple[tuple[re.Pattern[str], str], ...]
    procedure_codes: dict[str, tuple[str, str, frozenset[str]]]  # code -> (option, display, sites)
    procedure_rules: tuple[_ProcedureRule, ...]
    stop_words: tuple[tuple[re.Pattern[str], str], ...]
    short_text_units: tuple[str, ...]
    oral_words: tuple[re.Pattern[str], ...]
    oral_routes: frozenset[str]
    regimen_window: timedelta
    cycle_gap: timedelta
    cycle_max: timedelta
    course_gaps: dict[str, timedelta]  # repeated procedure option -> merge gap
    stop_negation_before: re.Pattern[str]
    stop_negation_after: re.Pattern[str]
    stop_negation_breaks: re.Pattern[str]
    never_began: tuple[re.Pattern[str], ...]
    dose_level: tuple[re.Pattern[str], ...]
    not_given_remarks: tuple[re.Pattern[str], ...]
    clause_separators: re.Pattern[str]
    non_therapeutic: tuple[re.Pattern[str], ...]
    guided: re.Pattern[str]
    before_name: re.Pattern[str]
    not_done_words: tuple[re.Pattern[str], ...]
    procedure_negation: re.Pattern[str]
    self_words: tuple[re.Pattern[str], ...]
    modifier_before: re.Pattern[str]
    administration_markers: tuple[re.Pattern[str], ...]
    not_done_qualifiers: tuple[re.Pattern[str], ...]
    fillers: frozenset[str]
    persons: frozenset[str]
    unsuccessful_outcomes: frozenset[str]


def _word(text: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(text.lower()) + r"(?![a-z0-9])")


def _token(text: str) -> re.Pattern[str]:
    """A standalone token: no letter, digit or hyphen beside it ("pd" is not "pd-l1")."""
    return re.compile(r"(?<![\w-])" + re.escape(text.lower()) + r"(?![\w-])")


def _first_match(patterns: Iterable[re.Pattern[str]], text: str) -> str | None:
    """The first pattern's match in ``text`` (lower-cased), else None."""
    low = text.lower()
    for pattern in patterns:
        found = pattern.search(low)
        if found is not None:
            return found.group(0)
    return None


def _unique_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for first, second in pairs:
        seen.setdefault(first, second)
    return list(seen.items())


def _alternatives(words: Iterable[object]) -> str:
    listed: list[str] = []
    for word in words:
        if not isinstance(word, str):  # YAML reads an unquoted no/yes/on/off as a boolean
            raise ValueError(f"treatments.yaml: {word!r} is not a word (quote it)")
        listed.append(word.lower())
    ordered = sorted(listed, key=len, reverse=True)
    return "|".join(re.escape(w) for w in ordered)


def _option(value: object, where: str) -> str:
    if not isinstance(value, str) or value not in ALL_THERAPY_IDS:
        raise ValueError(f"treatments.yaml {where}: {value!r} is not an option id of options.md")
    return value


@cache
def _tables() -> _Tables:
    """Load and check fhir/data/treatments.yaml (option ids and drug keys must exist)."""
    text = (
        importlib_resources.files("netnav.fhir").joinpath("data/treatments.yaml").read_text("utf-8")
    )
    raw: dict[str, Any] = yaml.safe_load(text)
    drugs: dict[str, _Drug] = {}
    rxnorm: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for key, spec in raw["drugs"].items():
        alone = spec.get("alone")
        drugs[key] = _Drug(
            key=key,
            display=str(spec["display"]),
            names=tuple(str(n).lower() for n in spec["names"]),
            alone=None if alone is None else _option(alone, f"drugs.{key}.alone"),
            cytotoxic=bool(spec.get("cytotoxic", False)),
            modifier=bool(spec.get("modifier", False)),
        )
        for coding in spec.get("rxnorm") or []:
            rxnorm[str(coding["code"])] = key
        patterns.extend((_word(name), key) for name in drugs[key].names)
    option_names: list[tuple[re.Pattern[str], str]] = []
    for spec in raw["regimen_names"]:
        for drug in spec.get("drugs") or []:
            if drug not in drugs:
                raise ValueError(f"treatments.yaml regimen_names: unknown drug {drug!r}")
        for name in spec["names"]:
            if spec.get("drugs"):
                patterns.extend((_word(str(name)), drug) for drug in spec["drugs"])
            else:
                named = _option(spec["option"], "regimen_names")
                if named not in {str(r["option"]) for r in raw["regimens"]}:
                    raise ValueError(f"treatments.yaml regimen_names: {named!r} is not a regimen")
                option_names.append((_word(str(name)), named))
    form = raw["octreotide_formulation"]
    regimens = []
    for spec in raw["regimens"]:
        slots = tuple(frozenset(slot) for slot in spec["slots"])
        optional = frozenset(spec.get("optional") or [])
        for drug in frozenset().union(*slots) | optional:
            if drug not in drugs:
                raise ValueError(f"treatments.yaml regimens: unknown drug {drug!r}")
        regimens.append(
            _Regimen(_option(spec["option"], "regimens"), str(spec["display"]), slots, optional)
        )
    supportive_codes: dict[str, str] = {}
    supportive_names: list[tuple[re.Pattern[str], str]] = []
    for spec in raw["supportive"]:
        option = _option(spec["option"], "supportive")
        for coding in spec.get("rxnorm") or []:
            supportive_codes[str(coding["code"])] = option
        supportive_names.extend((_word(name), option) for name in spec["names"])
    procedure_codes = {
        str(spec["code"]): (
            _option(spec["option"], f"procedure_codes.{spec['code']}"),
            str(spec["display"]),
            frozenset(spec.get("removes_primary") or []),
        )
        for spec in raw["procedure_codes"]
    }
    rules = tuple(
        _ProcedureRule(
            _option(spec["option"], "procedure_names"),
            tuple(tuple(_word(w) for w in group) for group in spec["all"]),
            frozenset(spec.get("removes_primary") or []),
        )
        for spec in raw["procedure_names"]
    )
    stop_words = tuple(
        (_token(w), str(spec["value"])) for spec in raw["stop_reasons"] for w in spec["words"]
    )
    negation = raw["stop_negation"]
    window = int(negation["window"])
    separators = "|".join(re.escape(str(sep)) for sep in raw["procedure_clause_separators"])
    return _Tables(
        rxnorm_system=str(raw["rxnorm_system"]),
        snomed_system=str(raw["snomed_system"]),
        octreotide_options={
            str(k): _option(v, "octreotide_formulation.options") for k, v in form["options"].items()
        },
        long_acting_min_mg=float(form["long_acting_min_mg"]),
        drugs=drugs,
        rxnorm=rxnorm,
        name_patterns=tuple(patterns),
        regimen_option_names=tuple(option_names),
        long_words=tuple(_word(w) for w in form["long_acting_words"]),
        short_words=tuple(_word(w) for w in form["short_acting_words"]),
        long_routes=frozenset(str(r).lower() for r in form["long_acting_routes"]),
        short_routes=frozenset(str(r).lower() for r in form["short_acting_routes"]),
        long_units=frozenset(str(u).lower() for u in form["long_acting_dose_units"]),
        short_units=frozenset(str(u).lower() for u in form["short_acting_dose_units"]),
        regimens=tuple(regimens),
        supportive_codes=supportive_codes,
        supportive_names=tuple(supportive_names),
        procedure_codes=procedure_codes,
        procedure_rules=rules,
        stop_words=stop_words,
        short_text_units=tuple(str(u).lower() for u in form["short_acting_text_units"]),
        oral_words=tuple(_word(w) for w in form["oral_words"]),
        oral_routes=frozenset(str(r).lower() for r in form["oral_routes"]),
        regimen_window=timedelta(days=int(raw["regimen_start_window_days"])),
        cycle_gap=timedelta(days=int(raw["cycle_gap_days"])),
        cycle_max=timedelta(days=int(raw["cycle_max_days"])),
        course_gaps={
            _option(spec["option"], "procedure_courses"): timedelta(days=int(spec["gap_days"]))
            for spec in raw["procedure_courses"]
        },
        stop_negation_before=re.compile(
            r"(?<![a-z0-9])(" + _alternatives(negation["before"]) + r")(?![a-z0-9])"
            r"[\s-]+(?:[\w/-]+\s+){0," + str(window) + r"}$"
        ),
        stop_negation_after=re.compile(
            r"^\s*(?:[\w/-]+\s+){0," + str(window) + r"}(" + _alternatives(negation["after"]) + r")"
            r"(?![a-z0-9])"
        ),
        stop_negation_breaks=re.compile(
            r"(?<![a-z0-9])(" + _alternatives(negation["breaks"]) + r")(?![a-z0-9])"
        ),
        never_began=tuple(_word(w) for w in raw["medication_never_began_words"]),
        dose_level=tuple(_word(w) for w in raw["medication_dose_level_words"]),
        not_given_remarks=tuple(_word(w) for w in raw["medication_not_given_remarks"]),
        clause_separators=re.compile(separators),
        non_therapeutic=tuple(_word(w) for w in raw["procedure_non_therapeutic"]),
        guided=re.compile(
            r"^[\s/-]*(?:" + _alternatives(raw["procedure_guided_words"]) + r")(?![a-z0-9])"
        ),
        before_name=re.compile(
            r"(?<![a-z0-9])(" + _alternatives(raw["procedure_before_name"]) + r")[\s-]*$"
        ),
        not_done_words=tuple(_word(w) for w in raw["procedure_not_done_words"]),
        procedure_negation=re.compile(
            r"(?<![a-z0-9])(" + _alternatives(raw["procedure_negation_before"]) + r")"
            r"[\s-]+(?:[\w/-]+\s+){0,2}$"
        ),
        self_words=tuple(_word(w) for w in raw["procedure_self_words"]),
        modifier_before=re.compile(
            r"(?<![a-z0-9])(" + _alternatives(raw["procedure_modifier_before"]) + r")\s+$"
        ),
        administration_markers=tuple(_word(w) for w in raw["procedure_administration_markers"]),
        not_done_qualifiers=tuple(_word(w) for w in raw["procedure_not_done_qualifiers"]),
        fillers=frozenset(str(w).lower() for w in raw["procedure_filler_words"]),
        persons=frozenset(str(w).lower() for w in raw["procedure_person_words"]),
        unsuccessful_outcomes=frozenset(
            str(c["code"]) for c in raw["procedure_unsuccessful_outcomes"]
        ),
    )


# --------------------------------------------------------------------------- dates


@dataclass(frozen=True)
class _When:
    """A FHIR date as given: ``text`` in case format (None for a year alone), its day range."""

    text: str | None
    low: date
    high: date


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _when(value: object) -> _When | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value.date()
        return _When(moment.isoformat(), moment, moment)
    if isinstance(value, date):
        return _When(value.isoformat(), value, value)
    text = str(value)
    match = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T.*)?", text)
    if match is None:
        return None
    year, month, day_text = match.group(1), match.group(2), match.group(3)
    if month is None:
        return _When(None, date(int(year), 1, 1), date(int(year), 12, 31))
    if day_text is None:
        return _When(
            f"{year}-{month}", date(int(year), int(month), 1), _month_end(int(year), int(month))
        )
    exact = date(int(year), int(month), int(day_text))
    return _When(exact.isoformat(), exact, exact)


# --------------------------------------------------------------------------- entries


@dataclass
class _Entry:
    """One usable resource: what it gives, with the FHIR element behind each fact."""

    label: str
    rtype: str
    order: int
    drugs: frozenset[str]
    option: str | None
    option_refs: list[str]
    details: list[str]
    start: _When | None = None
    start_ref: str = ""
    end: _When | None = None
    end_ref: str = ""
    ongoing: bool | None = None
    ongoing_ref: str = ""
    stop_reason: str | None = None
    stop_ref: str = ""
    outcome: dict[str, tuple[Any, str]] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    removes_primary: frozenset[str] = frozenset()
    procedure_code_ref: str = ""
    completed_procedure: bool = False

    @property
    def sort_key(self) -> tuple[date, int]:
        return (self.start.low if self.start else date.max, self.order)

    @property
    def span(self) -> tuple[date, date] | None:
        if self.start is None:
            return None
        high = self.end.high if self.end else self.start.high
        return self.start.low, max(high, self.start.high)


@dataclass(frozen=True)
class _TextConcept:
    """A CodeableConcept with text only (a reference's display read as the drug's name)."""

    text: str
    coding: tuple[Any, ...] = ()


def _attr(obj: Any, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def _codings(concept: Any) -> list[Any]:
    return list(_attr(concept, "coding") or [])


def _texts(concept: Any) -> list[str]:
    out = []
    text = _attr(concept, "text")
    if text:
        out.append(str(text))
    out.extend(str(c.display) for c in _codings(concept) if _attr(c, "display"))
    return out


def _element(rtype: str, label: str, ref: str) -> str:
    """``"MedicationRequest/mr1.authoredOn"`` -> ``"MedicationRequest.authoredOn"``."""
    return f"{rtype}.{ref.removeprefix(label + '.')}"


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


class _Reader:
    """Reads resources one by one into :class:`_Entry` values, collecting what is not used."""

    def __init__(
        self, as_of: date, resolve: Callable[[str], Resource | None], tables: _Tables
    ) -> None:
        self.as_of = as_of
        self.resolve = resolve
        self.t = tables
        self.unmapped: list[Unmapped] = []

    def note(self, label: str, element: str, reason: str) -> None:
        self.unmapped.append(Unmapped(label, element, reason))

    # -- one resource ----------------------------------------------------------------

    def read(self, res: Resource, order: int) -> list[_Entry]:
        """The entries one resource gives (a procedure may name several treatments)."""
        rtype = (
            str(res.get_resource_type())
            if hasattr(res, "get_resource_type")
            else type(res).__name__
        )
        label = f"{rtype}/{res.id}" if _attr(res, "id") else f"{rtype}#{order}"
        if rtype not in MEDICATION_TYPES and rtype != "Procedure":
            self.note(label, rtype, f"a {rtype} is not a medication or procedure")
            return []
        status = str(_attr(res, "status") or "unknown")
        if status in IGNORED_STATUS[rtype]:
            self.note(label, f"{rtype}.status", f"status {status}: not a treatment given")
            return []
        if status in NOT_KNOWN_GIVEN_STATUS[rtype]:
            why = NOT_KNOWN_GIVEN_STATUS[rtype][status]
            self.note(
                label, f"{rtype}.status", f"status {status}: {why}, not known to have been given"
            )
            return []
        if _attr(res, "doNotPerform") is True:
            self.note(
                label,
                f"{rtype}.doNotPerform",
                "doNotPerform true: an order not to give it, not a treatment given",
            )
            return []
        intent = _attr(res, "intent")
        if rtype == "MedicationRequest" and intent in NOT_ORDER_INTENTS:
            what = "one option offered" if intent == "option" else "planned"
            self.note(label, f"{rtype}.intent", f"intent {intent}: {what}, not ordered or given")
            return []
        if rtype in MEDICATION_TYPES and self._never_given(res, rtype, label):
            return []
        if rtype == "Procedure":
            found = self._procedure(res, label, order)
            if not found:
                return []
            entry, others = found[0], found[1:]
        else:
            medication = self._medication(res, rtype, label, order)
            if medication is None:
                return []
            entry, others = medication, []
        self._dates(res, rtype, entry)
        if entry.start is not None and entry.start.low > self.as_of:
            self.note(
                label,
                _element(rtype, label, entry.start_ref),
                f"starts {entry.start.text or entry.start.low.year}, after as_of {self.as_of}: ignored",
            )
            return []
        if entry.end is not None and entry.end.low > self.as_of:
            self.note(
                label,
                _element(rtype, label, entry.end_ref),
                f"end {entry.end.text} is after as_of {self.as_of}: not used",
            )
            entry.end, entry.end_ref = None, ""
        ongoing = ONGOING_BY_STATUS[rtype].get(status)
        if ongoing is True and entry.end is not None:
            ongoing = False  # active with an end already passed
        entry.ongoing, entry.ongoing_ref = ongoing, f"{label}.status"
        entry.completed_procedure = rtype == "Procedure" and status == "completed"
        self._stop_reason(res, rtype, entry)
        self._outcome(res, rtype, entry)
        return [entry] + [
            replace(
                entry,
                option=other.option,
                removes_primary=other.removes_primary,
                outcome=dict(entry.outcome),
            )
            for other in others
        ]

    def _never_given(self, res: Resource, rtype: str, label: str) -> bool:
        """statusReason says the course never began ("patient never started"): True (listed).

        Only a never-began phrase in a clause without a dose-level word vetoes; a remark about
        one dose or a change ("previous dose not given", "never started the higher dose", "not
        given since PD") keeps the course and is listed."""
        reasons = _attr(res, "statusReason")
        concepts = (
            reasons if isinstance(reasons, list) else [reasons] if reasons is not None else []
        )
        remark: tuple[str, str, str] | None = None  # (element, text, phrase)
        for i, concept in enumerate(concepts):
            element = f"statusReason[{i}]" if isinstance(reasons, list) else "statusReason"
            for text in _texts(concept):
                for clause in self._clauses(text):
                    began = _first_match(self.t.never_began, clause)
                    dose = _first_match(self.t.dose_level, clause)
                    if began is not None and dose is None:
                        self.note(
                            label,
                            f"{rtype}.{element}",
                            f"{text}: {began!r}, not a treatment given",
                        )
                        return True
                    said = began or _first_match(self.t.not_given_remarks, clause)
                    if said is not None and remark is None:
                        remark = (element, text, said)
        if remark is not None:
            element, text, said = remark
            self.note(
                label,
                f"{rtype}.{element}",
                f"{text}: {said!r} is about a dose or a change, not the whole course: "
                "the treatment is kept (check)",
            )
        return False

    def _referenced(self, res: Resource, reference: str, label: str) -> tuple[Any, str] | None:
        """The Medication a reference names: ``#id`` in the resource's ``contained``, else
        ``resolve``; with its provenance label."""
        if reference.startswith("#"):
            for i, contained in enumerate(_attr(res, "contained") or []):
                if _attr(contained, "id") == reference[1:]:
                    return contained, f"{label}.contained[{i}]"
            return None
        medication = self.resolve(reference)
        if medication is None:
            return None
        return medication, (f"Medication/{medication.id}" if _attr(medication, "id") else reference)

    # -- what was given ----------------------------------------------------------------

    def _medication(self, res: Resource, rtype: str, label: str, order: int) -> _Entry | None:
        concepts: list[tuple[Any, str]] = []  # (CodeableConcept, provenance element)
        form_texts: list[str] = []
        concept = _attr(res, "medicationCodeableConcept")
        if concept is not None:
            concepts.append((concept, f"{label}.medicationCodeableConcept"))
        med_ref = _attr(res, "medicationReference")
        reference = _attr(med_ref, "reference")
        display = _attr(med_ref, "display")
        found_med = self._referenced(res, str(reference), label) if reference else None
        if med_ref is not None and found_med is None:
            if not display:
                self.note(
                    label,
                    f"{rtype}.medicationReference",
                    f"{reference or '(no reference)'} is not in the bundle "
                    "(and the reference has no display)",
                )
                return None
            self.note(
                label,
                f"{rtype}.medicationReference",
                f"{reference or '(no reference)'} is not in the bundle: the drug is read from "
                "the reference's display",
            )
            concepts.append((_TextConcept(str(display)), f"{label}.medicationReference.display"))
        if found_med is not None:
            medication, med_label = found_med
            if _attr(medication, "code") is not None:
                concepts.append((medication.code, f"{med_label}.code"))
            for i, ingredient in enumerate(_attr(medication, "ingredient") or []):
                item = _attr(ingredient, "itemCodeableConcept")
                if item is not None:
                    concepts.append((item, f"{med_label}.ingredient[{i}].itemCodeableConcept"))
            form_texts.extend(_texts(_attr(medication, "form")))
            if not concepts and display:
                concepts.append(
                    (_TextConcept(str(display)), f"{label}.medicationReference.display")
                )
        if not concepts:
            self.note(label, f"{rtype}.medication[x]", "no medication code or text")
            return None
        # 1. local therapy code system
        for concept, ref in concepts:
            for coding in _codings(concept):
                if _attr(coding, "system") == THERAPY_SYSTEM:
                    code = str(_attr(coding, "code"))
                    if code not in ALL_THERAPY_IDS:
                        self.note(
                            label,
                            f"{rtype}.medication[x]",
                            f"therapy code {code!r} is not an option id of options.md",
                        )
                        return None
                    texts = _unique(t for c, _ in concepts for t in _texts(c))
                    return _Entry(label, rtype, order, frozenset(), code, [ref], texts)
        # 2. verified RxNorm codes, 3. names
        drugs: set[str] = set()
        refs: list[str] = []
        texts = []
        supportive: set[str] = set()
        for concept, ref in concepts:
            found: set[str] = set()
            for coding in _codings(concept):
                if _attr(coding, "system") == self.t.rxnorm_system:
                    code = str(_attr(coding, "code"))
                    if code in self.t.rxnorm:
                        found.add(self.t.rxnorm[code])
                    elif code in self.t.supportive_codes:
                        supportive.add(self.t.supportive_codes[code])
            concept_texts = _texts(concept)
            for text in concept_texts:
                found |= self._drug_names(text)
                supportive |= {
                    opt for pat, opt in self.t.supportive_names if pat.search(text.lower())
                }
            texts.extend(concept_texts)
            if found:
                drugs |= found
                refs.append(ref)
        texts = _unique(texts)
        shown = "; ".join(texts) or "(no text)"
        for pattern, regimen_option in self.t.regimen_option_names:
            if any(pattern.search(t.lower()) for t in texts):
                regimen = next(r for r in self.t.regimens if r.option == regimen_option)
                if drugs <= regimen.covered:  # "EP (etoposide + platinum)": the regimen
                    return _Entry(
                        label, rtype, order, frozenset(), regimen_option, [concepts[0][1]], texts
                    )
        if not drugs:
            element = f"{rtype}.medication[x]"
            if supportive:
                options = ", ".join(sorted(supportive))
                self.note(
                    label,
                    element,
                    f"{shown}: a supportive drug often given for other reasons; not imported "
                    f"(send it with the therapy code system, code {options}, to import it)",
                )
            else:
                self.note(
                    label,
                    element,
                    f"{shown}: not a drug netnav recognises as a NET treatment (send it with "
                    f"the therapy code system to import it)",
                )
            return None
        option = None
        if drugs == {"octreotide"}:
            option = self._octreotide(res, rtype, label, texts + form_texts)
        return _Entry(label, rtype, order, frozenset(drugs), option, refs, texts)

    def _drug_names(self, text: str) -> set[str]:
        """Drug keys named in ``text``; a match inside a longer match of another drug is dropped."""
        low = text.lower()
        spans = [
            (m.start(), m.end(), key)
            for pat, key in self.t.name_patterns
            for m in pat.finditer(low)
        ]
        keep = set()
        for start, end, key in spans:
            inside = any(
                o_key != key
                and o_start <= start
                and end <= o_end
                and (o_end - o_start) > (end - start)
                for o_start, o_end, o_key in spans
            )
            if not inside:
                keep.add(key)
        return keep

    def _octreotide(self, res: Resource, rtype: str, label: str, texts: list[str]) -> str:
        """octreotide_lar / octreotide_short_acting from the evidence; unknown -> ssa_unspecified."""
        evidence = [t.lower() for t in texts]
        routes: list[str] = []
        units: list[str] = []
        dosages = _attr(res, "dosageInstruction") or _attr(res, "dosage") or []
        if not isinstance(dosages, list):
            dosages = [dosages]
        for dosage in dosages:
            if _attr(dosage, "text"):
                evidence.append(str(dosage.text).lower())
            route = _attr(dosage, "route")
            routes.extend(t.lower() for t in _texts(route))
            routes.extend(str(c.code).lower() for c in _codings(route) if _attr(c, "code"))
            quantities = [_attr(dosage, "dose")]
            quantities += [_attr(d, "doseQuantity") for d in _attr(dosage, "doseAndRate") or []]
            for quantity in quantities:
                for unit in (_attr(quantity, "unit"), _attr(quantity, "code")):
                    if unit:
                        units.append(str(unit).lower())
        long = any(p.search(t) for p in self.t.long_words for t in evidence)
        short = any(p.search(t) for p in self.t.short_words for t in evidence)
        long |= any(
            r in self.t.long_routes or any(w in r for w in self.t.long_routes if not w.isdigit())
            for r in routes
        )
        short |= any(
            r in self.t.short_routes or any(w in r for w in self.t.short_routes if not w.isdigit())
            for r in routes
        )
        long |= any(u in self.t.long_units for u in units)
        short |= any(u in self.t.short_units for u in units)
        # a strength of long_acting_min_mg or more in the name is a depot product
        micro = _alternatives(self.t.short_text_units)
        for text in evidence:
            for match in re.finditer(r"(\d+(?:\.\d+)?)\s*mg(?!\s*/)(?![a-z])", text):
                if float(match.group(1)) >= self.t.long_acting_min_mg:
                    long = True
            if re.search(r"\d\s*(?:" + micro + r")(?![a-z])", text):
                short = True
        oral = [
            found.group(0)
            for text in evidence
            for p in self.t.oral_words
            if (found := p.search(text)) is not None
        ] + [
            r
            for r in routes
            if r in self.t.oral_routes
            or any(_word(w).search(r) for w in self.t.oral_routes if not w.isdigit())
        ]
        if oral:
            self.note(
                label,
                f"{rtype}.medication[x]",
                f"oral octreotide ({oral[0]!r}) is neither the LAR depot nor the short-acting "
                f"injection: imported as {self.t.octreotide_options['unknown']}",
            )
            return self.t.octreotide_options["unknown"]
        if long and not short:
            return self.t.octreotide_options["long_acting"]
        if short and not long:
            return self.t.octreotide_options["short_acting"]
        return self.t.octreotide_options["unknown"]

    def _procedure(self, res: Resource, label: str, order: int) -> list[_Entry]:
        """The treatments one Procedure gives (one per surviving option, in text order)."""
        code = _attr(res, "code")
        ref = f"{label}.code"
        texts = _unique(_texts(code))
        shown = "; ".join(texts) or "(no text)"
        # (option, removes_primary, own name patterns) in text order
        found: list[tuple[str, frozenset[str], tuple[re.Pattern[str], ...]]] = []
        vetoed: list[tuple[str, str]] = []  # (option, word)
        for coding in _codings(code):
            system, value = _attr(coding, "system"), str(_attr(coding, "code"))
            if system == THERAPY_SYSTEM:
                if value not in ALL_THERAPY_IDS:
                    self.note(
                        label,
                        "Procedure.code",
                        f"therapy code {value!r} is not an option id of options.md",
                    )
                    return []
                found = [(value, frozenset(), self._own(value))]
                break
        if not found:
            for coding in _codings(code):
                system, value = _attr(coding, "system"), str(_attr(coding, "code"))
                if system == self.t.snomed_system and value in self.t.procedure_codes:
                    option, _display, sites = self.t.procedure_codes[value]
                    found = [(option, sites, self._own(option))]
                    break
        if not found:
            for rule, _clause, word in self._rule_clauses(texts):
                own = tuple(p for group in rule.groups for p in group)
                if word is not None:
                    vetoed.append((rule.option, word))
                elif rule.option not in {o for o, _, _ in found}:
                    found.append((rule.option, rule.removes_primary, own))
                else:  # the same treatment named again (another resection): its sites too
                    found = [
                        (o, sites | rule.removes_primary if o == rule.option else sites, p)
                        for o, sites, p in found
                    ]
        kept_options = {o for o, _, _ in found}
        for option, word in _unique_pairs(vetoed):
            if option in kept_options:
                continue
            self.note(
                label,
                "Procedure.code",
                f"{shown}: {word!r} says this is not the treatment itself ({option} not imported)",
            )
        if not found:
            if not vetoed:
                codes = ", ".join(
                    f"{_attr(c, 'system')}|{_attr(c, 'code')}" for c in _codings(code)
                )
                self.note(
                    label,
                    "Procedure.code",
                    f"{shown}{f' ({codes})' if codes else ''}: not a treatment netnav imports",
                )
            return []
        not_done = self._not_done(res, label, texts, {o: own for o, _, own in found})
        entries = []
        for option, sites, _own in found:
            if option in not_done:
                element, word = not_done[option]
                self.note(
                    label,
                    element,
                    f"{word!r}: the procedure was not performed ({option} not imported)",
                )
                continue
            entry = _Entry(label, "Procedure", order, frozenset(), option, [ref], texts)
            entry.removes_primary, entry.procedure_code_ref = sites, ref
            entries.append(entry)
        return entries

    def _own(self, option: str) -> tuple[re.Pattern[str], ...]:
        """The name words of every procedure_names rule of ``option``."""
        return tuple(
            p
            for rule in self.t.procedure_rules
            if rule.option == option
            for group in rule.groups
            for p in group
        )

    def _rule_clauses(self, texts: list[str]) -> list[tuple[_ProcedureRule, str, str | None]]:
        """(rule, clause, veto word or None) for each clause of the texts, in text order; when
        no clause matches, a rule whose words are spread over clauses ("Enucleation, pancreatic
        head") matched on the whole text.

        Every rule is tried on a clause, in table order: a rule whose names lie on words an
        earlier rule already matched (accepted or vetoed) is skipped ("DEB-TACE" is not also
        TACE, "post-DEB-TACE" not a TACE); the others are each vetoed or kept on their own, so
        a vetoed match does not hide another treatment of the same clause ("Ileal resection
        post-PRRT": PRRT vetoed, the resection kept)."""
        out: list[tuple[_ProcedureRule, str, str | None]] = []
        for text in texts:
            for clause in self._clauses(text):
                out.extend(self._clause_rules(clause))
        if not out:
            for text in texts:
                out.extend(self._clause_rules(text.lower()))
        return out

    def _clause_rules(self, clause: str) -> list[tuple[_ProcedureRule, str, str | None]]:
        out: list[tuple[_ProcedureRule, str, str | None]] = []
        taken: list[tuple[int, int]] = []
        for rule in self.t.procedure_rules:
            if not all(any(p.search(clause) for p in group) for group in rule.groups):
                continue
            own = tuple(p for group in rule.groups for p in group)
            spans = [(m.start(), m.end()) for m in self._names(clause, own)]
            if any(a < d and c < b for a, b in spans for c, d in taken):
                continue
            taken.extend(spans)
            out.append((rule, clause, self._not_a_treatment(clause, own)))
        return out

    def _clauses(self, text: str) -> list[str]:
        return [c for c in self.t.clause_separators.split(text.lower()) if c.strip()]

    @staticmethod
    def _names(clause: str, own: Sequence[re.Pattern[str]]) -> list[re.Match[str]]:
        return [m for p in own for m in p.finditer(clause)]

    def _not_a_treatment(self, clause: str, own: Sequence[re.Pattern[str]]) -> str | None:
        """The non-therapeutic head noun (or "pre <name>") that vetoes this clause, else None."""
        if _first_match(self.t.administration_markers, clause) is not None or re.search(
            r"(?<![\w.])\d+\s*(?:of|/)\s*\d+(?![\w.])", clause
        ):
            return None
        for pattern in self.t.non_therapeutic:
            for found in pattern.finditer(clause):
                after = clause[found.end() :]
                if self.t.guided.match(after) or re.match(r"-[a-z]", after):
                    continue  # "CT-guided", "PET-avid", "biopsy-proven": a modifier
                if self.t.modifier_before.search(clause[: found.start()]):
                    continue  # "seen on PET", "detected by CT"
                return found.group(0)
        for name in self._names(clause, own):
            before = self.t.before_name.search(clause[: name.start()])
            if before is not None:
                return f"{before.group(1)} {name.group(0)}"
        return None

    def _about(
        self, clause: str, found: re.Match[str], owns: dict[str, tuple[re.Pattern[str], ...]]
    ) -> frozenset[str] | None:
        """What a not-done word is about: the options named by its subject (else its object),
        every option (the procedure itself, or nothing else in the clause), or None (another
        thing: no veto)."""
        tokens = [m for m in re.finditer(r"[a-z0-9][a-z0-9'/-]*", clause)]

        def classify(token: re.Match[str]) -> frozenset[str] | str | None:
            if token.group(0) in self.t.fillers:
                return None
            named = frozenset(
                option
                for option, own in owns.items()
                for m in self._names(clause, own)
                if m.start() <= token.start() < m.end()
            )
            if named:
                return named
            if any(p.fullmatch(token.group(0)) for p in self.t.self_words):
                return frozenset(owns)
            return "other"

        def nearest(side: Iterable[re.Match[str]]) -> frozenset[str] | str | None:
            for token in side:
                if token.group(0) in self.t.persons:
                    return None  # a person is the subject: the object decides
                kind = classify(token)
                if kind is not None:
                    return kind
            return None

        subject = nearest(reversed([t for t in tokens if t.end() <= found.start()]))
        if isinstance(subject, frozenset):
            return subject
        obj = nearest(t for t in tokens if t.start() >= found.end())
        if isinstance(obj, frozenset):
            return obj
        if subject is None and obj is None:
            return frozenset(owns)  # "Cancelled", "patient declined"
        return None

    def _not_done(
        self,
        res: Resource,
        label: str,
        texts: list[str],
        owns: dict[str, tuple[re.Pattern[str], ...]],
    ) -> dict[str, tuple[str, str]]:
        """Options the code text, statusReason, outcome or note says were not performed:
        option -> (element, deciding word). Remarks that do not veto are listed."""
        out: dict[str, tuple[str, str]] = {}

        def veto(options: Iterable[str], element: str, word: str) -> None:
            for option in options:
                out.setdefault(option, (element, word))

        sources: list[tuple[str, str, bool]] = [("Procedure.code", t, False) for t in texts]
        for element in ("statusReason", "outcome"):
            concept = _attr(res, element)
            if element == "outcome":
                for coding in _codings(concept):
                    if (
                        _attr(coding, "system") == self.t.snomed_system
                        and str(_attr(coding, "code")) in self.t.unsuccessful_outcomes
                    ):
                        shown = _attr(coding, "display") or _attr(coding, "code")
                        veto(owns, f"Procedure.{element}", str(shown))
            sources.extend((f"Procedure.{element}", t, False) for t in _texts(concept))
        for i, note in enumerate(_attr(res, "note") or []):
            sources.append((f"Procedure.note[{i}].text", str(_attr(note, "text") or ""), True))
        for element, text, quiet in sources:
            qualifier = _first_match(self.t.not_done_qualifiers, text)
            for clause in self._clauses(text):
                for option, own in owns.items():
                    for name in self._names(clause, own):
                        negation = self.t.procedure_negation.search(clause[: name.start()])
                        if negation is not None:
                            veto([option], element, f"{negation.group(1)} {name.group(0)}")
                for pattern in self.t.not_done_words:
                    for found in pattern.finditer(clause):
                        about = self._about(clause, found, owns)
                        word = found.group(0)
                        if about is not None and qualifier is None:
                            veto(about, element, word)
                        elif about is not None or not quiet:
                            why = (
                                f"qualified by {qualifier!r}"
                                if about is not None
                                else "about something else"
                            )
                            kept = ", ".join(sorted(about if about is not None else owns))
                            self.note(
                                label,
                                element,
                                f"{clause.strip()}: {word!r} {why}; {kept} kept (check)",
                            )
        return out

    # -- dates, stop reason, outcome -------------------------------------------------------

    def _dates(self, res: Resource, rtype: str, entry: _Entry) -> None:
        label = entry.label
        candidates: list[tuple[str, Any, bool]] = []  # (element, value, is period)
        if rtype == "MedicationRequest":
            dosage = (_attr(res, "dosageInstruction") or [None])[0]
            bounds = _attr(_attr(_attr(dosage, "timing"), "repeat"), "boundsPeriod")
            candidates = [
                ("dosageInstruction[0].timing.repeat.boundsPeriod", bounds, True),
                (
                    "dispenseRequest.validityPeriod",
                    _attr(_attr(res, "dispenseRequest"), "validityPeriod"),
                    True,
                ),
                ("authoredOn", _attr(res, "authoredOn"), False),
            ]
        elif rtype == "MedicationAdministration" or rtype == "MedicationStatement":
            candidates = [
                ("effectivePeriod", _attr(res, "effectivePeriod"), True),
                ("effectiveDateTime", _attr(res, "effectiveDateTime"), False),
            ]
        else:
            candidates = [
                ("performedPeriod", _attr(res, "performedPeriod"), True),
                ("performedDateTime", _attr(res, "performedDateTime"), False),
            ]
            for other in ("performedString", "performedAge", "performedRange"):
                if _attr(res, other) is not None:
                    self.note(label, f"Procedure.{other}", "not a date: the case needs YYYY-MM")
        for element, value, is_period in candidates:
            if value is None:
                continue
            if is_period:
                start_raw, end_raw = _attr(value, "start"), _attr(value, "end")
                if start_raw is None and end_raw is None:
                    continue
                entry.start, entry.start_ref = _when(start_raw), f"{label}.{element}.start"
                entry.end, entry.end_ref = _when(end_raw), f"{label}.{element}.end"
                if entry.start is None:
                    entry.start_ref = ""
                if entry.end is None:
                    entry.end_ref = ""
            else:
                entry.start, entry.start_ref = _when(value), f"{label}.{element}"
                if rtype == "MedicationAdministration" and entry.start is not None:
                    entry.end, entry.end_ref = entry.start, entry.start_ref
            break
        for when, ref in ((entry.start, entry.start_ref), (entry.end, entry.end_ref)):
            if when is not None and when.text is None:
                self.note(
                    label,
                    _element(rtype, label, ref),
                    f"{when.low.year}: only a year; the case needs YYYY-MM",
                )
        if entry.start is not None and entry.end is not None and entry.end.high < entry.start.low:
            self.note(label, _element(rtype, label, entry.end_ref), "end before start: not used")
            entry.end, entry.end_ref = None, ""
        groups: set[str] = set()
        group_id = _attr(res, "groupIdentifier")
        if group_id is not None and _attr(group_id, "value"):
            groups.add(f"group:{_attr(group_id, 'system')}|{group_id.value}")
        for based in _attr(res, "basedOn") or []:
            reference = str(_attr(based, "reference") or "")
            if reference.startswith("CarePlan/"):
                groups.add(f"careplan:{reference}")
        request_ref = _attr(_attr(res, "request"), "reference")
        if request_ref:
            groups.add(f"request:{request_ref}")
            request = self.resolve(str(request_ref))
            request_group = _attr(request, "groupIdentifier")
            if request_group is not None and _attr(request_group, "value"):
                groups.add(f"group:{_attr(request_group, 'system')}|{request_group.value}")
        if rtype == "MedicationRequest" and _attr(res, "id"):
            groups.add(f"request:MedicationRequest/{res.id}")
        entry.groups = frozenset(groups)

    def _stop_reason(self, res: Resource, rtype: str, entry: _Entry) -> None:
        reasons = _attr(res, "statusReason")
        concepts = (
            reasons if isinstance(reasons, list) else [reasons] if reasons is not None else []
        )
        for i, concept in enumerate(concepts):
            element = f"statusReason[{i}]" if isinstance(reasons, list) else "statusReason"
            for coding in _codings(concept):
                if (
                    _attr(coding, "system") == CASE_VALUE_SYSTEM
                    and _attr(coding, "code") in STOP_REASONS
                ):
                    entry.stop_reason, entry.stop_ref = str(coding.code), f"{entry.label}.{element}"
                    return
            shown = "; ".join(_texts(concept)) or "(no text)"
            found: dict[str, str] = {}  # reason -> phrase
            negated: list[str] = []
            for text in _texts(concept):
                for clause in self._clauses(text):
                    for value, phrase, is_negated in self._stop_phrases(clause):
                        if is_negated:
                            negated.append(phrase)
                        else:
                            found.setdefault(value, phrase)
            if len(found) == 1:
                entry.stop_reason, entry.stop_ref = next(iter(found)), f"{entry.label}.{element}"
                return
            if len(found) > 1:
                named = ", ".join(f"{v} ({p!r})" for v, p in sorted(found.items()))
                why = f"several stop reasons named: {named}; not chosen"
            elif negated:
                why = f"{', '.join(repr(p) for p in negated)} negated: not a stop reason"
            else:
                why = "not a stop reason netnav knows"
            self.note(entry.label, f"{rtype}.{element}", f"{shown}: {why}")

    def _stop_phrases(self, clause: str) -> list[tuple[str, str, bool]]:
        """(reason, phrase, negated) for each stop word in ``clause``; a phrase inside a longer
        matched phrase is dropped ("disease progression", not also "progression")."""
        spans = [
            (m.start(), m.end(), value)
            for pattern, value in self.t.stop_words
            for m in pattern.finditer(clause)
        ]
        out = []
        for start, end, value in spans:
            if any(
                o_start <= start and end <= o_end and (o_end - o_start) > (end - start)
                for o_start, o_end, _ in spans
            ):
                continue
            before = self.t.stop_negation_before.search(clause[:start])
            if (
                before is not None
                and before.group(1) == "non"
                and re.match(r"-[a-z]", clause[before.end(1) : start])
            ):
                before = None  # "non-infectious pneumonitis": "non-" negates its own word only
            after = self.t.stop_negation_after.match(clause[end:])
            negated = bool(
                (
                    before is not None
                    and not self.t.stop_negation_breaks.search(clause[before.end(1) : start])
                )
                or (
                    after is not None
                    and not self.t.stop_negation_breaks.search(clause[end : after.start(1)])
                )
            )
            out.append((value, clause[start:end], negated))
        return out

    def _outcome(self, res: Resource, rtype: str, entry: _Entry) -> None:
        for ext in _attr(res, "extension") or []:
            if _attr(ext, "url") != OUTCOME_URL:
                continue
            for sub in _attr(ext, "extension") or []:
                name = str(_attr(sub, "url"))
                element = f"{OUTCOME_ELEMENT}.{name}"
                ref = f"{entry.label}.{element}"
                value: Any
                if name in ("best_response", "stop_reason"):
                    value = _attr(sub, "valueCode")
                    allowed = BEST_RESPONSES if name == "best_response" else STOP_REASONS
                    if value not in allowed:
                        self.note(
                            entry.label,
                            f"{rtype}.{element}",
                            f"{value!r} is not one of {', '.join(sorted(allowed))}",
                        )
                        continue
                elif name == "months_to_progression":
                    raw = _attr(sub, "valueDecimal")
                    raw = raw if raw is not None else _attr(sub, "valueInteger")
                    if raw is None or Decimal(str(raw)) < 0:
                        self.note(entry.label, f"{rtype}.{element}", f"{raw!r} is not a number ≥ 0")
                        continue
                    number = Decimal(str(raw))
                    value = int(number) if number == number.to_integral_value() else float(number)
                elif name == "cycles":
                    value = _attr(sub, "valueInteger")
                    if not isinstance(value, int) or value < 0:
                        self.note(
                            entry.label, f"{rtype}.{element}", f"{value!r} is not an integer ≥ 0"
                        )
                        continue
                else:
                    self.note(
                        entry.label,
                        f"{rtype}.{element}",
                        f"{name!r} is not a treatment-outcome field",
                    )
                    continue
                if name == "stop_reason":
                    entry.stop_reason, entry.stop_ref = str(value), ref
                else:
                    entry.outcome[name] = (value, ref)


# --------------------------------------------------------------------------- courses


@dataclass
class _Course:
    entries: list[_Entry]

    @property
    def drugs(self) -> frozenset[str]:
        return self.entries[0].drugs

    @property
    def option(self) -> str | None:
        return self.entries[0].option

    @property
    def groups(self) -> frozenset[str]:
        return frozenset().union(*(e.groups for e in self.entries))

    @property
    def span(self) -> tuple[date, date] | None:
        spans = [s for e in self.entries if (s := e.span) is not None]
        if not spans:
            return None
        high = max(s[1] for s in spans)
        if any(e.ongoing for e in self.entries):
            high = date.max
        return min(s[0] for s in spans), high


def _course_gap(entry: _Entry, tables: _Tables) -> timedelta:
    """The longest gap within one course: the option's (repeated procedures, PRRT), else 90 days."""
    option = entry.option
    if option is None and len(entry.drugs) == 1:
        option = tables.drugs[next(iter(entry.drugs))].alone
    return tables.course_gaps.get(option, COURSE_GAP) if option is not None else COURSE_GAP


def _courses(entries: list[_Entry], tables: _Tables) -> list[_Course]:
    """Merge entries of the same drug set (or procedure option) into courses (rule 4)."""
    courses: list[_Course] = []
    by_key: dict[tuple[frozenset[str], str | None, bool], list[_Course]] = {}
    for entry in sorted(entries, key=lambda e: e.sort_key):
        key = (entry.drugs, entry.option, entry.rtype == "Procedure")
        gap = _course_gap(entry, tables)
        target = None
        for course in by_key.get(key, []):
            if entry.groups & course.groups:
                target = course
                break
            span, mine = course.span, entry.span
            if (
                span is not None
                and mine is not None
                and (span[1] == date.max or mine[0] <= span[1] + gap)
            ):
                target = course
                break
        if target is None:
            target = _Course([])
            courses.append(target)
            by_key.setdefault(key, []).append(target)
        target.entries.append(entry)
    return courses


def _overlap(a: _Course, b: _Course) -> bool:
    sa, sb = a.span, b.span
    return sa is not None and sb is not None and sa[0] <= sb[1] and sb[0] <= sa[1]


def _near_start(a: _Course, b: _Course, window: timedelta) -> bool:
    sa, sb = a.span, b.span
    return sa is not None and sb is not None and abs(sa[0] - sb[0]) <= window


def _clusters(courses: list[_Course], tables: _Tables) -> list[list[_Course]]:
    """Group courses that a regimen combines (shared group or overlapping time; rule 5)."""
    components = frozenset().union(*(r.covered for r in tables.regimens))
    parent = list(range(len(courses)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(courses):
        for j in range(i + 1, len(courses)):
            b = courses[j]
            if a.option is not None or b.option is not None:
                continue
            union = a.drugs | b.drugs
            if not union <= components or not any(union <= r.covered for r in tables.regimens):
                continue
            if (a.groups & b.groups) or _overlap(a, b) or _near_start(a, b, tables.regimen_window):
                parent[find(j)] = find(i)
    grouped: dict[int, list[_Course]] = {}
    for i, course in enumerate(courses):
        grouped.setdefault(find(i), []).append(course)
    return list(grouped.values())


def _alone_option(drugs: frozenset[str], tables: _Tables) -> str | None:
    """The option for a drug set that no regimen names (None: not a treatment)."""
    active = frozenset(d for d in drugs if not tables.drugs[d].modifier)
    if not active:
        return None
    if len(active) == 1:
        return tables.drugs[next(iter(active))].alone
    if all(tables.drugs[d].cytotoxic for d in active):
        return "chemotherapy_unspecified"
    return "other_treatment"


def _assign(
    clusters: list[list[_Course]], tables: _Tables, reader: _Reader
) -> list[tuple[str, list[_Course]]]:
    """Each cluster -> [(option, courses)] (a regimen, an unspecified chemotherapy, or alone)."""
    out: list[tuple[str, list[_Course]]] = []
    for cluster in clusters:
        fixed = cluster[0].option
        if fixed is not None:
            out.append((fixed, cluster))
            continue
        drugs = frozenset().union(*(c.drugs for c in cluster))
        regimen = next((r for r in tables.regimens if r.fits(drugs)), None)
        if regimen is not None:
            out.append((regimen.option, cluster))
            continue
        active = frozenset(d for d in drugs if not tables.drugs[d].modifier)
        if len(cluster) > 1 and len(active) > 1 and all(tables.drugs[d].cytotoxic for d in active):
            out.append(("chemotherapy_unspecified", cluster))
            continue
        for course in cluster:
            option = _alone_option(course.drugs, tables)
            if option is None:
                for entry in course.entries:
                    names = ", ".join(tables.drugs[d].display for d in sorted(entry.drugs))
                    reader.note(
                        entry.label,
                        f"{entry.rtype}.medication[x]",
                        f"{names} alone is not an anticancer treatment (no regimen partner found)",
                    )
                continue
            out.append((option, [course]))
    return out


# --------------------------------------------------------------------------- items


def _truncate(text: str) -> str:
    return text if len(text) <= DETAILS_MAX else text[: DETAILS_MAX - 1] + "…"


def _blocks(spans: list[tuple[date, date]], gap: timedelta) -> list[list[date]]:
    blocks: list[list[date]] = []
    for low, high in sorted(spans):
        if blocks and low - blocks[-1][1] <= gap:
            blocks[-1][1] = max(blocks[-1][1], high)
        else:
            blocks.append([low, high])
    return blocks


def _cycles(
    administered: list[_Entry], tables: _Tables, reader: _Reader
) -> tuple[int, list[str]] | None:
    """Cycles = blocks of administrations of one drug separated by more than ``cycle_gap``
    days (a regimen: its drug with the most blocks, so temozolomide on day 10 of capecitabine is
    the same cycle); None (listed) when a day is not exact or a block is longer than
    ``cycle_max`` (continuous dosing)."""
    by_drug: dict[tuple[frozenset[str], str | None], list[tuple[date, date]]] = {}
    for e in administered:
        if e.start is None or e.start.low != e.start.high:
            reader.note(
                e.label,
                f"{e.rtype}.effective[x]",
                "no exact day of administration: cycles not counted",
            )
            return None
        high = e.end.high if e.end is not None else e.start.high
        by_drug.setdefault((e.drugs, e.option), []).append((e.start.low, max(high, e.start.low)))
    counts = []
    for spans in by_drug.values():
        blocks = _blocks(spans, tables.cycle_gap)
        longest = max(high - low for low, high in blocks)
        if longest > tables.cycle_max:
            first = administered[0]
            reader.note(
                first.label,
                f"{first.rtype}.effective[x]",
                f"administrations without a break for {longest.days + 1} days (continuous "
                "dosing): cycles not counted",
            )
            return None
        counts.append(len(blocks))
    return max(counts), _unique(e.start_ref or e.label for e in administered)


_CYCLE_NUMBER: Final = re.compile(
    r"(?<![a-z0-9])(?:cycles?\s*(?:#|no\.?)?\s*(\d{1,2})(?![\d.])|c(\d{1,2})d\d{1,2}(?![\d.]))"
)


def _said_cycle(entries: Iterable[_Entry]) -> tuple[int, _Entry] | None:
    """The largest cycle number written in the entries' texts ("CAPTEM cycle 3 day 1"), with
    the entry saying it; None when no text gives one."""
    best: tuple[int, _Entry] | None = None
    for entry in entries:
        for text in entry.details:
            for found in _CYCLE_NUMBER.finditer(text.lower()):
                number = int(found.group(1) or found.group(2))
                if best is None or number > best[0]:
                    best = (number, entry)
    return best


def _item(
    option: str, courses: list[_Course], tables: _Tables, reader: _Reader
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    entries = sorted((e for c in courses for e in c.entries), key=lambda e: e.sort_key)
    item: dict[str, Any] = {"therapy": option}
    prov: dict[str, list[str]] = {"therapy": _unique(r for e in entries for r in e.option_refs)}
    dated = [e for e in entries if e.start is not None and e.start.text is not None]
    if dated:
        first = min(dated, key=lambda e: e.sort_key)
        assert first.start is not None and first.start.text is not None
        item["start"], prov["start"] = first.start.text, [first.start_ref]
    # ongoing: per course, the latest entry with a telling status; a regimen is ongoing if any course is
    course_ongoing: list[tuple[bool, str]] = []
    for course in courses:
        telling = [
            e for e in sorted(course.entries, key=lambda e: e.sort_key) if e.ongoing is not None
        ]
        explicit_stop = [e for e in course.entries if e.stop_reason is not None]
        if telling:
            last = telling[-1]
            assert last.ongoing is not None
            course_ongoing.append((last.ongoing, last.ongoing_ref))
        elif explicit_stop:
            course_ongoing.append((False, explicit_stop[-1].stop_ref))
    ongoing: bool | None = None
    if course_ongoing:
        running = [ref for value, ref in course_ongoing if value]
        if running:
            ongoing, prov["ongoing"] = True, running
        else:
            ongoing, prov["ongoing"] = False, [ref for _, ref in course_ongoing]
        item["ongoing"] = ongoing
    if ongoing is not True:
        # an administration records a dose, not the end of the course: its date ends the item
        # only when a status, statusReason or the extension says the course stopped
        stopped_course = any(e.ongoing is False or e.stop_reason is not None for e in entries)
        ended = [
            e
            for e in entries
            if e.end is not None
            and e.end.text is not None
            and (e.rtype != "MedicationAdministration" or stopped_course)
        ]
        # repeated procedures (PRRT): each is a whole event, so the last completed one ends the
        # course when every one is completed
        repeated = [e for e in entries if e.rtype == "Procedure" and option in tables.course_gaps]
        if repeated and all(e.completed_procedure for e in repeated):
            ended += [
                replace(e, end=e.start, end_ref=e.start_ref)
                for e in repeated
                if e.end is None and e.start is not None and e.start.text is not None
            ]
        if ended:
            last_end = max(ended, key=lambda e: (e.end.high if e.end else date.min, e.order))
            assert last_end.end is not None and last_end.end.text is not None
            item["end"], prov["end"] = last_end.end.text, [last_end.end_ref]
        stopped = [e for e in entries if e.stop_reason is not None]
        if stopped:
            chosen = stopped[-1]
            item["stop_reason"], prov["stop_reason"] = chosen.stop_reason, [chosen.stop_ref]
    for name in ("best_response", "months_to_progression"):
        given = [e for e in entries if name in e.outcome]
        if given:
            value, ref = given[-1].outcome[name]
            item[name], prov[name] = value, [ref]
    explicit_cycles = [e.outcome["cycles"] for e in entries if "cycles" in e.outcome]
    if explicit_cycles:
        value, ref = max(explicit_cycles, key=lambda vr: vr[0])
        item["cycles"], prov["cycles"] = value, [ref]
    else:
        administered = [e for e in entries if e.rtype == "MedicationAdministration"]
        counted = _cycles(administered, tables, reader) if administered else None
        said = _said_cycle(administered)
        if counted is not None and said is not None and said[0] > counted[0]:
            number, entry = said
            reader.note(
                entry.label,
                f"{entry.rtype}.medication[x]",
                f"'cycle {number}' in the text but {counted[0]} counted from the administrations "
                "seen: the earlier cycles are missing, cycles not counted",
            )
            counted = None
        procedures = [e for e in entries if e.rtype == "Procedure"]
        if counted is None and procedures and option in tables.course_gaps:
            counted = len(procedures), _unique(e.start_ref or e.label for e in procedures)
            said = _said_cycle(procedures)
            if said is not None and said[0] > counted[0]:
                number, entry = said
                reader.note(
                    entry.label,
                    "Procedure.code",
                    f"'cycle {number}' in the text but {counted[0]} procedure(s) seen: the "
                    "earlier cycles are missing, cycles not counted",
                )
                counted = None
        if counted is not None:
            item["cycles"], prov["cycles"] = counted
    first_said = _said_cycle(entries[:1])
    if "start" in item and first_said is not None and first_said[0] > 1:
        number, entry = first_said
        reader.note(
            entry.label,
            _element(entry.rtype, entry.label, entry.start_ref),
            f"the start is the date of 'cycle {number}', the earliest known: the course began "
            "earlier (its first cycles are not in the bundle)",
        )
    details = _unique(t for e in entries for t in e.details)
    if details:
        item["details"] = _truncate("; ".join(details))
        prov["details"] = _unique(r for e in entries for r in e.option_refs)
    return item, prov


def _start_low(item: dict[str, Any]) -> date:
    when = _when(item.get("start"))
    return when.low if when is not None else date.max


def treatments_from_resources(
    resources: Sequence[Resource],
    *,
    as_of: date,
    primary_site: str | None,
    resolve: Callable[[str], Resource | None],
) -> TreatmentImport:
    """Medication and procedure resources -> treatments, tumour facts, provenance, unmapped.

    ``resources``: R4B MedicationRequest / MedicationAdministration / MedicationStatement /
    Procedure models (anything else is listed as unmapped). ``as_of``: the case date (later
    resources are ignored). ``primary_site``: the case's ``tumor.primary_site`` (None: unknown,
    so ``primary_removed`` is never set). ``resolve("Medication/<id>")`` returns the referenced
    resource or None. See the module docstring for the rules.
    """
    tables = _tables()
    reader = _Reader(as_of, resolve, tables)
    entries = [e for i, res in enumerate(resources) for e in reader.read(res, i)]
    assigned = _assign(_clusters(_courses(entries, tables), tables), tables, reader)
    built = [_item(option, courses, tables, reader) for option, courses in assigned]
    built_sorted = sorted(built, key=lambda ip: _start_low(ip[0]))  # stable; undated last
    treatments: list[dict[str, Any]] = []
    provenance: dict[str, list[str]] = {}
    for index, (item, prov) in enumerate(built_sorted):
        treatments.append(item)
        for name, refs in prov.items():
            provenance[f"treatments[{index}].{name}"] = refs
    tumor: dict[str, Any] = {}
    if primary_site is not None:
        removing = [
            e for e in entries if e.completed_procedure and primary_site in e.removes_primary
        ]
        if removing:
            tumor["primary_removed"] = True
            provenance["tumor.primary_removed"] = [e.procedure_code_ref for e in removing]
    return TreatmentImport(treatments, tumor, provenance, list(reader.unmapped))
