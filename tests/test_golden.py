"""Every committed golden plan still comes out byte for byte (see tests/golden_plans.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden_plans import case_files, golden_path, plan_text, summarise_change


@pytest.mark.parametrize("case_file", case_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_plan_matches_its_reviewed_golden_copy(case_file: Path) -> None:
    golden = golden_path(case_file)
    assert golden.exists(), f"no golden plan for {case_file.name}: run `make golden` and review"
    now = plan_text(case_file)
    before = golden.read_text("utf-8")
    if now != before:
        pytest.fail(
            f"plan for {case_file.name} changed; review, then `make golden`:\n"
            + summarise_change(before, now)
        )
