"""FHIR R4 (mCODE) import: a patient's record becomes a netnav-case/1 document.

``import_bundle(bundle, as_of=..., case_id=..., region=..., patient_id=...)`` reads a Bundle (a JSON mapping;
``netnav.fhir.read.parse_fhir_json`` reads the text)
and returns a :class:`FhirImport` (case, provenance map, unmapped list). The code tables it
uses are data in ``fhir/data/*.yaml``; docs/fhir.md lists every FHIR element mapped.

``import_bundle`` is loaded on first use (fhir.resources, pint and the tables are not needed
to start the CLI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netnav.fhir.model import FhirImport, FhirImportError, Unmapped

if TYPE_CHECKING:
    from netnav.fhir.importer import import_bundle

__all__ = ["FhirImport", "FhirImportError", "Unmapped", "import_bundle"]


def __getattr__(name: str) -> Any:
    if name == "import_bundle":
        from netnav.fhir.importer import import_bundle

        return import_bundle
    raise AttributeError(f"module 'netnav.fhir' has no attribute {name!r}")
