"""Derived facts of a case (netnav.case.derive; clinical brief §1.6–§1.7)."""

from __future__ import annotations

from typing import Any

import pytest

from netnav.case.derive import Derived, derive
from tests.helpers import case_with, evaluate, kb, treatment

T = treatment


def derived(**overrides: Any) -> Derived:
    """The derived facts of ``case_with(**overrides)`` with the packaged therapy catalogue."""
    knowledge = kb()
    return derive(case_with(**overrides), knowledge.therapy_classes, knowledge.anti_tumour)


# --- WHO grade (brief §1.6: G1 Ki-67 <3, G2 3–20, G3 >20; mitoses <2, 2–20, >20) ----------


@pytest.mark.parametrize(
    ("ki67", "grade"),
    [(0, "g1"), (2.9, "g1"), (3, "g2"), (10, "g2"), (20, "g2"), (20.1, "g3"), (100, "g3")],
)
def test_ki67_alone_grades_at_the_who_boundaries(ki67: float, grade: str) -> None:
    d = derived(ki67=ki67, differentiation="well")
    assert d.grade.value == grade
    assert grade.upper() in d.grade.how
    assert "mitoses not reported" in d.grade.how


@pytest.mark.parametrize(
    ("mitoses", "grade"),
    [(0, "g1"), (1.9, "g1"), (2, "g2"), (20, "g2"), (21, "g3")],
)
def test_mitoses_grade_at_the_who_boundaries_when_ki67_is_g1(mitoses: float, grade: str) -> None:
    d = derived(ki67=1, mitoses=mitoses, differentiation="well")
    assert d.grade.value == grade


@pytest.mark.parametrize(
    ("ki67", "mitoses", "grade"),
    [
        (2.9, 1.9, "g1"),
        (2.9, 2, "g2"),
        (3, 1.9, "g2"),
        (20, 20, "g2"),
        (20.1, 1, "g3"),
        (1, 21, "g3"),
        (25, 5, "g3"),
    ],
)
def test_grade_is_the_higher_of_the_ki67_and_mitotic_grades(
    ki67: float, mitoses: float, grade: str
) -> None:
    d = derived(ki67=ki67, mitoses=mitoses, differentiation="well")
    assert d.grade.value == grade
    assert "the higher gives" in d.grade.how
    assert f"gives {grade.upper()}" in d.grade.how


@pytest.mark.parametrize("mitoses", [0, 1.9, 2, 20])
def test_mitoses_alone_up_to_20_give_no_grade(mitoses: float) -> None:
    d = derived(mitoses=mitoses, differentiation="well")
    assert d.grade.value is None
    assert "lower bound" in d.grade.how


@pytest.mark.parametrize("mitoses", [20.5, 21, 40])
def test_mitoses_alone_above_20_give_g3(mitoses: float) -> None:
    d = derived(mitoses=mitoses, differentiation="well")
    assert d.grade.value == "g3"
    assert ">20" in d.grade.how


def test_mitoses_alone_with_a_consistent_reported_grade_use_the_report_and_say_so() -> None:
    d = derived(mitoses=5, reported_grade="g2", differentiation="well")
    assert d.grade.value == "g2"
    assert "report" in d.grade.how
    assert "Ki-67 not reported" in d.grade.how


def test_mitoses_alone_ignore_a_reported_grade_below_their_lower_bound() -> None:
    d = derived(mitoses=5, reported_grade="g1", differentiation="well")
    assert d.grade.value is None


def test_without_ki67_or_mitoses_the_reported_grade_is_used_and_the_how_says_so() -> None:
    d = derived(reported_grade="g2", differentiation="well")
    assert d.grade.value == "g2"
    assert "Ki-67 and mitoses not reported" in d.grade.how
    assert "report" in d.grade.how
    assert d.warnings == ()


def test_without_ki67_mitoses_or_reported_grade_the_grade_is_unknown() -> None:
    d = derived(differentiation="well")
    assert d.grade.value is None
    assert "unknown" in d.grade.how


def test_nec_is_g3_by_definition_whatever_the_ki67() -> None:
    d = derived(differentiation="poor", ki67=15)
    assert d.category.value == "nec"
    assert d.grade.value == "g3"
    assert "by definition" in d.grade.how


@pytest.mark.parametrize("histotype", ["typical_carcinoid", "atypical_carcinoid"])
def test_lung_carcinoids_are_not_graded_g1_to_g3(histotype: str) -> None:
    d = derived(site="lung", lung_histotype=histotype, ki67=5, mitoses=1)
    assert d.grade.value is None
    assert "histotype" in d.grade.how
    assert d.category.value == "net"


def test_reported_grade_disagreeing_with_ki67_gives_a_warning_naming_both_grades() -> None:
    d = derived(ki67=12, reported_grade="g1", differentiation="well")
    assert d.grade.value == "g2"
    assert len(d.warnings) == 1
    warning = d.warnings[0]
    assert "G1" in warning
    assert "G2" in warning
    assert "the plan uses G2" in warning


def test_reported_grade_agreeing_with_ki67_gives_no_warning() -> None:
    assert derived(ki67=12, reported_grade="g2", differentiation="well").warnings == ()


# --- category -----------------------------------------------------------------------------


def test_well_differentiated_with_ki67_35_is_a_net_not_a_nec() -> None:
    d = derived(differentiation="well", ki67=35)
    assert d.category.value == "net"
    assert d.grade.value == "g3"
    assert "differentiation decides" in d.category.how


def test_poorly_differentiated_is_a_nec() -> None:
    d = derived(differentiation="poor", ki67=35)
    assert d.category.value == "nec"


def test_mixed_minen_is_its_own_category() -> None:
    assert derived(differentiation="mixed_minen").category.value == "minen"


def test_goblet_cell_adenocarcinoma_is_not_a_net_and_is_not_graded() -> None:
    d = derived(site="appendix", goblet_cell=True, differentiation="well", ki67=2)
    assert d.category.value == "goblet_cell_adenocarcinoma"
    assert d.grade.value is None


def test_absent_differentiation_is_uncertain_with_a_warning() -> None:
    d = derived(ki67=5)
    assert d.category.value == "uncertain"
    assert "not reported" in d.category.how
    assert any("Differentiation is not reported" in w for w in d.warnings)


def test_differentiation_reported_uncertain_is_uncertain_without_the_missing_warning() -> None:
    d = derived(ki67=5, differentiation="uncertain")
    assert d.category.value == "uncertain"
    assert not any("not reported" in w for w in d.warnings)


# --- lung histotype (brief §1.1: TC <2 mitoses and no necrosis; AC 2–10 and/or focal) -----


def test_lung_histotype_reported_is_used_as_given() -> None:
    d = derived(site="lung", lung_histotype="atypical_carcinoid")
    assert d.lung_histotype.value == "atypical_carcinoid"
    assert "reported" in d.lung_histotype.how


def test_lung_under_2_mitoses_without_necrosis_is_a_typical_carcinoid() -> None:
    d = derived(site="lung", mitoses=1, necrosis="none")
    assert d.lung_histotype.value == "typical_carcinoid"
    assert d.category.value == "net"


@pytest.mark.parametrize(
    ("mitoses", "necrosis"), [(2, "none"), (10, "none"), (1, "focal"), (5, "focal")]
)
def test_lung_2_to_10_mitoses_or_focal_necrosis_is_an_atypical_carcinoid(
    mitoses: float, necrosis: str
) -> None:
    d = derived(site="thymus", mitoses=mitoses, necrosis=necrosis)
    assert d.lung_histotype.value == "atypical_carcinoid"


def test_lung_above_10_mitoses_is_a_neuroendocrine_carcinoma() -> None:
    d = derived(site="lung", mitoses=11)
    assert d.lung_histotype.value is None
    assert d.category.value == "nec"
    assert d.grade.value == "g3"


def test_lung_under_2_mitoses_with_necrosis_not_stated_has_no_histotype() -> None:
    d = derived(site="lung", mitoses=1)
    assert d.lung_histotype.value is None
    assert "necrosis not stated" in d.lung_histotype.how


def test_lung_under_2_mitoses_with_extensive_necrosis_does_not_claim_necrosis_unstated() -> None:
    d = derived(site="lung", mitoses=1, necrosis="extensive")
    assert "not stated" not in d.lung_histotype.how


def test_lung_histotype_is_not_derived_for_other_sites() -> None:
    d = derived(mitoses=1, necrosis="none")
    assert d.lung_histotype.value is None
    assert "not a lung or thymic primary" in d.lung_histotype.how


# --- extent (brief §1.7) ----------------------------------------------------------------------


def test_any_distant_metastasis_makes_the_disease_advanced() -> None:
    d = derived(metastases=["liver", "bone"], nodes="n0")
    assert d.extent.value == "advanced"
    assert "liver" in d.extent.how
    assert "bone" in d.extent.how


def test_unresectable_disease_is_advanced_even_without_metastases() -> None:
    assert derived(metastases=[], resectability="unresectable").extent.value == "advanced"


def test_unresectable_disease_is_advanced_even_when_not_staged() -> None:
    assert derived(resectability="unresectable").extent.value == "advanced"


@pytest.mark.parametrize("nodes", ["n1", "n2"])
def test_no_metastases_with_positive_nodes_is_locoregional(nodes: str) -> None:
    d = derived(metastases=[], nodes=nodes)
    assert d.extent.value == "locoregional"
    assert nodes.upper() in d.extent.how


@pytest.mark.parametrize("nodes", ["n0", "nx", None])
def test_no_metastases_without_known_nodal_disease_is_localized(nodes: str | None) -> None:
    assert derived(metastases=[], nodes=nodes).extent.value == "localized"


def test_unstaged_metastases_leave_the_extent_unknown_even_with_positive_nodes() -> None:
    d = derived(nodes="n1")
    assert d.extent.value == "unknown"
    assert "not staged" in d.extent.how


# --- liver-dominant (brief §1.7) ----------------------------------------------------------------


def test_liver_only_metastases_are_liver_dominant_and_liver_only() -> None:
    d = derived(metastases=["liver"])
    assert d.liver_dominant.value is True
    assert d.liver_only.value is True
    assert "assum" not in d.liver_dominant.how


def test_liver_and_distant_nodes_are_liver_dominant_under_a_stated_assumption() -> None:
    d = derived(metastases=["liver", "distant_lymph_nodes"])
    assert d.liver_dominant.value is True
    assert "assumed" in d.liver_dominant.how
    assert d.liver_only.value is False


def test_liver_and_bone_metastases_are_not_liver_dominant() -> None:
    d = derived(metastases=["liver", "bone"])
    assert d.liver_dominant.value is False
    assert "bone" in d.liver_dominant.how


def test_no_liver_metastases_are_not_liver_dominant() -> None:
    assert derived(metastases=["bone"]).liver_dominant.value is False
    assert derived(metastases=[]).liver_dominant.value is False


def test_unstaged_metastases_leave_liver_dominance_unknown() -> None:
    d = derived()
    assert d.liver_dominant.value is None
    assert d.liver_only.value is None


# --- progression (brief §1.7) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("months", "within"), [(0, True), (6, True), (12, True), (12.5, False), (24, False)]
)
def test_progression_within_12_months_includes_12(months: float, within: bool) -> None:
    d = derived(disease_course="progressive", months_observed=months)
    assert d.documented_progression.value is True
    assert d.progression_within_12_months.value is within
    assert ("within" if within else "beyond") in d.progression_within_12_months.how


def test_rapid_progression_is_documented_progression() -> None:
    d = derived(disease_course="rapidly_progressive", months_observed=3)
    assert d.documented_progression.value is True
    assert d.progression_within_12_months.value is True


def test_stable_disease_is_not_progression() -> None:
    d = derived(disease_course="stable", months_observed=6)
    assert d.documented_progression.value is False
    assert d.progression_within_12_months.value is False


def test_progression_without_months_observed_leaves_the_12_month_window_unknown() -> None:
    d = derived(disease_course="progressive")
    assert d.documented_progression.value is True
    assert d.progression_within_12_months.value is None


def test_unknown_disease_course_leaves_both_progression_facts_unknown() -> None:
    d = derived(months_observed=6)
    assert d.documented_progression.value is None
    assert d.progression_within_12_months.value is None


# --- SSTR status -----------------------------------------------------------------------------


def test_sstr_status_without_imaging_is_unknown() -> None:
    d = derived()
    assert d.sstr_status.value == "unknown"
    assert "no somatostatin-receptor imaging" in d.sstr_status.how


@pytest.mark.parametrize("kmax", [0, 1])
def test_strongest_uptake_krenning_1_or_less_is_sstr_negative(kmax: int) -> None:
    d = derived(sstr_imaging={"krenning_max": kmax})
    assert d.sstr_status.value == "negative"


def test_not_all_lesions_positive_is_heterogeneous() -> None:
    d = derived(sstr_imaging={"krenning_max": 4, "all_lesions_positive": False})
    assert d.sstr_status.value == "heterogeneous"


def test_weakest_lesion_krenning_1_is_heterogeneous() -> None:
    d = derived(sstr_imaging={"krenning_min": 1, "krenning_max": 4})
    assert d.sstr_status.value == "heterogeneous"


def test_weakest_lesion_krenning_3_with_all_lesions_positive_is_sstr_positive() -> None:
    d = derived(sstr_imaging={"krenning_min": 3, "krenning_max": 4, "all_lesions_positive": True})
    assert d.sstr_status.value == "positive"
    assert "borderline" not in d.sstr_status.how


def test_weakest_lesion_krenning_2_is_positive_but_borderline() -> None:
    d = derived(sstr_imaging={"krenning_min": 2, "krenning_max": 3, "all_lesions_positive": True})
    assert d.sstr_status.value == "positive"
    assert "borderline" in d.sstr_status.how


def test_all_lesions_positive_without_krenning_scores_is_positive() -> None:
    d = derived(sstr_imaging={"modality": "ga68_dotatate_pet", "all_lesions_positive": True})
    assert d.sstr_status.value == "positive"


def test_imaging_without_per_lesion_uptake_is_unknown() -> None:
    d = derived(sstr_imaging={"modality": "ga68_dotatate_pet"})
    assert d.sstr_status.value == "unknown"
    assert "without per-lesion uptake" in d.sstr_status.how


# --- line of therapy (brief §1.7) ----------------------------------------------------------------

ADVANCED: dict[str, Any] = {"metastases": ["liver"], "differentiation": "well", "ki67": 5}


def line(**overrides: Any) -> int:
    fact = derived(**{**ADVANCED, **overrides}).line_of_therapy
    assert fact.how
    return fact.value


def test_treatment_naive_advanced_disease_is_first_line() -> None:
    assert line(treatments=[], disease_course="stable") == 1


def test_no_treatments_recorded_is_first_line_stated_as_an_assumption() -> None:
    fact = derived(**ADVANCED).line_of_therapy
    assert fact.value == 1
    assert "assumption" in fact.how


def test_ongoing_ssa_with_stable_disease_is_still_first_line() -> None:
    assert line(treatments=[T("octreotide_lar", ongoing=True)], disease_course="stable") == 1


@pytest.mark.parametrize("course", ["progressive", "rapidly_progressive"])
def test_ongoing_ssa_with_progressive_disease_makes_second_line(course: str) -> None:
    assert line(treatments=[T("octreotide_lar", ongoing=True)], disease_course=course) == 2


def test_ended_lanreotide_then_ended_everolimus_makes_third_line() -> None:
    treatments = [
        T("lanreotide", start="2022-01", end="2023-06", stop_reason="progression"),
        T("everolimus", start="2023-07", end="2024-09", stop_reason="progression"),
    ]
    fact = derived(**ADVANCED, treatments=treatments, disease_course="progressive")
    assert fact.line_of_therapy.value == 3
    assert "lanreotide" in fact.line_of_therapy.how
    assert "everolimus" in fact.line_of_therapy.how


def test_switch_to_another_ssa_for_toxicity_continues_the_same_line() -> None:
    treatments = [
        T("octreotide_lar", stop_reason="toxicity"),
        T("lanreotide", stop_reason="progression"),
    ]
    fact = derived(**ADVANCED, treatments=treatments, disease_course="progressive")
    assert fact.line_of_therapy.value == 2
    assert "octreotide_lar → lanreotide" in fact.line_of_therapy.how


def test_ssa_dose_escalation_stays_in_the_ssa_line() -> None:
    treatments = [
        T("octreotide_lar", stop_reason="progression"),
        T("ssa_dose_escalation", stop_reason="progression"),
    ]
    fact = derived(**ADVANCED, treatments=treatments, disease_course="progressive")
    assert fact.line_of_therapy.value == 2
    assert "octreotide_lar → ssa_dose_escalation" in fact.line_of_therapy.how


@pytest.mark.parametrize(
    "treatments",
    [
        [T("octreotide_lar", stop_reason="toxicity"), T("lanreotide", ongoing=True)],
        [T("octreotide_lar", end="2025-01"), T("ssa_dose_escalation", ongoing=True)],
    ],
    ids=["switch-for-toxicity", "dose-escalation"],
)
def test_a_continued_ssa_line_that_is_ongoing_with_stable_disease_is_still_first_line(
    treatments: list[dict[str, Any]],
) -> None:
    assert line(treatments=treatments, disease_course="stable") == 1


def test_a_change_of_class_after_toxicity_counts_as_a_new_line() -> None:
    treatments = [
        T("octreotide_lar", stop_reason="toxicity"),
        T("everolimus", stop_reason="progression"),
    ]
    assert line(treatments=treatments, disease_course="progressive") == 3


def test_surgery_short_acting_octreotide_and_telotristat_are_not_lines() -> None:
    treatments = [
        T("surgical_resection", end="2021-03"),
        T("octreotide_short_acting", end="2021-04"),
        T("telotristat_ethyl", ongoing=True),
    ]
    fact = derived(**ADVANCED, treatments=treatments, disease_course="progressive")
    assert fact.line_of_therapy.value == 1
    assert "no anti-tumour line" in fact.line_of_therapy.how


def test_surgery_between_two_lines_does_not_add_a_line() -> None:
    treatments = [
        T("lanreotide", stop_reason="progression"),
        T("surgical_resection"),
        T("everolimus", stop_reason="progression"),
    ]
    assert line(treatments=treatments, disease_course="progressive") == 3


@pytest.mark.parametrize(
    "overrides", [{"metastases": [], "nodes": "n0"}, {"metastases": [], "nodes": "n1"}]
)
def test_localized_and_locoregional_disease_are_line_1_whatever_the_history(
    overrides: dict[str, Any],
) -> None:
    treatments = [
        T("lanreotide", stop_reason="progression"),
        T("everolimus", stop_reason="progression"),
    ]
    fact = derived(
        differentiation="well",
        ki67=5,
        treatments=treatments,
        disease_course="progressive",
        **overrides,
    ).line_of_therapy
    assert fact.value == 1
    assert "by convention" in fact.how


# --- history sets and the Ki-67 range -------------------------------------------------------------


def test_history_records_failures_ongoing_toxicity_and_months_by_class() -> None:
    treatments = [
        T("octreotide_lar", stop_reason="toxicity"),
        T("prrt_lu177_dotatate", cycles=4, months_to_progression=30),
        T("everolimus", ongoing=True),
    ]
    h = derived(**ADVANCED, treatments=treatments, disease_course="progressive").history
    assert h.recorded
    assert h.given == {"octreotide_lar", "prrt_lu177_dotatate", "everolimus"}
    assert h.failed == {"prrt_lu177_dotatate", "everolimus"}
    assert "prrt" in h.failed_classes
    assert h.ongoing_classes == {"mtor_inhibitor"}
    assert h.stopped_for_toxicity == {"octreotide_lar"}
    assert h.months_to_progression == {"prrt_lu177_dotatate": 30}


def test_no_treatments_gives_an_unrecorded_history() -> None:
    assert derived().history.recorded is False


def test_measured_ki67_is_a_point_range() -> None:
    rng = derived(ki67=12, differentiation="well").ki67
    assert (rng.low, rng.high, rng.source) == (12, 12, "measured")


@pytest.mark.parametrize(
    ("grade", "low", "high", "low_open", "high_open"),
    [("g1", 0, 3, False, True), ("g2", 3, 20, False, False), ("g3", 20, 100, True, False)],
)
def test_reported_grade_alone_bounds_ki67_with_the_who_cut_offs(
    grade: str, low: float, high: float, low_open: bool, high_open: bool
) -> None:
    rng = derived(reported_grade=grade, differentiation="well").ki67
    assert (rng.low, rng.high, rng.low_open, rng.high_open) == (low, high, low_open, high_open)
    assert rng.source == "reported_grade"


def test_unknown_grade_leaves_ki67_unbounded() -> None:
    rng = derived(differentiation="well").ki67
    assert (rng.low, rng.high, rng.source) == (0, 100, "unknown")


def test_mitotic_g3_with_a_matching_report_does_not_bound_an_unmeasured_ki67() -> None:
    case_kwargs = {"mitoses": 25, "reported_grade": "g3", "differentiation": "well"}
    assert derived(**case_kwargs).ki67.source == "unknown"
    verdict = evaluate({"ki67_at_most": {"percent": 20}}, case_with(**case_kwargs))
    assert verdict.outcome.label == "undetermined"


# --- the plan's derived section --------------------------------------------------------------------


def test_plan_section_has_the_fixed_keys_with_value_and_how() -> None:
    section = derived(**ADVANCED).as_plan_section()
    assert list(section) == [
        "grade",
        "category",
        "extent",
        "line_of_therapy",
        "liver_dominant",
        "documented_progression",
        "progression_within_12_months",
        "sstr_status",
    ]
    assert section["grade"] == {
        "value": "g2",
        "how": "Ki-67 5% gives G2 (WHO 2019; mitoses not reported)",
    }
    assert all(isinstance(entry["how"], str) and entry["how"] for entry in section.values())


def test_plan_section_adds_the_lung_histotype_for_thoracic_primaries() -> None:
    section = derived(site="lung", mitoses=1, necrosis="none").as_plan_section()
    assert section["lung_histotype"]["value"] == "typical_carcinoid"
