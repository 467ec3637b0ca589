"""Time of a FHIR import (pytest-benchmark; `make bench`). No timing assertions.

(a) import: one mCODE Bundle (examples/fhir, the ileal NET with carcinoid syndrome: 30-odd
    resources) -> case dict, provenance and unmapped list (``netnav.fhir.import_bundle``);
(b) import + validate + plan: the same, then ``case_from_mapping`` and ``recommend``, the
    work of ``POST /v1/plans`` with a Bundle before the database;
(c) CLI process: ``netnav import fhir BUNDLE --out FILE`` as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netnav.api import recommend
from netnav.case.load import case_from_mapping
from netnav.fhir import import_bundle

BUNDLE = (
    Path(__file__).resolve().parents[1]
    / "examples"
    / "fhir"
    / "ileal-net-g2-carcinoid-syndrome-progressing.bundle.json"
)


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(BUNDLE.read_text("utf-8"))
    import_bundle(doc)  # code tables and pint registry loaded once, as in a server
    return doc


@pytest.mark.benchmark(group="fhir")
def test_import_bundle(benchmark: Any, bundle: dict[str, Any]) -> None:
    result = benchmark(import_bundle, bundle)
    assert result.case["tumor"]["primary_site"] == "small_intestine"


@pytest.mark.benchmark(group="fhir")
def test_import_validate_and_plan(benchmark: Any, bundle: dict[str, Any]) -> None:
    def run() -> dict[str, Any]:
        return recommend(case_from_mapping(import_bundle(bundle).case))

    plan = benchmark(run)
    assert plan["options"]


@pytest.mark.benchmark(group="fhir-process")
def test_cli_import_process(benchmark: Any, tmp_path: Path) -> None:
    out = tmp_path / "case.json"
    command = [sys.executable, "-m", "netnav", "import", "fhir", str(BUNDLE), "--out", str(out)]

    def run() -> None:
        subprocess.run(command, check=True, capture_output=True)

    benchmark.pedantic(run, rounds=5, iterations=1)
    assert json.loads(out.read_text("utf-8"))["tumor"]["primary_site"] == "small_intestine"
