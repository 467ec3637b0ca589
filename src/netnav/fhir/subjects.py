"""Whose record: every resource must be about the record's patient.

:func:`record_patient` decides who the patient is: the ``patient_id`` argument (CDS Hooks
``context.patientId``), else the one Patient resource (or several with one id), else — with
Patient resources of different ids — the one the other resources name; with no Patient
resource, the one patient the references name. A record whose resources name several patients
and no ``patient_id`` to choose is refused (:class:`FhirImportError`): nothing in it could be
trusted to be one person's.

:func:`about_other_patient` then says, for one resource, why it is not about that patient
(``subject``/``patient`` names another patient, or a Patient resource with another id), or
``None``. A resource whose reference cannot be matched to a Patient (``urn:uuid:`` of no
entry, an identifier-only reference) is matched by identifier when it can be — a Patient
carrying that (system, value); without a system, the one Patient with an identifier of that
value; a conditional reference ``Patient?identifier=system|value`` likewise — else listed as
not shown to be the patient's. An identifier is never compared with a Patient's id (an MRN is
not a resource id), so with no Patient resource identifier-only references stay unmatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from netnav.fhir.model import FhirImportError

__all__ = [
    "PatientRef",
    "RecordPatient",
    "normal_patient_id",
    "record_patient",
    "subject_reference",
]


def normal_patient_id(patient_id: str | None) -> str | None:
    """The id of a ``--patient``/``context.patientId`` given as ``Patient/123`` (or an absolute
    URL ending so): ``123``; other text unchanged (stripped)."""
    if patient_id is None:
        return None
    text = patient_id.strip().rstrip("/")
    parts = text.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    return text


@dataclass(frozen=True, slots=True)
class PatientRef:
    """One resource's reference to its patient: ``reference`` text and/or ``identifier``
    (system, value)."""

    reference: str | None
    identifier: tuple[str | None, str | None] | None


@dataclass(frozen=True, slots=True)
class _Patient:
    key: str  # the id, else the fullUrl
    id: str | None
    full_url: str | None
    label: str
    identifiers: frozenset[tuple[str | None, str | None]] = frozenset()


@dataclass(slots=True)
class RecordPatient:
    """The record's patient (``key`` ``None``: not known — nothing is checked)."""

    key: str | None
    patients: dict[str, _Patient] = field(default_factory=dict)
    by_url: dict[str, str] = field(default_factory=dict)

    def patient_of(self, ref: PatientRef) -> str | None:
        """The key of the patient a reference names, or ``None`` when it cannot be told."""
        text = ref.reference
        if text:
            if text in self.by_url:
                return self.by_url[text]
            if text.startswith("Patient?"):
                return self._conditional(text)
            parts = text.rstrip("/").split("/")
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            if len(parts) >= 2 and parts[-2] == "Patient":
                return parts[-1]
            return None
        if ref.identifier is not None:
            return self._by_identifier(*ref.identifier)
        return None

    def _conditional(self, text: str) -> str | None:
        """``Patient?identifier=system|value`` (a transaction's conditional reference): the
        Patient entry carrying that identifier; any other search is not matched."""
        query = parse_qs(text.split("?", 1)[1])
        found = query.get("identifier")
        if not found or len(found) != 1 or len(query) != 1:
            return None
        system, bar, value = found[0].rpartition("|")
        if not bar:
            return self._by_identifier(None, value)
        return self._by_identifier(system or None, value) if value else None

    def _by_identifier(self, system: str | None, value: str | None) -> str | None:
        """The Patient with identifier (system, value); without a system, the one Patient that
        has an identifier of that value (several: not told)."""
        if value is None:
            return None
        if system is not None:
            hits = {p.key for p in self.patients.values() if (system, value) in p.identifiers}
        else:
            hits = {
                p.key for p in self.patients.values() if any(v == value for _, v in p.identifiers)
            }
        return next(iter(hits)) if len(hits) == 1 else None

    def other_reason(
        self, type_: str, resource_id: str | None, ref: PatientRef | None
    ) -> str | None:
        """Why a resource is not about the record's patient, or ``None``."""
        if self.key is None:
            return None
        label = self._label(self.key)
        if type_ == "Patient":
            if resource_id is not None and resource_id != self.key:
                return f"another patient than the record's ({label}): not read"
            return None
        if ref is None:
            return None
        named = self.patient_of(ref)
        if named == self.key:
            return None
        if named is not None:
            return f"about {self._label(named)}, not the record's patient {label}: not used"
        shown = ref.reference or (f"identifier {ref.identifier[1]}" if ref.identifier else "?")
        return f"names {shown}, which is not shown to be the record's patient {label}: not used"

    def _label(self, key: str) -> str:
        patient = self.patients.get(key)
        return patient.label if patient is not None else f"Patient/{key}"


def subject_reference(resource: Any) -> PatientRef | None:
    """The ``subject`` (or ``patient``) reference of a resource model, or ``None``."""
    for name in ("subject", "patient"):
        ref = getattr(resource, name, None)
        if ref is None or isinstance(ref, list):
            continue
        ident = getattr(ref, "identifier", None)
        identifier = (ident.system, ident.value) if ident is not None else None
        reference = getattr(ref, "reference", None)
        if reference is None and identifier is None:
            continue
        return PatientRef(str(reference) if reference else None, identifier)
    return None


def raw_subject_reference(raw: Mapping[str, Any] | None) -> PatientRef | None:
    """The same, read from JSON (an entry that failed validation)."""
    if raw is None:
        return None
    for name in ("subject", "patient"):
        ref = raw.get(name)
        if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
            return PatientRef(ref["reference"], None)
    return None


def record_patient(
    patients: Iterable[tuple[str | None, str | None, str, Any]],
    references: Iterable[PatientRef],
    patient_id: str | None,
) -> RecordPatient:
    """Decide the record's patient.

    ``patients``: ``(id, fullUrl, label, identifiers)`` of each Patient resource;
    ``references``: the patient references of all other resources. Raises
    :class:`FhirImportError` when the resources name several patients and ``patient_id`` does
    not say which one the record is about.
    """
    record = RecordPatient(None)
    for pid, full_url, label, identifiers in patients:
        key = pid or full_url
        if key is None:
            continue  # a Patient nothing can name: it gives no identity to check against
        idents = frozenset((i.system, i.value) for i in (identifiers or []) if i.value is not None)
        known = record.patients.get(key)
        if known is not None:
            idents = idents | known.identifiers
        record.patients[key] = _Patient(key, pid, full_url, label, idents)
        if full_url:
            record.by_url[full_url] = key
    if patient_id is not None:
        record.key = patient_id
        return record
    refs = list(references)
    if len(record.patients) == 1:
        record.key = next(iter(record.patients))
        return record
    named = {k for k in (record.patient_of(r) for r in refs) if k is not None}
    if len(record.patients) > 1:
        named_patients = named & set(record.patients)
        if len(named) > 1:
            raise _several(sorted(named), record)
        if len(named_patients) == 1:
            record.key = next(iter(named_patients))
        return record  # no resource names one of them: Patient facts disagree (unknown)
    if len(named) > 1:
        raise _several(sorted(named), record)
    if len(named) == 1:
        record.key = next(iter(named))
    return record


def _several(keys: list[str], record: RecordPatient) -> FhirImportError:
    shown = ", ".join(record._label(k) for k in keys)
    return FhirImportError(
        "entry",
        shown,
        "one patient's record (or the patient id to read)",
        f"the bundle's resources are about several patients ({shown}); netnav reads one "
        "patient's record: pass the patient id (--patient, or CDS Hooks context.patientId)",
    )
