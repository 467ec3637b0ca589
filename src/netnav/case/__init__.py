"""The case document (``netnav-case/1``): its models and its loader.

``parse_case`` (JSON text), ``case_from_mapping`` (decoded JSON) and ``load_case_file`` (a file
or ``-`` for stdin) return a :class:`Case` or raise :class:`netnav.errors.CaseError` listing every
problem of the document.
"""

from netnav.case.load import MAX_DOCUMENT_BYTES, case_from_mapping, load_case_file, parse_case
from netnav.case.model import (
    CASE_FORMAT,
    MAX_EXTENSIONS_DEPTH,
    Case,
    Comorbidities,
    Ki67Record,
    Labs,
    Patient,
    Pharmacogenomics,
    Preferences,
    Setting,
    SstrImaging,
    Treatment,
    Tumor,
)

__all__ = [
    "CASE_FORMAT",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXTENSIONS_DEPTH",
    "Case",
    "Comorbidities",
    "Ki67Record",
    "Labs",
    "Patient",
    "Pharmacogenomics",
    "Preferences",
    "Setting",
    "SstrImaging",
    "Treatment",
    "Tumor",
    "case_from_mapping",
    "load_case_file",
    "parse_case",
]
