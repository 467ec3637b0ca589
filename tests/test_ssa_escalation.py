"""A higher SSA dose is never offered or proposed as a next line when both long-acting
analogues are excluded (check SSA-ESCALATION-NEEDS-AN-SSA)."""

from __future__ import annotations

from netnav.api import recommend
from tests.helpers import advanced_sstr_positive_si_net


def test_escalation_is_offered_after_ssa_failure_when_analogues_are_acceptable() -> None:
    plan = recommend(advanced_sstr_positive_si_net(ssa_failed=True))
    assert "ssa_dose_escalation" in {o["id"] for o in plan["options"]}


def test_no_ssa_escalation_when_every_long_acting_ssa_is_declined() -> None:
    declines = {"declines": ["lanreotide", "octreotide_lar", "octreotide_short_acting"]}
    plan = recommend(advanced_sstr_positive_si_net(ssa_failed=True, preferences=declines))
    assert "ssa_dose_escalation" not in {o["id"] for o in plan["options"]}
    assert "ssa_dose_escalation" not in plan["at_progression"]
    assert "ssa_dose_escalation" in {a["id"] for a in plan["avoid"]}


def test_escalation_still_possible_when_one_analogue_is_acceptable() -> None:
    declines = {"declines": ["octreotide_lar"]}
    plan = recommend(advanced_sstr_positive_si_net(ssa_failed=True, preferences=declines))
    assert "ssa_dose_escalation" not in {a["id"] for a in plan["avoid"]}
