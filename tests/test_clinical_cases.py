"""Realistic, mostly incomplete cases a clinician would send (from the adversarial review),
with the safety expectations each one was written to test.

Every case: no option that the brief calls wrong for it (checked by the general invariants),
and the case-specific expectation below. These are regression tests of general rules, not
special cases: each expectation restates a rule of the clinical brief.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netnav.api import recommend
from netnav.case import case_from_mapping

CASES = Path(__file__).parent / "data" / "clinical"


def plan_for(name: str) -> dict[str, Any]:
    doc = json.loads((CASES / f"{name}.json").read_text("utf-8"))
    return recommend(case_from_mapping(doc))


def offered(plan: dict[str, Any]) -> list[str]:
    return [o["id"] for o in plan["options"]]


def avoided(plan: dict[str, Any]) -> list[str]:
    return [a["id"] for a in plan["avoid"]]


ALL = sorted(p.stem for p in CASES.glob("*.json"))
NEVER = {"prrt_lu177_edotreotide", "docetaxel", "deb_tace"}


@pytest.mark.parametrize("name", ALL)
def test_every_clinical_case_plans_without_never_offered_options(name: str) -> None:
    plan = plan_for(name)
    assert not NEVER & set(offered(plan))
    assert not set(offered(plan)) & set(avoided(plan))
    for o in plan["options"]:
        assert o["rationale"] and o["evidence"]


def test_prrt_is_avoided_at_karnofsky_below_60() -> None:
    """G-04: PRRT needs Karnofsky 60 or more (NETTER-1)."""
    plan = plan_for("si14_karnofsky50_prog_on_ssa")
    assert "prrt_lu177_dotatate" in avoided(plan)


def test_karnofsky_70_does_not_make_best_supportive_care_first() -> None:
    """G-05 is for ECOG 3–4; Karnofsky 70 is about ECOG 1."""
    plan = plan_for("si28_karnofsky70_no_ecog_prog_on_ssa")
    assert offered(plan)[0] != "best_supportive_care"
    assert "best_supportive_care" not in offered(plan)


def test_doxorubicin_is_avoided_with_carcinoid_heart_disease() -> None:
    plan = plan_for("pa20_chd_moderate_progressive_stz_dox")
    assert "streptozocin_doxorubicin" in avoided(plan)


def test_worsened_octreotide_test_avoids_every_long_acting_ssa_and_keeps_diazoxide() -> None:
    """INS-01: no long-acting SSA after a worsened test; diazoxide is not 'failed' by tumour
    progression."""
    plan = plan_for("pa04_insulinoma_test_worsened")
    assert {"lanreotide", "octreotide_lar"} <= set(avoided(plan))
    assert "diazoxide" in offered(plan)
    prrt = next(o for o in plan["options"] if o["id"] == "prrt_lu177_dotatate")
    assert any("Insulinoma" in c for c in prrt["cautions"])


def test_proton_pump_inhibitor_continues_in_progressing_gastrinoma() -> None:
    """GAS-01: high-dose PPI, never stopped abruptly, whatever the tumour does."""
    plan = plan_for("pa19_gastrinoma_ppi_ongoing_progressive")
    assert offered(plan)[0] == "proton_pump_inhibitor"


def test_no_chemotherapy_or_targeted_drug_at_ecog_3() -> None:
    plan = plan_for("si10_ecog3_g2")
    assert not {"everolimus", "capecitabine_temozolomide", "folfox"} & set(offered(plan))
    assert offered(plan)[0] == "best_supportive_care"


def test_a_drug_already_given_is_not_reoffered_when_its_outcome_is_unrecorded() -> None:
    plan = plan_for("si07_after_everolimus_no_sstr")
    assert "everolimus" not in offered(plan)
    assert any(m["field"] == "treatments" for m in plan["missing_information"])


def test_ssa_is_kept_for_syndrome_control_after_progression() -> None:
    plan = plan_for("si23_cs_controlled_on_ssa_progressive")
    assert "octreotide_lar" in offered(plan)


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("pa06_nec_ki67_70", "platinum_etoposide"),
        ("pa07_nec_prog_on_ep", "folfiri"),
        ("pa08_minen", "platinum_etoposide"),
        ("pa21_prrt_in_progress_stable", "prrt_lu177_dotatate"),
        ("pa22_incidental_20mm_g1_staged", "active_surveillance"),
        ("si18_uncertain_diff_ki67_40", "specialist_referral"),
    ],
)
def test_rank_one_follows_the_pathway(name: str, first: str) -> None:
    assert offered(plan_for(name))[0] == first


def test_declined_options_are_listed_in_avoid_even_without_a_rule() -> None:
    plan = plan_for("si13_declines_prrt_everolimus")
    assert {"prrt_lu177_dotatate", "everolimus"} <= set(avoided(plan))


def test_pregnancy_is_not_asked_about_at_71() -> None:
    plan = plan_for("pa01_small_nf_reported_g1")
    assert "patient.pregnant_or_breastfeeding" not in [
        m["field"] for m in plan["missing_information"]
    ]


def test_an_operation_already_done_is_not_proposed_again() -> None:
    """A completed right hemicolectomy for a 27 mm appendiceal NET is not re-offered."""
    doc = json.loads(
        (Path(__file__).parent / "data" / "vignettes" / "V40-appendix-large-base.json").read_text()
    )["case"]
    doc["treatments"] = [
        *doc.get("treatments", []),
        {
            "therapy": "surgical_resection",
            "start": "2026-01",
            "end": "2026-01",
            "stop_reason": "completed",
        },
    ]
    plan = recommend(case_from_mapping(doc))
    assert "surgical_resection" not in offered(plan)
