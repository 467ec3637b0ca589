"""FHIR input for the web application: a Bundle posted to ``POST /v1/plans`` (or loaded into
the case form) becomes a case through :func:`netnav.fhir.import_bundle`.

A refused Bundle or an imported case the case model refuses comes back as problem entries
(path, value, allowed); a case problem also names the FHIR element that gave the field, from
the import's provenance map, so the clinician knows which record entry to correct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netnav.case.load import case_from_mapping
from netnav.case.model import Case
from netnav.errors import CaseError, CaseProblem
from netnav.fhir import FhirImport, FhirImportError, import_bundle

__all__ = ["FhirCase", "FhirInputError", "case_from_fhir", "looks_like_fhir", "read_fhir_json"]


@dataclass(frozen=True)
class FhirCase:
    """A case read from FHIR: the validated case, its JSON document and the import report."""

    case: Case
    document: dict[str, Any]
    imported: FhirImport


class FhirInputError(Exception):
    """The FHIR body cannot become a case.

    ``kind`` is ``"malformed"`` (not JSON), ``"fhir"`` (not a readable Bundle) or ``"case"``
    (the imported case is refused); ``problems`` lists each problem (path, message, value,
    allowed) as the case loader does; ``document`` is the refused case (``case`` only).
    """

    def __init__(
        self,
        kind: str,
        problems: Sequence[CaseProblem],
        document: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.problems = tuple(problems)
        self.document = document
        super().__init__("; ".join(p.describe() for p in self.problems))


def read_fhir_json(body: bytes | str) -> object:
    """The JSON value of a FHIR body, read by :func:`netnav.fhir.read.parse_fhir_json` (UTF-8,
    byte-order mark allowed; duplicate keys, NaN/Infinity and excessive nesting refused).

    Raises :class:`FhirInputError` (``malformed``) when it cannot be read.
    """
    from netnav.fhir.read import parse_fhir_json

    if not body.strip():
        raise FhirInputError("malformed", [CaseProblem("", "the body is empty")])
    start = body.lstrip()[:1]
    if start in (b"<", "<"):
        raise FhirInputError(
            "malformed",
            [
                CaseProblem(
                    "", "this looks like XML; netnav reads FHIR JSON (application/fhir+json)"
                )
            ],
        )
    try:
        return parse_fhir_json(body)
    except FhirImportError as error:
        problem = _import_problem(error)
        if problem.path == "(document)":
            problem = CaseProblem("", problem.message, problem.value, problem.allowed)
        raise FhirInputError("malformed", [problem]) from None


def looks_like_fhir(obj: object) -> bool:
    """True for a JSON object with a ``resourceType`` (a FHIR resource, not a case)."""
    return isinstance(obj, Mapping) and "resourceType" in obj and "format" not in obj


def case_from_fhir(obj: object, *, region: str | None = None) -> FhirCase:
    """Import a Bundle (decoded JSON) and validate the case it gives.

    ``region`` (``us``, ``eu``, ``uk``, ``other``) fills ``setting.region``, which FHIR does
    not carry. Raises :class:`FhirInputError`: ``fhir`` when the Bundle cannot be read,
    ``case`` when the imported case is refused (each problem names its FHIR source).
    """
    if not isinstance(obj, Mapping):
        raise FhirInputError(
            "fhir",
            [
                CaseProblem(
                    "", "not a FHIR resource", type(obj).__name__, "a JSON object (a Bundle)"
                )
            ],
        )
    try:
        imported = import_bundle(obj)
    except FhirImportError as error:
        raise FhirInputError("fhir", [_import_problem(error)]) from None
    document = dict(imported.case)
    if region is not None:
        document["setting"] = {**document.get("setting", {}), "region": region}
    try:
        case = case_from_mapping(document)
    except CaseError as error:
        raise FhirInputError(
            "case", [_with_source(p, imported.provenance) for p in error.problems], document
        ) from None
    return FhirCase(case, document, imported)


def _import_problem(error: FhirImportError) -> CaseProblem:
    """The import error as a problem entry, its message said once (the reason already names
    the path, and often the value and what is allowed)."""
    prefix = f"{error.path}: "
    message = error.reason.removeprefix(prefix)
    if message == f"{error.value!r} is not allowed; allowed: {error.allowed}":
        return CaseProblem(error.path, "not allowed", error.value, error.allowed)
    return CaseProblem(error.path, message)


def _with_source(problem: CaseProblem, provenance: Mapping[str, Sequence[str]]) -> CaseProblem:
    """The problem, its message naming the FHIR element(s) that gave the field."""
    sources = provenance.get(problem.path) or _parent_sources(problem.path, provenance)
    if not sources:
        return problem
    shown = ", ".join(sources[:3]) + (" …" if len(sources) > 3 else "")
    return CaseProblem(
        problem.path, f"{problem.message} (from {shown})", problem.value, problem.allowed
    )


def _parent_sources(path: str, provenance: Mapping[str, Sequence[str]]) -> list[str]:
    # ``treatments[0].end`` has no entry of its own when the whole item came from one resource.
    while "." in path or "[" in path:
        path = path.rsplit(".", 1)[0] if "." in path else path.rsplit("[", 1)[0]
        if path in provenance:
            return list(provenance[path])
    return []
