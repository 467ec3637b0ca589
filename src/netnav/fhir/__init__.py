"""FHIR R4 (mCODE) import: a patient's record becomes a netnav-case/1 document.

``import_bundle(bundle, as_of=...)`` reads a Bundle (a JSON mapping) and returns a
:class:`FhirImport` (case, provenance map, unmapped list). The code tables it uses are data in
``fhir/data/*.yaml``; docs/fhir.md lists every FHIR element mapped.
"""

from netnav.fhir.importer import import_bundle
from netnav.fhir.model import FhirImport, FhirImportError, Unmapped

__all__ = ["FhirImport", "FhirImportError", "Unmapped", "import_bundle"]
