"""Patient → ``patient.sex`` and ``patient.age_years`` (completed years at ``as_of``).

A partial birthDate (``1960`` or ``1960-05``) is taken at the latest day it can mean, so the
age is never overstated (the youngest the patient can be). ``gender`` ``unknown`` stays unknown.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from netnav.fhir.facts import Candidate, Facts, date_key
from netnav.fhir.values import date_text

__all__ = ["age_at", "read_patient"]

_SEX = {"male": "male", "female": "female", "other": "other"}


def age_at(birth: str, as_of: date) -> int | None:
    """Completed years between a (partial) birth date and ``as_of``; None if unreadable."""
    key = date_key(birth)
    if key is None:
        return None
    year, month, day = key
    month = month or 12
    day = day or calendar.monthrange(year, month)[1]
    born = date(year, month, day)
    years = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    return years


def read_patient(patient: Any, label: str, as_of: date | None, facts: Facts) -> None:
    """Map one Patient resource."""
    when = as_of.isoformat() if as_of else None
    gender = patient.gender
    if gender in _SEX:
        facts.add(
            Candidate("patient.sex", _SEX[gender], f"{label}.gender", label, "Patient.gender", when)
        )
    elif gender is not None:
        facts.note(label, "Patient.gender", f"gender {gender!r} left unknown")
    birth = date_text(patient.birthDate)
    if birth is not None:
        if as_of is None:
            facts.note(label, "Patient.birthDate", "no as_of date to compute the age at")
        else:
            age = age_at(birth, as_of)
            if age is None or age < 0:
                facts.note(label, "Patient.birthDate", f"birthDate {birth} is after as_of {as_of}")
            else:
                facts.add(
                    Candidate(
                        "patient.age_years",
                        age,
                        f"{label}.birthDate",
                        label,
                        "Patient.birthDate",
                        when,
                    )
                )
    if getattr(patient, "deceasedBoolean", None) or getattr(patient, "deceasedDateTime", None):
        facts.note(label, "Patient.deceased[x]", "the patient is recorded as deceased")
