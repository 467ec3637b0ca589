"""``netnav import fhir``: a FHIR R4 (mCODE) Bundle → a netnav-case/1 file and an import report.

Exit codes: 0 written; 2 the input is not a FHIR R4 Bundle or resource netnav can read, or the
case it gives is invalid (the message names the JSON path or case path, the value and what is
allowed; nothing is written). fhir.resources and pint are imported inside the command, so the
rest of the CLI starts as fast as before.
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["import_app"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

MAX_BUNDLE_BYTES = 64 * 1024 * 1024

import_app = typer.Typer(
    help="Import a patient's record from another format into a netnav case.",
    no_args_is_help=True,
)


class Region(StrEnum):
    us = "us"
    eu = "eu"
    uk = "uk"
    other = "other"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"netnav: {message}", err=True)
    return typer.Exit(2)


def _read(path: str) -> bytes:
    try:
        if path == "-":
            data: bytes = sys.stdin.buffer.read(MAX_BUNDLE_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(MAX_BUNDLE_BYTES + 1)
    except FileNotFoundError:
        raise _fail(f"bundle file not found: {path!r}") from None
    except IsADirectoryError:
        raise _fail(f"the bundle path is a directory, not a file: {path!r}") from None
    except OSError as exc:
        raise _fail(
            f"cannot read the bundle {path!r}: {exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise _fail(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MB")
    return data


def _decode(data: bytes) -> Any:
    from netnav.fhir.model import FhirImportError
    from netnav.fhir.read import parse_fhir_json

    try:
        return parse_fhir_json(data)
    except FhirImportError as exc:
        raise _fail(f"the bundle cannot be read: {exc.reason}") from None


def _dump(doc: object) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _write(out: Path | None, case_text: str, report: Path | None, report_text: str) -> None:
    """Write the report and the case so that a failure leaves neither half-written."""
    from netnav.atomic import replace_atomically

    def write_case(tmp: Path) -> None:
        tmp.write_text(case_text, encoding="utf-8")
        if report is not None:
            replace_atomically(report, lambda r: r.write_text(report_text, encoding="utf-8"))

    try:
        if out is not None:
            replace_atomically(out, write_case)
        elif report is not None:
            replace_atomically(report, lambda r: r.write_text(report_text, encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"cannot write the output: {exc.strerror or type(exc).__name__}") from None
    if out is None:
        sys.stdout.write(case_text)


@import_app.command("fhir")
def import_fhir(
    bundle: Annotated[
        str,
        typer.Argument(
            help="FHIR R4 Bundle (JSON; mCODE profiles), or - for standard input.",
            metavar="BUNDLE.json",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the case here instead of stdout.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write the import report (provenance and what was not used) here."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Date the case describes (YYYY-MM-DD); default: the Bundle's timestamp, else its newest clinical date.",
        ),
    ] = None,
    region: Annotated[
        Region | None,
        typer.Option("--region", help="Where the patient is treated (setting.region)."),
    ] = None,
    case_id: Annotated[str | None, typer.Option("--id", help="Case id to write (case.id).")] = None,
    patient: Annotated[
        str | None,
        typer.Option(
            "--patient",
            help="Id of the patient the record is about; resources about any other patient are listed, not read.",
        ),
    ] = None,
) -> None:
    """Read a FHIR R4 (mCODE) Bundle as a netnav case, listing where each field came from."""
    import datetime as dt

    as_of_date: dt.date | None = None
    if case_id is not None and not case_id.strip():
        raise _fail("--id: empty; give the case id, or leave --id out")
    if as_of is not None:
        try:
            if not _ISO_DATE.fullmatch(as_of):
                raise ValueError(as_of)  # fromisoformat also takes 20240601 and 2024-W01
            as_of_date = dt.date.fromisoformat(as_of)
        except ValueError:
            raise _fail(f"--as-of: {as_of!r} is not a date; expected YYYY-MM-DD") from None
    doc = _decode(_read(bundle))

    from netnav.case.load import case_from_mapping
    from netnav.errors import CaseError
    from netnav.fhir import FhirImportError, import_bundle

    try:
        result = import_bundle(
            doc,
            as_of=as_of_date,
            case_id=case_id,
            region=region.value if region else None,
            patient_id=patient,
        )
    except FhirImportError as exc:
        raise _fail(f"not a FHIR R4 bundle netnav can read: {exc.reason}") from None
    try:
        case_from_mapping(result.case)
    except CaseError as exc:
        lines = ["the case read from the bundle is invalid (nothing written):"]
        for problem in exc.problems:
            sources = result.provenance.get(problem.path) or result.provenance.get(
                problem.path.split("[", 1)[0], []
            )
            origin = f" (from {', '.join(sources)})" if sources else ""
            lines.append(f"  {problem.describe()}{origin}")
        inferred = result.provenance.get("as_of")
        if inferred and as_of_date is None:
            lines.append(
                f"as_of {result.case.get('as_of')} was taken from {inferred[0]} (no "
                "Bundle.timestamp; give --as-of)"
            )
        if result.unmapped:
            # What was set aside often explains a missing field (a Condition dated after
            # --as-of, an unconfirmed diagnosis, a result about another cancer).
            lines.append(f"items of the record not used ({len(result.unmapped)}):")
            lines += [f"  - {u.resource} ({u.element}): {u.reason}" for u in result.unmapped[:20]]
            if len(result.unmapped) > 20:
                lines.append(f"  … and {len(result.unmapped) - 20} more (see --report)")
        raise _fail("\n".join(lines)) from None
    report_doc = result.report()
    _write(out, _dump(result.case), report, _dump(report_doc))
    _summary(result)


def _summary(result: Any) -> None:
    fields = len(result.provenance)
    where = f" (as of {result.case['as_of']})" if "as_of" in result.case else ""
    typer.echo(f"netnav: {fields} case fields read from FHIR{where}", err=True)
    if result.unmapped:
        typer.echo(f"netnav: {len(result.unmapped)} items not used:", err=True)
        for item in result.unmapped:
            typer.echo(f"  - {item.resource} ({item.element}): {item.reason}", err=True)
