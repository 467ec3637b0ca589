"""A primary already removed with clear margins is not operated on again (check
PRIMARY-ALREADY-RESECTED), while R1/R2 keeps completion surgery open and an unknown margin
holds it back with the margin asked for."""

from __future__ import annotations

import pytest

from netnav.api import recommend
from tests.helpers import case_with

SURGERY = {"surgical_resection", "local_excision", "endoscopic_resection"}


def _plan(site: str, margin: str | None, **extra: object) -> dict[str, object]:
    tumor = {"primary_removed": True, **({"resection_margin": margin} if margin else {})}
    return recommend(
        case_with(
            site=site,
            ki67=2,
            differentiation="well",
            metastases=[],
            nodes="n1",
            tumor=tumor,
            **extra,
        )
    )


@pytest.mark.parametrize("site", ["small_intestine", "pancreas"])
def test_r0_removed_primary_gets_no_second_operation(site: str) -> None:
    # Facts that make the resection rules fire (PA-02 needs > 20 mm, non-functioning, fit).
    plan = _plan(
        site,
        "r0",
        size_mm=30,
        functional_syndrome="none",
        resectability="resectable",
        patient={
            "ecog": 0,
            "age_years": 60,
            "family_history_nen": False,
            "germline_syndrome": "none",
            "fit_for_major_surgery": True,
        },
    )
    offered = {o["id"] for o in plan["options"]}  # type: ignore[index]
    assert not offered & SURGERY
    avoid = {a["id"]: a["reasons"] for a in plan["avoid"]}  # type: ignore[index]
    assert "surgical_resection" in avoid
    assert any("already been removed with clear margins" in r for r in avoid["surgical_resection"])


def test_r1_keeps_completion_surgery_possible() -> None:
    plan = _plan("small_intestine", "r1")
    assert "surgical_resection" not in {a["id"] for a in plan["avoid"]}  # type: ignore[index]


def test_unknown_margin_is_asked_not_assumed() -> None:
    plan = _plan("small_intestine", None)
    assert "surgical_resection" not in {o["id"] for o in plan["options"]}  # type: ignore[index]
    assert "surgical_resection" not in {a["id"] for a in plan["avoid"]}  # type: ignore[index]
    assert "tumor.resection_margin" in {m["field"] for m in plan["missing_information"]}  # type: ignore[index]


def test_appendix_completion_surgery_is_not_affected() -> None:
    # After appendectomy, a right hemicolectomy can still be indicated (AP rules).
    plan = _plan("appendix", "r0")
    assert not any(
        "already been removed with clear margins" in r
        for a in plan["avoid"]  # type: ignore[union-attr]
        for r in a["reasons"]  # type: ignore[index]
    )


def _insulinoma(controlled: bool | None) -> dict[str, object]:
    tumor: dict[str, object] = {
        "primary_removed": True,
        "resection_margin": "r0",
        "functional_syndrome": "insulinoma",
        "size_mm": 14,
    }
    if controlled is not None:
        tumor["syndrome_controlled"] = controlled
    return recommend(
        case_with(
            site="pancreas", ki67=2, differentiation="well", metastases=[], nodes="n0", tumor=tumor
        )
    )


def test_removed_insulinoma_gets_no_diazoxide_when_symptoms_stopped() -> None:
    plan = _insulinoma(True)
    offered = {o["id"] for o in plan["options"]}  # type: ignore[index]
    assert not offered & {
        "diazoxide",
        "eus_radiofrequency_ablation",
        "octreotide_lar",
        "lanreotide",
    }


def test_removed_insulinoma_with_unknown_control_asks_for_it() -> None:
    plan = _insulinoma(None)
    assert "diazoxide" not in {o["id"] for o in plan["options"]}  # type: ignore[index]
    assert "tumor.syndrome_controlled" in {m["field"] for m in plan["missing_information"]}  # type: ignore[index]


def test_persisting_hypoglycaemia_after_removal_keeps_diazoxide_possible() -> None:
    plan = _insulinoma(False)
    assert "diazoxide" not in {a["id"] for a in plan["avoid"]}  # type: ignore[index]
