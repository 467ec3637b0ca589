"""Small readers of FHIR data types shared by the mappers (codings, dates, quantities).

All take fhir.resources R4B model instances and return plain Python values. Errors a clinician
must see (an incompatible unit, an inexact value) are raised as :class:`ValueProblem`, which
the mappers turn into an :class:`netnav.fhir.model.Unmapped` entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from netnav.fhir.units import UnitError, convert

__all__ = [
    "ValueProblem",
    "codings",
    "date_text",
    "observation_when",
    "quantity_in",
]


class ValueProblem(ValueError):
    """A FHIR value that cannot become the case value (the message says why)."""


def codings(concept: Any) -> Iterator[tuple[str | None, str | None, str | None]]:
    """``(system, code, display)`` of each coding of a CodeableConcept (or None)."""
    if concept is None:
        return
    for coding in concept.coding or []:
        yield coding.system, coding.code, coding.display


def date_text(value: Any) -> str | None:
    """A FHIR date/dateTime/instant as ISO text, keeping a partial date's precision."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def observation_when(obs: Any) -> str | None:
    """The clinically relevant date of an Observation: effective[x] (a period's end, else its
    start), else ``issued``."""
    when = date_text(getattr(obs, "effectiveDateTime", None)) or date_text(
        getattr(obs, "effectiveInstant", None)
    )
    period = getattr(obs, "effectivePeriod", None)
    if when is None and period is not None:
        when = date_text(period.end) or date_text(period.start)
    return when or date_text(getattr(obs, "issued", None))


def quantity_in(
    quantity: Any,
    target: str | None,
    *,
    molar_mass_g_mol: float | None = None,
    valence: int | None = None,
) -> int | float:
    """A Quantity's value in UCUM ``target`` (``None``: a plain number, unit 1).

    The UCUM code is ``Quantity.code`` (``system`` http://unitsofmeasure.org or absent), else
    ``Quantity.unit`` when it parses as UCUM. A comparator (``<``, ``>=`` …) is refused: the
    value is not exact. Raises :class:`ValueProblem`.
    """
    if quantity.value is None:
        raise ValueProblem("the Quantity has no value")
    if quantity.comparator is not None:
        raise ValueProblem(
            f"the value is '{quantity.comparator} {quantity.value}', not an exact value"
        )
    unit = quantity.code if quantity.code is not None else quantity.unit
    wanted = target or "1"
    if unit is None:
        if wanted == "1":
            return convert(quantity.value, "1", "1")
        raise ValueProblem(
            f"the Quantity has no UCUM unit code; netnav needs one to convert to {wanted}"
        )
    try:
        return convert(
            quantity.value, unit, wanted, molar_mass_g_mol=molar_mass_g_mol, valence=valence
        )
    except UnitError as exc:
        raise ValueProblem(str(exc)) from None
