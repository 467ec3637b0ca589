"""The plan's follow-up schedule fits what is offered: a schedule for particular treatments
(``for_options``) only when one of them is offered or under way."""

from __future__ import annotations

from pathlib import Path

import pytest

from netnav.api import plan_result, recommend
from tests.guide_support import CASE_FILES, load
from tests.helpers import advanced_sstr_positive_si_net, kb


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
    case = advanced_sstr_positive_si_net(
        ssa_failed=True, preferences={"declines": ["prrt_lu177_dotatate"]}
    )
    plan = recommend(case)
    assert "prrt_lu177_dotatate" not in {o["id"] for o in plan["options"]}
    assert (plan["surveillance"] or {}).get("id") != "prrt"
