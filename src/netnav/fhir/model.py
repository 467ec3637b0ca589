"""Shapes of a FHIR import: the case it produced, where each field came from, what was left.

``FhirImport.case`` is a netnav-case/1 document (a plain dict, not yet validated: the caller
reads it with :func:`netnav.case.load.case_from_mapping` like any other case).
``provenance`` maps a case field path (``tumor.ki67_percent``, ``treatments[0].therapy``) to the
FHIR elements that gave it (``Observation/ki67-2023.valueQuantity``). ``unmapped`` lists every
resource or element that was read but not used, with the reason, so nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["REPORT_FORMAT", "FhirImport", "FhirImportError", "Unmapped"]

# The format tag of the import report (CLI --report file, the API's ``fhir_import``).
REPORT_FORMAT = "netnav-fhir-import/1"


@dataclass(frozen=True, slots=True)
class Unmapped:
    """One FHIR resource or element that did not become a case field.

    ``resource``: ``"Observation/abc"`` (type/id; ``"Observation#entry[3]"`` without an id);
    ``element``: the FHIR path inside it (``"Observation.code"``); ``reason``: one sentence for
    a clinician (``"LOINC 2345-7 (glucose) is not a case field"``).
    """

    resource: str
    element: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"resource": self.resource, "element": self.element, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class FhirImport:
    """A case read from FHIR, with its provenance map and the list of what was not used."""

    case: dict[str, Any]
    provenance: dict[str, list[str]] = field(default_factory=dict)
    unmapped: tuple[Unmapped, ...] = ()

    def report(self) -> dict[str, Any]:
        """The import report (JSON-ready):
        ``{"format": "netnav-fhir-import/1", "provenance": {...}, "unmapped": [...]}``."""
        return {
            "format": REPORT_FORMAT,
            "provenance": {path: list(refs) for path, refs in sorted(self.provenance.items())},
            "unmapped": [item.to_json() for item in self.unmapped],
        }


class FhirImportError(ValueError):
    """The document is not something netnav can read as a FHIR R4 Bundle or resource.

    ``path`` is the JSON path of the offending element (``"entry[2].resource.resourceType"``),
    ``value`` what was found, ``allowed`` what would have been accepted. Callers map it to exit
    code 2 (CLI) or a 422 problem (API), like a case error.
    """

    def __init__(self, path: str, value: object, allowed: str, reason: str = "") -> None:
        self.path = path
        self.value = value
        self.allowed = allowed
        self.reason = reason or f"{path}: {value!r} is not allowed; allowed: {allowed}"
        super().__init__(self.reason)
