"""The plan's follow-up schedule fits what is offered: a schedule for particular treatments
(``for_options``) only when one of them is offered or under way."""

from __future__ import annotations

from pathlib import Path

import pytest

from netnav.api import plan_result, recommend
from tests.guide_support import CASE_FILES, load
from tests.helpers import kb


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_treatment_schedule_only_with_that_treatment(path: Path) -> None:
    case = load(path)
    plan = recommend(case)
    if plan["surveillance"] is None:
        return
    schedule = kb().surveillance[plan["surveillance"]["id"]]
    if schedule.for_options:
        current = {o["id"] for o in plan["options"]} | set(
            plan_result(case).derived.history.ongoing
        )
        assert current & set(schedule.for_options), (schedule.id, sorted(current))


def test_declined_prrt_gets_no_prrt_schedule() -> None:
    from tests.helpers import case_with

    case = case_with(
        site="small_intestine",
        ki67=5,
        differentiation="well",
        metastases=["liver"],
        functional_syndrome="none",
        disease_course="progressive",
        sstr_imaging={"modality": "ga68_dotatate_pet", "krenning_min": 3, "krenning_max": 4},
        treatments=[
            {
                "therapy": "octreotide_lar",
                "start": "2024-01",
                "end": "2025-06",
                "stop_reason": "progression",
            }
        ],
        preferences={"declines": ["prrt_lu177_dotatate"]},
    )
    plan = recommend(case)
    assert "prrt_lu177_dotatate" not in {o["id"] for o in plan["options"]}
    assert (plan["surveillance"] or {}).get("id") != "prrt"
