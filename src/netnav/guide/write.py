"""Write a case's guides to a folder: the patient guide or the clinician one-pager, as HTML,
PDF or both.

Everything is rendered in memory first; files are then written through a temporary file in
the same folder and renamed, so an error leaves nothing partial behind and an existing file
is replaced only by a complete one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from netnav.atomic import write_files_atomically
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
    """``<case id>-guide`` or ``<case id>-clinician``.

    The id keeps letters of any script, digits, ``-`` and ``_`` (other characters become
    ``_``; at most 80). A case without a usable id is named ``case-<hash of the case>`` so
    that two patients' guides never overwrite each other.
    """
    raw = unicodedata.normalize("NFC", case.id or "")
    safe = re.sub(r"[^\w-]+", "_", raw).strip("_.")[:80]
    if not safe:
        digest = hashlib.sha256(case.model_dump_json().encode("utf-8")).hexdigest()[:10]
        safe = f"case-{digest}"
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
    """Write ``files`` into ``out_dir`` (created if needed): all or none.

    Every file is first written to a temporary file beside its target; only when all are
    written are they renamed into place. On any error the temporary files are removed and
    existing files are left as they were. Raises :class:`GuideError` when the folder cannot
    be created or a file cannot be written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GuideError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    if not out_dir.is_dir():
        raise GuideError(f"output path {out_dir} is not a folder")
    for name in files:
        if (out_dir / name).is_dir():
            raise GuideError(f"cannot write {out_dir / name}: a folder of that name is in the way")
    try:
        return write_files_atomically(files, out_dir)
    except OSError as exc:
        raise GuideError(f"cannot write into {out_dir}: {exc.strerror}") from None


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
