"""Shared fixtures of the benchmarks (run with `make bench`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netnav.case import Case, parse_case
from netnav.knowledge.load import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parents[1]
VIGNETTE = ROOT / "tests" / "data" / "vignettes" / "V01-si-metastatic-first-line.json"


@pytest.fixture(scope="session")
def medians() -> dict[str, float]:
    """Median seconds of each benchmark run so far, by name (for ratios between them)."""
    return {}


@pytest.fixture(scope="session")
def case_text() -> str:
    """The case document of vignette V01 as JSON text (the inner case, not the wrapper)."""
    doc: dict[str, Any] = json.loads(VIGNETTE.read_text(encoding="utf-8"))
    return json.dumps(doc["case"], indent=2)


@pytest.fixture(scope="session")
def case(case_text: str) -> Case:
    return parse_case(case_text)


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    """A knowledge base loaded once, outside any timing."""
    return load_knowledge()
