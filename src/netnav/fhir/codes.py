"""The code tables of the FHIR import, read from ``fhir/data/*.yaml`` (clinical content is data).

:func:`tables` returns one :class:`CodeTables` (loaded once per process). Every lookup takes a
FHIR ``(system URI, code)`` pair and returns the table entry or ``None``; entries carry the
code's ``display`` so that the report can name what was read. Sources of each list are given
at the top of its YAML file (ICD-10-CM, ICD-O-3.2, SNOMED CT, LOINC, mCODE STU3/STU4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["CodeTables", "ObservationCode", "normal_icd10", "normal_icdo3", "tables"]

# ICD-10 codes as EHRs store them: no dot (C7A012, C787). ICD-O-3 morphology without its slash
# (82403). Both are written back in the classification's own form before any lookup.
_ICD10_NO_DOT = re.compile(r"^([A-Z][0-9][0-9A-Z])([0-9A-Z]{1,4})$")
_ICDO3_NO_SLASH = re.compile(r"^([0-9]{4})([0-9])$")


def normal_icd10(code: str) -> str:
    """An ICD-10(-CM) code in its written form: upper case, the dot after the category
    (``c7a012`` → ``C7A.012``, ``C787`` → ``C78.7``); other text is returned stripped."""
    text = code.strip().upper()
    match = _ICD10_NO_DOT.match(text)
    return f"{match.group(1)}.{match.group(2)}" if match else text


def normal_icdo3(code: str) -> str:
    """An ICD-O-3 morphology code with its behaviour slash (``82403`` → ``8240/3``)."""
    text = code.strip()
    match = _ICDO3_NO_SLASH.match(text)
    return f"{match.group(1)}/{match.group(2)}" if match else text


@dataclass(frozen=True, slots=True)
class ObservationCode:
    """One Observation code of ``observations.yaml``.

    ``kind``: how the value is read (``quantity``, ``times_uln``, ``ordinal``, ``coded``,
    ``ki67``, ``tnm_nodes``, ``tnm_metastases``, ``listed``); ``field``: the case field path it
    fills (``None`` for ``listed``); ``molar_mass_g_mol``: for mass → amount conversions;
    ``answers``: name of the answer list; ``reason``: why a ``listed`` code is not used;
    ``valence``: the charge of the substance's ion (equivalents → moles).
    """

    system: str
    code: str
    display: str
    kind: str
    field: str | None
    molar_mass_g_mol: float | None = None
    answers: str | None = None
    reason: str = ""
    valence: int | None = None


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
        morphology = _load("morphology.yaml")
        self.morphology: dict[str, dict[str, Any]] = morphology["icdo3"]
        self.morphology_snomed: dict[str, dict[str, Any]] = morphology["snomed"]
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
                    valence=entry.get("valence"),
                )
        self.answers: dict[str, dict[tuple[str, str], tuple[Any, str]]] = {}
        for name, items in obs["answers"].items():
            self.answers[name] = {
                (self.systems[item["system"]], str(item["code"])): (item["value"], item["display"])
                for item in items or []
            }
        self.field_units: dict[str, str] = obs["field_units"]
        cancers = _load("cancers.yaml")
        self.tumour_fields: dict[str, str] = dict(cancers["tumour_specific_fields"])
        self.tumour_specific_fields: tuple[str, ...] = tuple(self.tumour_fields)
        self.inactive_statuses: frozenset[str] = frozenset(cancers["inactive_statuses"])
        self.not_competing_ranges: tuple[tuple[str, str, str], ...] = tuple(
            (str(i["range"][0]), str(i["range"][1]), str(i["reason"]))
            for i in cancers["not_competing_icd10"]
        )
        self.not_competing_behaviour: dict[str, str] = {
            str(k): str(v) for k, v in cancers["not_competing_behaviour"].items()
        }
        self.same_organ: dict[str, list[str]] = {
            str(k): list(v) for k, v in cancers["same_organ"].items()
        }
        self.other_cancer_ranges: tuple[tuple[str, str], ...] = tuple(
            (str(r[0]), str(r[1])) for r in cancers["icd10_other_primary_cancer"]
        )
        self.secondary_ranges: tuple[tuple[str, str], ...] = tuple(
            (str(r[0]), str(r[1])) for r in cancers["icd10_secondary"]
        )
        self.net_secondary_prefixes: tuple[str, ...] = tuple(cancers["icd10_net_secondary"])
        self.condition_links: tuple[str, ...] = tuple(
            self.systems[key] for key in cancers["condition_link_extensions"]
        )
        self.field_unit_overrides: dict[str, str] = obs.get("field_unit_overrides") or {}
        self.field_units_only: dict[str, dict[str, Any]] = obs.get("field_units_only") or {}

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
        return self._by_prefix(source, normal_icd10(code))

    @staticmethod
    def _in_ranges(code: str, ranges: tuple[tuple[str, str], ...]) -> bool:
        category = normal_icd10(code)[:3]
        return len(category) == 3 and any(low <= category <= high for low, high in ranges)

    def is_other_cancer_code(self, code: str) -> bool:
        """An ICD-10 code of a primary malignant (or in-situ) neoplasm outside the NET codes
        (cancers.yaml ``icd10_other_primary_cancer``)."""
        return self._in_ranges(code, self.other_cancer_ranges)

    def is_secondary_code(self, code: str) -> bool:
        """An ICD-10 code of a secondary neoplasm (cancers.yaml ``icd10_secondary``)."""
        return self._in_ranges(code, self.secondary_ranges)

    def is_net_secondary_code(self, code: str) -> bool:
        """A secondary-neoplasm code that only a neuroendocrine tumour has (C7B)."""
        text = normal_icd10(code)
        return any(text.startswith(prefix) for prefix in self.net_secondary_prefixes)

    def not_competing_reason(self, code: str) -> str | None:
        """Why a cancer code never competes with the NEN (cancers.yaml
        ``not_competing_icd10``), or ``None``."""
        category = normal_icd10(code)[:3]
        for low, high, reason in self.not_competing_ranges:
            if len(category) == 3 and low <= category <= high:
                return reason
        return None

    def organ_sites(self, code: str) -> list[str]:
        """The NEN primary sites of the organ an ICD-10 code names (cancers.yaml
        ``same_organ``)."""
        hit = self._by_prefix(self.same_organ, normal_icd10(code))
        return [] if hit is None else list(hit[1])

    def field_name(self, path: str) -> str:
        """The plain name of a tumour field (``Ki-67``), else the path."""
        for field, name in self.tumour_fields.items():
            if path == field or path.startswith(field + "."):
                return name
        return path

    def is_tumour_specific(self, path: str) -> bool:
        """A case field that describes one tumour (cancers.yaml ``tumour_specific_fields``)."""
        return any(path == f or path.startswith(f + ".") for f in self.tumour_specific_fields)

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
