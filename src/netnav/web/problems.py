"""Errors of the HTTP API as RFC 9457 problem details (``application/problem+json``).

Every problem has ``type`` (a URI reference to the page describing it, ``/problems/<slug>``),
``title``, ``status`` and ``detail``. An invalid case adds ``errors``: one entry per problem
found, with the field ``path``, the ``value`` given and what is ``allowed`` — the same
messages as ``netnav validate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from netnav.errors import CaseProblem

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "Problem",
    "ProblemType",
    "problem_response",
    "problems_from_case",
]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem the API answers with (documented at ``/problems/<slug>``)."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


PROBLEM_TYPES: Final[Mapping[str, ProblemType]] = {
    p.slug: p
    for p in (
        ProblemType(
            "malformed-request",
            400,
            "The request body is not valid JSON",
            "The body could not be read as one JSON document (UTF-8). The detail says where "
            "reading stopped.",
        ),
        ProblemType(
            "unauthorized",
            401,
            "A bearer token is required",
            "This server is reachable from the network, so the JSON API answers only requests "
            "with `Authorization: Bearer <token>` naming one of the tokens it was started with "
            "(NETNAV_API_TOKENS).",
        ),
        ProblemType(
            "not-found",
            404,
            "Not found",
            "No saved plan, knowledge entry or page has that id.",
        ),
        ProblemType(
            "body-too-large",
            413,
            "The request body is too large",
            "Request bodies are limited to 1 MB (1,048,576 bytes), the limit of the case format.",
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported media type",
            "Send the case as `application/json` (UTF-8), or a FHIR R4 Bundle as "
            "`application/fhir+json`.",
        ),
        ProblemType(
            "invalid-case",
            422,
            "The case is not valid",
            "The case document does not follow the case format (netnav-case/1). `errors` lists "
            "every problem found: the field path, the value given and what is allowed.",
        ),
        ProblemType(
            "invalid-fhir",
            422,
            "The FHIR Bundle could not be read",
            "The body (`application/fhir+json`) is not a FHIR R4 Bundle netnav can read, or "
            "the case made from it is not valid. `errors` lists every problem: the JSON path in "
            "the Bundle (or the case field, with the FHIR element that gave it), the value and "
            "what is allowed. docs/fhir.md lists the elements read.",
        ),
        ProblemType(
            "invalid-request",
            422,
            "The request is not valid",
            "A parameter of the request is outside what is allowed; `errors` says which.",
        ),
        ProblemType(
            "unknown-option",
            422,
            "Unknown option",
            "The option id is not in the option vocabulary (see docs/options.md).",
        ),
        ProblemType(
            "unavailable",
            503,
            "The plan store is unavailable",
            "The database did not answer; the request was not carried out and nothing was "
            "saved. Try again; if it persists, check the database server.",
        ),
        ProblemType(
            "internal-error",
            500,
            "Internal error",
            "netnav failed unexpectedly. Nothing was saved. The server log holds the request "
            "id, never the case.",
        ),
    )
}


class ProblemField(BaseModel):
    """One problem of a request: where, what, what was given and what is allowed."""

    path: str = Field(description="field path from the document root, e.g. tumor.ki67_percent")
    message: str
    value: Any = Field(default=None, description="the value given (absent when missing)")
    allowed: str = ""
    detail: str = Field(description="the whole message, as the command line prints it")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None


def problems_from_case(problems: Sequence[CaseProblem], prefix: str = "") -> list[ProblemField]:
    """API entries for a :class:`~netnav.errors.CaseError`'s problems (paths under ``prefix``)."""
    out: list[ProblemField] = []
    for p in problems:
        path = f"{prefix}.{p.path}" if prefix and p.path else (p.path or prefix)
        shown = CaseProblem(path, p.message, p.value, p.allowed)
        out.append(
            ProblemField(
                path=path,
                message=p.message,
                value=_json_value(p.value),
                allowed=p.allowed,
                detail=shown.describe(),
            )
        )
    return out


def _json_value(value: object) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        if isinstance(value, float) and value != value:  # NaN has no JSON form
            return "NaN"
        if isinstance(value, float) and value in (float("inf"), float("-inf")):
            return str(value)
        return value
    if isinstance(value, list | tuple | dict):
        return repr(value)[:200]
    return str(value)[:200]


def problem_response(
    slug: str,
    detail: str,
    *,
    errors: Sequence[ProblemField] | None = None,
    headers: Mapping[str, str] | None = None,
    status: int | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response for the problem type ``slug``."""
    kind = PROBLEM_TYPES[slug]
    body = Problem(
        type=kind.uri,
        title=kind.title,
        status=status or kind.status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status or kind.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )
