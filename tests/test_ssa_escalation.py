"""A higher SSA dose is never offered or proposed as a next line when both long-acting
analogues are excluded (check SSA-ESCALATION-NEEDS-AN-SSA)."""

from __future__ import annotations

from netnav.api import recommend
from tests.helpers import case_with


def test_no_ssa_escalation_when_every_long_acting_ssa_is_declined() -> None:
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
                "therapy": "lanreotide",
                "start": "2024-01",
                "end": "2025-06",
                "stop_reason": "progression",
            }
        ],
        preferences={"declines": ["lanreotide", "octreotide_lar", "octreotide_short_acting"]},
    )
    plan = recommend(case)
    assert "ssa_dose_escalation" not in {o["id"] for o in plan["options"]}
    assert "ssa_dose_escalation" not in plan["at_progression"]


def test_escalation_still_possible_when_one_analogue_is_acceptable() -> None:
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
                "therapy": "lanreotide",
                "start": "2024-01",
                "end": "2025-06",
                "stop_reason": "progression",
            }
        ],
        preferences={"declines": ["octreotide_lar"]},
    )
    plan = recommend(case)
    assert "ssa_dose_escalation" not in {a["id"] for a in plan["avoid"]}
