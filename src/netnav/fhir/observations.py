"""Observations → case fields: standard codes (observations.yaml: LOINC, SNOMED CT), the local
case-field code system (any patient.* / tumor.* field), Ki-67, SSTR imaging, TNM categories
and clinical findings (findings.yaml).

:func:`read_observation` adds candidates to a :class:`netnav.fhir.facts.Facts` (or notes why
nothing was read); Ki-67 values and SSTR-imaging panels are gathered in :class:`Special` and
resolved by the importer (newest Ki-67 = ``tumor.ki67_percent``, older ones = history).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from netnav.fhir.codes import CodeTables, ObservationCode
from netnav.fhir.facts import Candidate, Facts, iso_date
from netnav.fhir.fields import case_fields, field_kind
from netnav.fhir.values import ValueProblem, codings, quantity_in

__all__ = ["Ki67Value", "Special", "read_observation", "read_value"]

SSTR = "tumor.sstr_imaging"
KI67 = "tumor.ki67_percent"
KI67_HISTORY = "tumor.ki67_history"
SPECIMEN = "tumor.ki67_history.specimen"
TREATMENTS = "treatments"
# Ki-67 sent as text: only a plain percentage ("12%", "3.5 %") is read; "<2%", "about 5" … are
# listed, never guessed.
_KI67_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_NORMAL_RANGE = "normal"


@dataclass(frozen=True, slots=True)
class Ki67Value:
    """One Ki-67 index (percent) with its date, specimen and source; ``history`` is True when
    it was sent explicitly as a history item (case-field ``tumor.ki67_history``)."""

    percent: int | float
    when: str | None
    specimen: str | None
    source: str
    resource: str
    history: bool


@dataclass(slots=True)
class Special:
    """Ki-67 values and SSTR-imaging panels, resolved after all resources are read."""

    ki67: list[Ki67Value] = field(default_factory=list)
    sstr: list[Candidate] = field(default_factory=list)


def _value_element(obs: Any) -> str:
    for name in (
        "valueQuantity",
        "valueInteger",
        "valueBoolean",
        "valueCodeableConcept",
        "valueString",
    ):
        if getattr(obs, name, None) is not None:
            return name
    return "value"


def read_value(
    holder: Any,
    path: str,
    tables: CodeTables,
    *,
    molar_mass: float | None = None,
    valence: int | None = None,
) -> tuple[Any, str]:
    """The case value of ``path`` carried by an Observation or component ``holder``, checked
    against the case schema's type and enumeration; returns ``(value, value element name)``.

    Raises :class:`ValueProblem` naming what was expected.
    """
    node = case_fields()[path]
    kind = field_kind(node)
    element = _value_element(holder)
    if kind == "boolean":
        if holder.valueBoolean is None:
            raise ValueProblem(f"{path} is true/false: send valueBoolean (found {element})")
        return bool(holder.valueBoolean), "valueBoolean"
    if kind in ("integer", "number"):
        if holder.valueInteger is not None:
            if tables.target_unit(path) not in (None, "1"):
                raise ValueProblem(
                    f"{path} needs a valueQuantity with a UCUM unit (found valueInteger)"
                )
            return int(holder.valueInteger), "valueInteger"
        if holder.valueQuantity is None:
            raise ValueProblem(
                f"{path} is a number: send valueQuantity or valueInteger (found {element})"
            )
        only = tables.field_units_only.get(path)
        given = holder.valueQuantity.code or holder.valueQuantity.unit
        if only is not None and given not in only["units"]:
            raise ValueProblem(
                f"{path}: unit {given!r} not accepted (only {', '.join(only['units'])}): "
                f"{only['reason']}"
            )
        number = quantity_in(
            holder.valueQuantity,
            tables.target_unit(path),
            molar_mass_g_mol=molar_mass,
            valence=valence,
        )
        if kind == "integer" and not float(number).is_integer():
            raise ValueProblem(f"{path} is a whole number; {number} is not")
        return (int(number) if kind == "integer" else number), "valueQuantity"
    if kind == "string":
        if holder.valueString is None:
            raise ValueProblem(f"{path} is text: send valueString (found {element})")
        return str(holder.valueString), "valueString"
    if kind in ("enum", "enum_array"):
        allowed = node["enum"] if kind == "enum" else node["items"]["enum"]
        if kind == "enum_array":
            allowed = [*allowed, "none"]
        local = tables.uri("case_value")
        for system, code, _ in codings(getattr(holder, "valueCodeableConcept", None)):
            if system == local:
                if code not in allowed:
                    raise ValueProblem(
                        f"{path}: {code!r} is not one of {', '.join(map(str, allowed))}"
                    )
                return code, "valueCodeableConcept"
        raise ValueProblem(
            f"{path} is coded: send valueCodeableConcept with a {local} coding "
            f"(one of {', '.join(map(str, allowed))})"
        )
    raise ValueProblem(f"{path} cannot be sent as a single Observation value")


def _case_field_code(concept: Any, tables: CodeTables) -> str | None:
    """The case-field path a CodeableConcept names with netnav's local code system, if any."""
    local = tables.uri("case_field")
    for system, code, _ in codings(concept):
        if system == local and code:
            return str(code)
    return None


def _local_field(obs: Any, tables: CodeTables) -> str | None:
    return _case_field_code(obs.code, tables)


def read_observation(
    obs: Any, label: str, when: str | None, tables: CodeTables, facts: Facts, special: Special
) -> None:
    """Map one Observation (status already checked, date already within ``as_of``)."""
    local = _local_field(obs, tables)
    if local is not None:
        _read_local(obs, label, when, local, tables, facts, special)
        return
    for system, code, _ in codings(obs.code):
        entry = tables.observation_code(system, code)
        if entry is not None:
            _read_standard(obs, label, when, entry, tables, facts, special)
            return
    if _read_finding(obs, label, when, tables, facts):
        return
    shown = ", ".join(f"{s or '?'}|{c}" + (f" ({d})" if d else "") for s, c, d in codings(obs.code))
    text = getattr(obs.code, "text", None)
    facts.note(
        label, "Observation.code", f"{shown or text or 'no coding'}: not a code netnav reads"
    )


def _problem(facts: Facts, label: str, element: str, exc: Exception) -> None:
    facts.note(label, element, str(exc))


def _read_local(
    obs: Any,
    label: str,
    when: str | None,
    path: str,
    tables: CodeTables,
    facts: Facts,
    special: Special,
) -> None:
    fields = case_fields()
    if path == SSTR:
        _read_sstr(obs, label, when, tables, facts, special)
        return
    if path == TREATMENTS:
        _read_no_treatment(obs, label, when, tables, facts)
        return
    if path in (KI67, KI67_HISTORY):
        _read_ki67(obs, label, when, tables, facts, special, history=path == KI67_HISTORY)
        return
    if (
        path not in fields
        or field_kind(fields[path]) in ("object", "array")
        or path.startswith(KI67_HISTORY + ".")
    ):
        facts.note(
            label,
            "Observation.code",
            f"case-field {path!r} is not a case field netnav reads from one Observation",
        )
        return
    try:
        value, element = read_value(obs, path, tables)
    except ValueProblem as exc:
        _problem(facts, label, f"Observation.{_value_element(obs)}", exc)
        return
    source = f"{label}.{element}"
    if field_kind(fields[path]) == "enum_array":
        marker = "none" if value == "none" else None
        facts.add_item(
            Candidate(path, value, source, label, f"Observation.{element}", when, marker)
        )
    else:
        facts.add(Candidate(path, value, source, label, f"Observation.{element}", when))


def _read_no_treatment(
    obs: Any, label: str, when: str | None, tables: CodeTables, facts: Facts
) -> None:
    """case-field ``treatments`` with case-value ``none``: no treatment given so far."""
    for system, code, _ in codings(obs.valueCodeableConcept):
        if system == tables.uri("case_value") and code == "none":
            source = f"{label}.valueCodeableConcept"
            facts.add_item(
                Candidate(
                    TREATMENTS,
                    "none",
                    source,
                    label,
                    "Observation.valueCodeableConcept",
                    when,
                    "none",
                )
            )
            return
    facts.note(
        label,
        "Observation.value",
        "case-field 'treatments' takes only case-value 'none' (no treatment so far); send treatments as medication or procedure resources",
    )


def _component_field(component: Any, tables: CodeTables) -> str | None:
    return _case_field_code(component.code, tables)


def _read_sstr(
    obs: Any, label: str, when: str | None, tables: CodeTables, facts: Facts, special: Special
) -> None:
    panel: dict[str, Any] = {}
    for index, component in enumerate(obs.component or []):
        path = _component_field(component, tables)
        if path is None or not path.startswith(SSTR + ".") or path not in case_fields():
            facts.note(
                label,
                f"Observation.component[{index}]",
                "not an SSTR-imaging field (modality, krenning_min, krenning_max, all_lesions_positive)",
            )
            continue
        try:
            value, _ = read_value(component, path, tables)
        except ValueProblem as exc:
            _problem(facts, label, f"Observation.component[{index}]", exc)
            continue
        panel[path.rsplit(".", 1)[1]] = value
    if not panel:
        facts.note(label, "Observation.component", "SSTR imaging without any readable component")
        return
    special.sstr.append(
        Candidate(SSTR, panel, f"{label}.component", label, "Observation.component", when)
    )


def _read_ki67(
    obs: Any,
    label: str,
    when: str | None,
    tables: CodeTables,
    facts: Facts,
    special: Special,
    *,
    history: bool,
) -> None:
    element = "Observation.valueQuantity"
    if obs.valueQuantity is None and obs.valueString is not None:
        match = _KI67_TEXT.match(str(obs.valueString))
        if match is None:
            facts.note(
                label,
                "Observation.valueString",
                f"Ki-67 text {str(obs.valueString)[:60]!r} is not a plain percentage such as "
                "'12%': not read (send valueQuantity in UCUM '%')",
            )
            return
        number = float(match.group(1))
        percent: int | float = int(number) if number.is_integer() else number
        element = "Observation.valueString"
    elif obs.valueQuantity is None:
        facts.note(
            label, f"Observation.{_value_element(obs)}", "Ki-67 needs valueQuantity in % (UCUM '%')"
        )
        return
    else:
        try:
            percent = quantity_in(obs.valueQuantity, "%")
        except ValueProblem as exc:
            _problem(facts, label, element, exc)
            return
    specimen: str | None = None
    for index, component in enumerate(obs.component or []):
        if _component_field(component, tables) == SPECIMEN:
            try:
                specimen, _ = read_value(component, SPECIMEN, tables)
            except ValueProblem as exc:
                _problem(facts, label, f"Observation.component[{index}]", exc)
        else:
            facts.note(
                label,
                f"Observation.component[{index}]",
                "not a Ki-67 component netnav reads (tumor.ki67_history.specimen)",
            )
    special.ki67.append(
        Ki67Value(
            percent, iso_date(when), specimen, f"{label}.{element.split('.')[1]}", label, history
        )
    )


def _coded_answer(obs: Any, entry: ObservationCode, tables: CodeTables) -> tuple[Any, str] | None:
    for system, code, _ in codings(obs.valueCodeableConcept):
        found = tables.answer(entry.answers or "", system, code)
        if found is not None:
            return found[0], "valueCodeableConcept"
        if system == tables.uri("case_value") and entry.field is not None:
            return code, "valueCodeableConcept"
    return None


def _read_standard(
    obs: Any,
    label: str,
    when: str | None,
    entry: ObservationCode,
    tables: CodeTables,
    facts: Facts,
    special: Special,
) -> None:
    what = f"{entry.code} ({entry.display})"
    if entry.kind == "listed":
        facts.note(label, "Observation", f"{what}: {entry.reason}")
        return
    if entry.kind == "ki67":
        _read_ki67(obs, label, when, tables, facts, special, history=False)
        return
    path = entry.field
    assert path is not None, f"{entry.code} needs a field in observations.yaml"
    try:
        value, element = _standard_value(obs, entry, tables, what)
    except ValueProblem as exc:
        _problem(facts, label, f"Observation.{_value_element(obs)}", exc)
        return
    source = f"{label}.{element}"
    if entry.kind == "tnm_metastases":
        if value == "m0":
            facts.add_item(
                Candidate(path, "none", source, label, f"Observation.{element}", when, "none")
            )
        else:
            facts.add_item(
                Candidate(path, "m1", source, label, f"Observation.{element}", when, "unknown_site")
            )
        return
    facts.add(Candidate(path, value, source, label, f"Observation.{element}", when))


def _standard_value(
    obs: Any, entry: ObservationCode, tables: CodeTables, what: str
) -> tuple[Any, str]:
    path = entry.field or ""
    if entry.kind == "quantity":
        if obs.valueQuantity is None:
            raise ValueProblem(f"{what}: needs valueQuantity (found {_value_element(obs)})")
        return read_value(
            obs, path, tables, molar_mass=entry.molar_mass_g_mol, valence=entry.valence
        )
    if entry.kind == "times_uln":
        return _times_uln(obs, what), "valueQuantity"
    if entry.kind in ("ordinal", "coded", "tnm_nodes", "tnm_metastases"):
        if entry.kind == "ordinal" and obs.valueInteger is not None:
            return read_value(obs, path, tables)
        answer = _coded_answer(obs, entry, tables)
        if answer is None:
            shown = ", ".join(
                f"{s}|{c}" for s, c, _ in codings(obs.valueCodeableConcept)
            ) or _value_element(obs)
            raise ValueProblem(f"{what}: value {shown} is not in netnav's answer list for it")
        return answer
    raise ValueProblem(f"{what}: unknown kind {entry.kind!r} in observations.yaml")


def _condition_of(reference_range: Any) -> str | None:
    """What a reference range is restricted to (appliesTo, age, a type other than normal),
    or ``None`` for a plain normal range."""
    parts: list[str] = []
    for concept in reference_range.appliesTo or []:
        shown = concept.text or ", ".join(
            str(display or code) for _, code, display in codings(concept)
        )
        parts.append(f"applies to {shown or 'a stated group'}")
    if reference_range.age is not None:
        parts.append("an age range")
    kind = reference_range.type
    if kind is not None and _NORMAL_RANGE not in {c for _, c, _ in codings(kind)}:
        parts.append(f"type {kind.text or ', '.join(str(c) for _, c, _ in codings(kind))}")
    return "; ".join(parts) or None


def _upper_limit(obs: Any, what: str, unit: str) -> Any:
    """The one upper reference limit to divide by (a Quantity).

    Plain normal ranges are the candidates; ranges restricted to a group, an age or another
    meaning are not chosen (netnav cannot tell whether they apply to this patient). With
    several ranges, one carrying only ``text`` counts as restricted (the text may say to whom
    it applies). Candidates with different upper limits leave × ULN unknown.
    """
    from netnav.fhir.units import UnitError, convert

    ranges = [
        r for r in obs.referenceRange or [] if r.high is not None and r.high.value is not None
    ]
    if not ranges:
        raise ValueProblem(
            f"{what}: needs the lab's upper reference limit (referenceRange.high) to express it as × ULN"
        )
    several = len(obs.referenceRange or []) > 1
    plain: list[Any] = []
    restricted: list[str] = []
    for r in ranges:
        condition = _condition_of(r)
        if condition is None and several and r.text:
            condition = f"text {r.text!r}"
        if condition is None:
            plain.append(r.high)
        else:
            restricted.append(
                f"{r.high.value} {r.high.code or r.high.unit or ''}".strip() + f" ({condition})"
            )
    if not plain:
        raise ValueProblem(
            f"{what}: the reference ranges given are restricted ({'; '.join(restricted)}); "
            "netnav cannot tell which applies to this patient, so × ULN is left unknown"
        )
    highs: set[float] = set()
    for high in plain:
        high_unit = high.code or high.unit or unit
        try:
            highs.add(float(convert(high.value, high_unit, unit)))
        except UnitError as exc:
            raise ValueProblem(f"{what}: {exc}") from None
    if len(highs) > 1:
        shown = ", ".join(f"{h.value} {h.code or h.unit or ''}".strip() for h in plain)
        raise ValueProblem(
            f"{what}: several reference ranges with different upper limits ({shown}); "
            "× ULN left unknown"
        )
    return plain[0]


def _times_uln(obs: Any, what: str) -> int | float:
    """value ÷ the upper reference limit (:func:`_upper_limit`), both in one unit."""
    from netnav.fhir.units import UnitError, ratio

    quantity = obs.valueQuantity
    if quantity is None:
        raise ValueProblem(f"{what}: needs valueQuantity (found {_value_element(obs)})")
    if quantity.comparator is not None:
        raise ValueProblem(
            f"{what}: the value is '{quantity.comparator} {quantity.value}', not an exact value"
        )
    unit = quantity.code or quantity.unit or "1"
    high = _upper_limit(obs, what, unit)
    high_unit = high.code or high.unit or unit
    try:
        return ratio(quantity.value, unit, high.value, high_unit)
    except UnitError as exc:
        raise ValueProblem(f"{what}: {exc}") from None


def _read_finding(obs: Any, label: str, when: str | None, tables: CodeTables, facts: Facts) -> bool:
    snomed = tables.uri("snomed")
    for system, code, display in codings(obs.code):
        if system != snomed or code not in tables.findings:
            continue
        if obs.valueBoolean is False:
            facts.note(
                label,
                "Observation.valueBoolean",
                f"{code} ({display or tables.findings[code]['display']}) recorded as absent",
            )
            return True
        add_finding(tables.findings[code], label, "Observation.code", when, facts)
        return True
    return False


def add_finding(
    entry: dict[str, Any], label: str, element: str, when: str | None, facts: Facts
) -> None:
    """Add the case field(s) of a findings.yaml entry (array item or single value)."""
    for path, value in entry["sets"].items():
        candidate = Candidate(
            path, value, f"{label}.{element.split('.', 1)[1]}", label, element, when
        )
        if field_kind(case_fields()[path]) == "enum_array":
            facts.add_item(candidate)
        else:
            facts.add(candidate)
