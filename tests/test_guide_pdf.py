"""The printed guide as a person sees it: PDF pages rendered to PNG with pdftoppm, their
count and their text (pdftotext), and the clinician summary on one page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netnav.api import plan_result
from netnav.guide.render import FIT_SCALES
from netnav.guide.write import render_guide
from netnav.plan import plan_document
from tests.guide_support import CASE_FILES, DATE, load
from tests.helpers import kb

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils not installed (make setup installs it)"
)


def _longest(n: int) -> list[Path]:
    """The ``n`` cases with the longest plans: the hardest to fit on paper."""

    def size(path: Path) -> int:
        plan = plan_document(plan_result(load(path), kb()), kb())
        return sum(len(plan[k]) for k in ("options", "avoid", "missing_information", "warnings"))

    return sorted(CASE_FILES, key=lambda p: (-size(p), p.name))[:n]


LONGEST = _longest(6)
SAMPLE = sorted({CASE_FILES[0], CASE_FILES[len(CASE_FILES) // 2], *LONGEST[:3]})


def _pdf(path: Path, audience: str, tmp_path: Path) -> Path:
    r = render_guide(load(path), audience=audience, output="pdf", prepared_on=DATE)  # type: ignore[arg-type]
    ((name, data),) = r.files.items()
    out = tmp_path / name
    out.write_bytes(data)
    return out


def _pages_as_png(pdf: Path, tmp_path: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    return sorted(tmp_path.glob("page*.png"))


def _text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("path", SAMPLE, ids=[p.stem for p in SAMPLE])
def test_patient_pdf_pages_render_and_carry_the_guide(path: Path, tmp_path: Path) -> None:
    pdf = _pdf(path, "patient", tmp_path)
    pages = _pages_as_png(pdf, tmp_path)
    assert 2 <= len(pages) <= 16  # long plans (ten options) take about 13 pages
    for page in pages:
        assert page.stat().st_size > 1000  # a blank page at 40 dpi is smaller
    text = " ".join(_text(pdf).split())
    for heading in (
        "Your guide to your neuroendocrine tumour",
        "Your tumour",
        "Your options",
        "Questions to ask your care team",
    ):
        assert heading in text
    assert "This guide supports your care team" in text
    # The print stylesheet hides the on-screen contents list and numbers the pages.
    assert "Contents" not in text
    assert re.search(rf"\b1 ?/ ?{len(pages)}\b", text)


@pytest.mark.parametrize("path", LONGEST, ids=[p.stem for p in LONGEST])
def test_clinician_summary_prints_on_one_page(path: Path, tmp_path: Path) -> None:
    pdf = _pdf(path, "clinician", tmp_path)
    assert len(_pages_as_png(pdf, tmp_path)) == 1
    text = " ".join(_text(pdf).split())
    plan = plan_document(plan_result(load(path), kb()), kb())
    assert "Tumour-board summary" in text
    for option in plan["options"][:3]:
        assert option["name"][:20] in text


def test_pdf_is_deterministic(tmp_path: Path) -> None:
    path = CASE_FILES[0]
    first = render_guide(load(path), output="both", prepared_on=DATE).files
    second = render_guide(load(path), output="both", prepared_on=DATE).files
    assert first == second


def test_fit_scales_stay_legible() -> None:
    # 7.5 pt at scale 1: the smallest scale keeps type at or above 4.5 pt.
    assert min(FIT_SCALES) * 7.5 >= 4.5
    assert list(FIT_SCALES) == sorted(FIT_SCALES, reverse=True)
