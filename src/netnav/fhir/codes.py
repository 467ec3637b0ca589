"""The code tables of the FHIR import, read from ``fhir/data/*.yaml`` (clinical content is data).

:func:`tables` returns one :class:`CodeTables` (loaded once per process). Every lookup takes a
FHIR ``(system URI, code)`` pair and returns the table entry or ``None``; entries carry the
code's ``display`` so that the report can name what was read. Sources of each list are given
at the top of its YAML file (ICD-10-CM, ICD-O-3.2, SNOMED CT, LOINC, mCODE STU3/STU4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["CodeTables", "ObservationCode", "tables"]


@dataclass(frozen=True, slots=True)
class ObservationCode:
    """One Observation code of ``observations.yaml``.

    ``kind``: how the value is read (``quantity``, ``times_uln``, ``ordinal``, ``coded``,
    ``ki67``, ``tnm_nodes``, ``tnm_metastases``, ``listed``); ``field``: the case field path it
    fills (``None`` for ``listed``); ``molar_mass_g_mol``: for mass → amount conversions;
    ``answers``: name of the answer list; ``reason``: why a ``listed`` code is not used.
    """

    system: str
    code: str
    display: str
    kind: str
    field: str | None
    molar_mass_g_mol: float | None = None
    answers: str | None = None
    reason: str = ""


def _load(name: str) -> Any:
    text = resources.files("netnav.fhir").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


class CodeTables:
    """All code tables, indexed for lookup by ``(system URI, code)``."""

    def __init__(self) -> None:
        self.systems: dict[str, str] = dict(_load("systems.yaml"))
        sites = _load("sites.yaml")
        self.icd10_primary: dict[str, dict[str, Any]] = sites["icd10_primary"]
        self.icd10_metastasis: dict[str, dict[str, Any]] = sites["icd10_metastasis"]
        self.icd10_not_used: dict[str, str] = sites["icd10_not_used"]
        self.body_sites: dict[str, dict[str, Any]] = sites["snomed_body_site"]
        self.morphology: dict[str, dict[str, Any]] = _load("morphology.yaml")["icdo3"]
        self.findings: dict[str, dict[str, Any]] = _load("findings.yaml")["snomed"]
        obs = _load("observations.yaml")
        self.observation_codes: dict[tuple[str, str], ObservationCode] = {}
        for system_key in ("loinc", "snomed"):
            for code, entry in (obs.get(system_key) or {}).items():
                system = self.systems[system_key]
                self.observation_codes[(system, str(code))] = ObservationCode(
                    system=system,
                    code=str(code),
                    display=entry["display"],
                    kind=entry["kind"],
                    field=entry.get("field"),
                    molar_mass_g_mol=entry.get("molar_mass_g_mol"),
                    answers=entry.get("answers"),
                    reason=entry.get("reason", ""),
                )
        self.answers: dict[str, dict[tuple[str, str], tuple[Any, str]]] = {}
        for name, items in obs["answers"].items():
            self.answers[name] = {
                (self.systems[item["system"]], str(item["code"])): (item["value"], item["display"])
                for item in items or []
            }
        self.field_units: dict[str, str] = obs["field_units"]
        self.field_unit_overrides: dict[str, str] = obs.get("field_unit_overrides") or {}

    # -- system URIs ---------------------------------------------------------------------
    def uri(self, key: str) -> str:
        """The URI of a system named in systems.yaml (``loinc``, ``case_field`` …)."""
        return self.systems[key]

    def is_icd10(self, system: str | None) -> bool:
        return system in (self.systems["icd10cm"], self.systems["icd10"])

    # -- lookups -------------------------------------------------------------------------
    @staticmethod
    def _by_prefix(table: dict[str, Any], code: str) -> tuple[str, Any] | None:
        """The entry for ``code`` or its longest listed prefix (ICD-10 hierarchy)."""
        for end in range(len(code), 2, -1):
            key = code[:end].rstrip(".")
            if key in table:
                return key, table[key]
        return None

    def icd10(self, code: str, table: str) -> tuple[str, Any] | None:
        """``table``: ``primary``, ``metastasis`` or ``not_used``; returns (listed code, entry)."""
        source: dict[str, Any] = {
            "primary": self.icd10_primary,
            "metastasis": self.icd10_metastasis,
            "not_used": self.icd10_not_used,
        }[table]  # type: ignore[assignment]
        return self._by_prefix(source, code.strip().upper())

    def observation_code(self, system: str | None, code: str | None) -> ObservationCode | None:
        if system is None or code is None:
            return None
        return self.observation_codes.get((system, code))

    def answer(self, name: str, system: str | None, code: str | None) -> tuple[Any, str] | None:
        """(case value, display) of a coded answer in list ``name``."""
        if system is None or code is None:
            return None
        return self.answers.get(name, {}).get((system, code))

    def target_unit(self, field: str) -> str | None:
        """The UCUM code of the unit in a case field's name (``None``: a plain number)."""
        if field in self.field_unit_overrides:
            return self.field_unit_overrides[field]
        name = field.rsplit(".", 1)[-1]
        best: str | None = None
        for suffix in self.field_units:
            if name.endswith(suffix) and (best is None or len(suffix) > len(best)):
                best = suffix
        return None if best is None else self.field_units[best]


@cache
def tables() -> CodeTables:
    """The packaged code tables (read once per process)."""
    return CodeTables()
