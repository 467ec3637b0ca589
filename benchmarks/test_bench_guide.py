"""Writing one patient guide (pytest-benchmark; `make bench`). No timing assertions.

Targets of issue 5 (medians on the development machine): HTML guide ≤ 150 ms, PDF ≤ 1.5 s.
Measured in memory (render_guide), after a first warm-up call that pays the one-off imports
(matplotlib, WeasyPrint) and font loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netnav.case import case_from_mapping
from netnav.guide.write import render_guide

ROOT = Path(__file__).resolve().parents[1]
VIGNETTE = ROOT / "tests" / "data" / "vignettes" / "V01-si-metastatic-first-line.json"


@pytest.fixture(scope="module")
def case() -> Any:
    doc = json.loads(VIGNETTE.read_text(encoding="utf-8"))
    c = case_from_mapping(doc["case"])
    render_guide(c, output="both", prepared_on="2026-11-29")  # warm-up: imports, fonts
    return c


def test_guide_html(benchmark: Any, case: Any) -> None:
    benchmark.extra_info["target_ms"] = 150
    result = benchmark(render_guide, case, output="html", prepared_on="2026-11-29")
    assert result.files


def test_guide_pdf(benchmark: Any, case: Any) -> None:
    benchmark.extra_info["target_ms"] = 1500
    result = benchmark.pedantic(
        render_guide,
        args=(case,),
        kwargs={"output": "pdf", "prepared_on": "2026-11-29"},
        rounds=10,
        iterations=1,
    )
    assert result.files


def test_clinician_pdf(benchmark: Any, case: Any) -> None:
    result = benchmark.pedantic(
        render_guide,
        args=(case,),
        kwargs={"audience": "clinician", "output": "pdf", "prepared_on": "2026-11-29"},
        rounds=10,
        iterations=1,
    )
    assert result.files
