"""Write a case's guides to a folder: the patient guide or the clinician one-pager, as HTML,
PDF or both.

Everything is rendered in memory first; files are then written through a temporary file in
the same folder and renamed, so an error leaves nothing partial behind and an existing file
is replaced only by a complete one.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from netnav.case.model import Case
from netnav.engine.planner import make_plan
from netnav.errors import GuideError
from netnav.guide.content import PatientGuide, build_patient_guide
from netnav.guide.render import clinician_html, clinician_pdf, html_to_pdf, patient_html
from netnav.guide.settings import Settings
from netnav.guide.texts import available_languages, patient_texts
from netnav.knowledge.load import Knowledge, default_knowledge
from netnav.plan import plan_document

__all__ = ["Audience", "GuideFiles", "OutputFormat", "file_stem", "render_guide", "write_guide"]

Audience = Literal["patient", "clinician"]
OutputFormat = Literal["html", "pdf", "both"]


@dataclass(frozen=True)
class GuideFiles:
    """What :func:`render_guide` produced: file name -> bytes, and the patient guide model."""

    files: dict[str, bytes]
    guide: PatientGuide | None


def file_stem(case: Case, audience: Audience) -> str:
    """``<case id>-guide`` or ``<case id>-clinician``, the id reduced to safe characters."""
    raw = case.id or "case"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_")[:80] or "case"
    return f"{safe}-{'guide' if audience == 'patient' else 'clinician'}"


def render_guide(
    case: Case,
    *,
    audience: Audience = "patient",
    output: OutputFormat = "both",
    language: str = "en",
    settings: Settings | None = None,
    prepared_on: str,
    kb: Knowledge | None = None,
) -> GuideFiles:
    """Render the guide of ``case`` in memory.

    Raises :class:`GuideError` for a language without patient texts.
    """
    knowledge = kb or default_knowledge()
    if language not in available_languages():
        raise GuideError(
            f"language {language!r} is not available; allowed: {', '.join(available_languages())}"
        )
    clinic = (settings or Settings()).clinic
    result = make_plan(case, knowledge)
    plan = plan_document(result, knowledge)
    guide: PatientGuide | None = None
    if audience == "patient":
        guide = build_patient_guide(
            case, result, plan, patient_texts(language, knowledge), clinic, prepared_on
        )
        html = patient_html(guide)
    else:
        html = clinician_html(plan, clinic, prepared_on, case.as_of)
    stem = file_stem(case, audience)
    files: dict[str, bytes] = {}
    if output in ("html", "both"):
        files[f"{stem}.html"] = html.encode("utf-8")
    if output in ("pdf", "both"):
        files[f"{stem}.pdf"] = (
            html_to_pdf(html)
            if audience == "patient"
            else clinician_pdf(plan, clinic, prepared_on, case.as_of)
        )
    return GuideFiles(files, guide)


def write_files(files: dict[str, bytes], out_dir: Path) -> list[Path]:
    """Write ``files`` into ``out_dir`` (created if needed), each atomically.

    Raises :class:`GuideError` when the folder cannot be created or written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GuideError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    if not out_dir.is_dir():
        raise GuideError(f"output path {out_dir} is not a folder")
    written: list[Path] = []
    for name, data in files.items():
        target = out_dir / name
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise GuideError(f"cannot write {target}: {exc.strerror}") from None
        written.append(target)
    return written


def write_guide(
    case: Case,
    out_dir: Path,
    *,
    audience: Audience = "patient",
    output: OutputFormat = "both",
    language: str = "en",
    settings: Settings | None = None,
    prepared_on: str,
    kb: Knowledge | None = None,
) -> list[Path]:
    """Render and write the guide of ``case`` into ``out_dir``; returns the paths written."""
    rendered = render_guide(
        case,
        audience=audience,
        output=output,
        language=language,
        settings=settings,
        prepared_on=prepared_on,
        kb=kb,
    )
    return write_files(rendered.files, out_dir)
