"""Unit conversion for the FHIR import: UCUM codes read by ucumvert into pint quantities.

Never by hand: every factor comes from pint's UCUM definitions. A mass becomes an amount of
substance only with a molar mass given as data (``observations.yaml``), by dividing by it as
a pint quantity (g/mol), so ``mg/(24.h)`` of 5-HIAA becomes ``umol/(24.h)``.

Two UCUM readings are refused because they silently change a value:

* an **annotation-only unit** (``{percent}``, ``{%}``, ``{score}``) is UCUM's unit 1, a plain
  number: it is accepted only where the case field is a plain number (unit 1), never read as
  a fraction to be multiplied into ``%`` (send ``%``);
* **equivalents** (``eq``, ``meq/L``): UCUM defines 1 eq as 1 mol, ignoring the ion's charge.
  ``eq`` is converted only with the substance's valence given as data
  (``observations.yaml``: calcium 2, potassium 1): the prefix and volume by pint after writing
  ``mol`` for ``eq``, then divided by the valence (1 mmol of Ca²⁺ = 2 meq); without a valence
  the unit is refused.

Errors: :class:`UnitError` (a ``ValueError``) names the unit given, the unit wanted and why
(unknown UCUM code, incompatible dimensions, mass without a molar mass).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Any

__all__ = ["UnitError", "convert", "ratio", "tidy"]

# A UCUM unit made only of an annotation ({times}, {ratio}, {score}) means the unit 1.
_ANNOTATION_ONLY = re.compile(r"^\{[^{}]*\}$")
# The UCUM atom eq (equivalents) with its prefix, as a whole symbol of a unit term.
_EQ_ATOM = re.compile(r"(?<![A-Za-z_\[{])((?:da|[YZEPTGMkhdcmunpfazy])?)eq(?![A-Za-z_\]}])")
_SIGNIFICANT_DIGITS = 10


class UnitError(ValueError):
    """A value's unit cannot be converted to the unit the case field wants."""

    def __init__(self, given: str, wanted: str, reason: str) -> None:
        self.given = given
        self.wanted = wanted
        super().__init__(f"unit {given!r} cannot be converted to {wanted!r}: {reason}")


@cache
def _registry() -> Any:
    """The UCUM-aware pint registry, built once per process.

    Building it parses pint's and UCUM's definition files (about 1 s); pint keeps the parsed
    definitions in netnav's cache folder (``pint/`` under :func:`user_cache_dir`), which
    brings a command's start-up to about 0.3 s. A cache that cannot be used is skipped.
    """
    from ucumvert import PintUcumRegistry

    from netnav.knowledge.load import user_cache_dir

    folder = user_cache_dir()
    if folder is not None:
        try:
            (folder / "pint").mkdir(parents=True, exist_ok=True)
            return PintUcumRegistry(cache_folder=str(folder / "pint"))
        except Exception:  # any cache trouble: build without the cache
            pass
    return PintUcumRegistry()


def _normal(code: str) -> str:
    code = code.strip()
    return "1" if code == "" or _ANNOTATION_ONLY.match(code) else code


@cache
def _unit(code: str) -> Any:
    """The pint quantity of one UCUM unit (``1 ug/L``); raises UnitError when not UCUM."""
    try:
        return _registry().from_ucum(code)
    except Exception as exc:  # ucumvert raises lark and pint errors of several kinds
        raise UnitError(code, "", f"not a UCUM unit code ({type(exc).__name__})") from None


def tidy(value: float) -> int | float:
    """``value`` rounded to 10 significant digits (float noise of unit factors removed);
    an integral result is returned as ``int`` so that ``25`` stays ``25`` in the case."""
    rounded = float(f"{value:.{_SIGNIFICANT_DIGITS}g}")
    return int(rounded) if rounded.is_integer() else rounded


def convert(
    value: Decimal | float | int,
    unit: str,
    target: str,
    *,
    molar_mass_g_mol: float | None = None,
    valence: int | None = None,
) -> int | float:
    """``value`` in UCUM ``unit`` expressed in UCUM ``target`` (tidied with :func:`tidy`).

    Identical codes need no registry (``[pH]`` stays ``[pH]``). ``molar_mass_g_mol`` allows a
    mass to become an amount of substance and back; ``valence`` allows equivalents (``eq``)
    to become moles. An annotation-only unit converts only to the unit 1. Raises
    :class:`UnitError`.
    """
    given = unit.strip()
    unit, target = _normal(unit), _normal(target)
    if _ANNOTATION_ONLY.match(given) and target != "1":
        raise UnitError(
            given,
            target,
            f"UCUM reads the annotation {given!r} as the unit 1 (a plain number), not as "
            f"{target!r}; send the UCUM unit {target!r}",
        )
    if unit == target:
        return tidy(float(value))
    if _EQ_ATOM.search(unit):
        if valence is None:
            raise UnitError(
                unit,
                target,
                "equivalents count charge, not amount of substance; netnav has no valence "
                "for this test to convert them (send mol-based units)",
            )
        moles = _EQ_ATOM.sub(r"\1mol", unit)
        return tidy(
            float(convert(value, moles, target, molar_mass_g_mol=molar_mass_g_mol)) / valence
        )
    try:
        source_q = _unit(unit)
    except UnitError as exc:
        raise UnitError(unit, target, str(exc).split(": ", 1)[1]) from None
    target_q = _unit(target)
    factor = _factor(source_q, target_q, unit, target, molar_mass_g_mol)
    return tidy(float(value) * factor)


def ratio(
    value: Decimal | float | int,
    unit: str,
    reference: Decimal | float | int,
    reference_unit: str,
) -> int | float:
    """``value``/``reference`` after converting both to one unit (× upper reference limit).

    Raises :class:`UnitError` when the two units are not of one kind, or ``ZeroDivisionError``
    (as UnitError) when the reference is 0.
    """
    if float(reference) == 0:
        raise UnitError(reference_unit, unit, "the reference limit is 0")
    in_reference_unit = convert(value, unit, reference_unit)
    return tidy(float(in_reference_unit) / float(reference))


def _factor(source: Any, target: Any, unit: str, wanted: str, molar_mass: float | None) -> float:
    from pint.errors import DimensionalityError

    quotient = source / target
    try:
        return float(quotient.to("dimensionless").magnitude)
    except DimensionalityError:
        pass
    dims = quotient.dimensionality
    gram_per_mole = _unit("g/mol")
    if dims in (gram_per_mole.dimensionality, (1 / gram_per_mole).dimensionality):
        if molar_mass is None:
            raise UnitError(unit, wanted, "a mass and an amount of substance need a molar mass")
        mw = gram_per_mole * molar_mass
        adjusted = quotient / mw if dims == gram_per_mole.dimensionality else quotient * mw
        return float(adjusted.to("dimensionless").magnitude)
    raise UnitError(
        unit, wanted, f"{source.dimensionality} is not {target.dimensionality}"
    ) from None
