"""Every registered criterion, for each verdict it can return (netnav.engine.criteria).

The table ``ROWS`` holds one row per (criterion, outcome) with the case that produces it;
``test_every_registered_criterion_is_tested`` fails when a criterion is registered without
rows here, so a new criterion cannot ship untested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from netnav.engine.criteria import REGISTRY, CaseContext, CriterionSpecError, compile_criterion
from netnav.engine.verdict import Outcome
from tests.helpers import (
    assert_verdict,
    case_with,
    ctx_for,
    evaluate,
    kb,
    missing_fields,
    treatment,
)

T = treatment

SSTR_POSITIVE = {"krenning_min": 3, "krenning_max": 4, "all_lesions_positive": True}
SSTR_NEGATIVE = {"krenning_min": 0, "krenning_max": 1, "all_lesions_positive": False}
SSTR_MIXED = {"krenning_min": 1, "krenning_max": 4, "all_lesions_positive": False}
ADVANCED: dict[str, Any] = {"differentiation": "well", "ki67": 5, "metastases": ["liver"]}


@dataclass(frozen=True)
class Row:
    """One expected verdict: ``criterion`` with ``params`` on ``case_with(**case)``."""

    criterion: str
    params: dict[str, Any] | None
    case: dict[str, Any]
    expected: str
    missing: tuple[str, ...] = ()
    """For undetermined rows: the case field paths the verdict must name as missing."""
    says: tuple[str, ...] = ()
    """Words the message must contain."""
    label: str = field(default="")

    @property
    def spec(self) -> object:
        return self.criterion if self.params is None else {self.criterion: self.params}

    @property
    def id(self) -> str:
        return f"{self.criterion}-{self.expected}" + (f"-{self.label}" if self.label else "")


CRCL = {"field": "patient.labs.creatinine_clearance_ml_min", "value": 40, "unit": "mL/min"}
BILI = {"field": "patient.labs.bilirubin_x_uln", "value": 3}
SIZE = {"field": "tumor.size_mm", "value": 10, "unit": "mm"}
MESO = {"field": "tumor.mesoappendix_invasion_mm", "value": 3, "unit": "mm"}


def labs(**values: float) -> dict[str, Any]:
    return {"patient": {"labs": values}}


def comorbidities(**values: Any) -> dict[str, Any]:
    return {"patient": {"comorbidities": values}}


ROWS: list[Row] = [
    # --- generic field comparisons ---------------------------------------------------------
    Row(
        "field_at_least",
        CRCL,
        labs(creatinine_clearance_ml_min=40),
        "pass",
        says=("is at least 40 mL/min",),
        label="boundary",
    ),
    Row(
        "field_at_least",
        CRCL,
        labs(creatinine_clearance_ml_min=39.5),
        "fail",
        says=("39.5 mL/min is below 40 mL/min",),
    ),
    Row(
        "field_at_least",
        CRCL,
        labs(egfr_ml_min=60),
        "undetermined",
        ("patient.labs.creatinine_clearance_ml_min",),
    ),
    Row(
        "field_at_least",
        CRCL,
        {},
        "undetermined",
        ("patient.labs.creatinine_clearance_ml_min",),
        label="no-patient",
    ),
    Row(
        "field_at_most",
        BILI,
        labs(bilirubin_x_uln=3),
        "pass",
        says=("is at most 3",),
        label="boundary",
    ),
    Row("field_at_most", BILI, labs(bilirubin_x_uln=3.1), "fail", says=("3.1 is above 3",)),
    Row("field_at_most", BILI, {}, "undetermined", ("patient.labs.bilirubin_x_uln",)),
    Row("field_below", SIZE, {"size_mm": 9.9}, "pass", says=("9.9 mm is below 10 mm",)),
    Row(
        "field_below",
        SIZE,
        {"size_mm": 10},
        "fail",
        says=("10 mm is at least 10 mm",),
        label="boundary",
    ),
    Row("field_below", SIZE, {}, "undetermined", ("tumor.size_mm",)),
    Row(
        "field_above",
        MESO,
        {"site": "appendix", "tumor": {"mesoappendix_invasion_mm": 3.5}},
        "pass",
        says=("is above 3 mm",),
    ),
    Row(
        "field_above",
        MESO,
        {"site": "appendix", "tumor": {"mesoappendix_invasion_mm": 3}},
        "fail",
        says=("3 mm is at most 3 mm",),
        label="boundary",
    ),
    Row(
        "field_above",
        MESO,
        {"site": "appendix"},
        "undetermined",
        ("tumor.mesoappendix_invasion_mm",),
    ),
    Row(
        "field_in",
        {"field": "tumor.fdg_pet", "values": ["positive_sstr_negative_lesions"]},
        {"tumor": {"fdg_pet": "positive_sstr_negative_lesions"}},
        "pass",
    ),
    Row(
        "field_in",
        {"field": "tumor.fdg_pet", "values": ["positive_sstr_negative_lesions"]},
        {"tumor": {"fdg_pet": "negative"}},
        "fail",
        says=("negative, not positive sstr negative lesions",),
    ),
    Row(
        "field_in",
        {"field": "tumor.fdg_pet", "values": ["positive_sstr_negative_lesions"]},
        {},
        "undetermined",
        ("tumor.fdg_pet",),
    ),
    Row(
        "field_in",
        {"field": "patient.ecog", "values": [0, 1]},
        {"patient": {"ecog": 1}},
        "pass",
        label="integer",
    ),
    Row(
        "field_in",
        {"field": "patient.ecog", "values": [0, 1]},
        {"patient": {"ecog": 2}},
        "fail",
        label="integer",
    ),
    Row(
        "field_true",
        {"field": "tumor.bulky_or_symptomatic"},
        {"bulky_or_symptomatic": True},
        "pass",
        says=("yes",),
    ),
    Row(
        "field_true",
        {"field": "tumor.bulky_or_symptomatic"},
        {"bulky_or_symptomatic": False},
        "fail",
        says=("no",),
    ),
    Row(
        "field_true",
        {"field": "tumor.bulky_or_symptomatic"},
        {},
        "undetermined",
        ("tumor.bulky_or_symptomatic",),
    ),
    Row(
        "field_true",
        {"field": "patient.comorbidities.biliary_enteric_anastomosis"},
        {"patient": {"age_years": 60}},
        "undetermined",
        ("patient.comorbidities.biliary_enteric_anastomosis",),
        label="no-comorbidities",
    ),
    Row(
        "field_known",
        {"field": "tumor.ki67_percent"},
        {"ki67": 0},
        "pass",
        says=("recorded",),
        label="zero-is-known",
    ),
    Row(
        "field_known", {"field": "tumor.ki67_percent"}, {}, "undetermined", ("tumor.ki67_percent",)
    ),
    Row(
        "field_known",
        {"field": "tumor.metastases"},
        {"metastases": []},
        "pass",
        label="empty-list-is-known",
    ),
    Row(
        "field_absent_or_in",
        {"field": "patient.germline_syndrome", "values": ["untested"]},
        {},
        "pass",
        says=("not recorded",),
        label="absent",
    ),
    Row(
        "field_absent_or_in",
        {"field": "patient.germline_syndrome", "values": ["untested"]},
        {"patient": {"germline_syndrome": "untested"}},
        "pass",
        label="listed",
    ),
    Row(
        "field_absent_or_in",
        {"field": "patient.germline_syndrome", "values": ["untested"]},
        {"patient": {"germline_syndrome": "men1"}},
        "fail",
    ),
    # --- treatment history ---------------------------------------------------------------------
    Row(
        "line_of_therapy_at_least",
        {"line": 2},
        {
            **ADVANCED,
            "treatments": [T("octreotide_lar", ongoing=True)],
            "disease_course": "progressive",
        },
        "pass",
        says=("line 2",),
    ),
    Row(
        "line_of_therapy_at_least",
        {"line": 2},
        {**ADVANCED, "treatments": [], "disease_course": "stable"},
        "fail",
        says=("line 1",),
    ),
    Row(
        "line_of_therapy_at_least",
        {"line": 2},
        ADVANCED,
        "fail",
        says=("assumption",),
        label="no-history",
    ),
    Row(
        "first_line",
        None,
        {**ADVANCED, "treatments": [T("lanreotide", ongoing=True)], "disease_course": "stable"},
        "pass",
        says=("first line",),
    ),
    Row(
        "first_line",
        None,
        {
            **ADVANCED,
            "treatments": [T("lanreotide", stop_reason="progression")],
            "disease_course": "progressive",
        },
        "fail",
        says=("line 2",),
    ),
    Row(
        "progressed_on_class",
        {"classes": ["ssa"]},
        {**ADVANCED, "treatments": [T("lanreotide", stop_reason="progression")]},
        "pass",
        says=("progressed on ssa", "lanreotide"),
    ),
    Row(
        "progressed_on_class",
        {"classes": ["ssa"]},
        {
            **ADVANCED,
            "treatments": [T("lanreotide", ongoing=True)],
            "disease_course": "progressive",
        },
        "pass",
        label="ongoing-while-progressive",
    ),
    Row(
        "progressed_on_class",
        {"classes": ["ssa"]},
        {**ADVANCED, "treatments": [T("lanreotide", ongoing=True)], "disease_course": "stable"},
        "fail",
        says=("no progression recorded",),
    ),
    Row(
        "progressed_on_class",
        {"classes": ["ssa"]},
        ADVANCED,
        "fail",
        says=("no treatments recorded",),
        label="no-history",
    ),
    Row(
        "given_class",
        {"classes": ["prrt", "mtor_inhibitor"]},
        {**ADVANCED, "treatments": [T("everolimus", stop_reason="toxicity")]},
        "pass",
        says=("already given",),
    ),
    Row(
        "given_class",
        {"classes": ["prrt", "mtor_inhibitor"]},
        {**ADVANCED, "treatments": [T("lanreotide")]},
        "fail",
        says=("no prrt, mtor inhibitor given",),
    ),
    Row(
        "on_class_now",
        {"classes": ["ssa"]},
        {**ADVANCED, "treatments": [T("octreotide_lar", ongoing=True)]},
        "pass",
        says=("currently on ssa",),
    ),
    Row(
        "on_class_now",
        {"classes": ["ssa"]},
        {**ADVANCED, "treatments": [T("octreotide_lar", ongoing=False)]},
        "fail",
        says=("not currently on ssa",),
    ),
    Row(
        "prior_benefit_at_least",
        {"classes": ["prrt"], "months": 18},
        {**ADVANCED, "treatments": [T("prrt_lu177_dotatate", months_to_progression=30)]},
        "pass",
        says=("30 months",),
    ),
    Row(
        "prior_benefit_at_least",
        {"classes": ["prrt"], "months": 18},
        {**ADVANCED, "treatments": [T("prrt_lu177_dotatate", months_to_progression=18)]},
        "pass",
        label="boundary",
    ),
    Row(
        "prior_benefit_at_least",
        {"classes": ["prrt"], "months": 18},
        {**ADVANCED, "treatments": [T("prrt_lu177_dotatate", months_to_progression=12)]},
        "fail",
        says=("only 12 months",),
    ),
    Row(
        "prior_benefit_at_least",
        {"classes": ["prrt"], "months": 18},
        {**ADVANCED, "treatments": [T("lanreotide")]},
        "fail",
        says=("no earlier prrt",),
        label="never-given",
    ),
    Row(
        "prior_benefit_at_least",
        {"classes": ["prrt"], "months": 18},
        {**ADVANCED, "treatments": [T("prrt_lu177_dotatate", cycles=4, stop_reason="completed")]},
        "undetermined",
        ("treatments",),
    ),
    Row(
        "on_therapy_now",
        {"options": ["octreotide_lar", "lanreotide"]},
        {**ADVANCED, "treatments": [T("lanreotide", ongoing=True)]},
        "pass",
        says=("currently on lanreotide",),
    ),
    Row(
        "on_therapy_now",
        {"options": ["octreotide_lar", "lanreotide"]},
        {**ADVANCED, "treatments": [T("lanreotide", end="2024-01")]},
        "fail",
        says=("not currently on",),
    ),
    # --- patient and setting ---------------------------------------------------------------------
    Row(
        "performance_status_at_most",
        {"ecog": 1},
        {"patient": {"ecog": 1}},
        "pass",
        says=("ECOG 1",),
        label="boundary",
    ),
    Row(
        "performance_status_at_most",
        {"ecog": 1},
        {"patient": {"ecog": 2}},
        "fail",
        says=("ECOG 2",),
    ),
    Row(
        "performance_status_at_most",
        {"ecog": 1},
        {"patient": {"karnofsky": 80}},
        "warn",
        says=("Karnofsky 80", "converted"),
    ),
    Row(
        "performance_status_at_most",
        {"ecog": 1},
        {"patient": {"karnofsky": 60}},
        "fail",
        says=("Karnofsky 60",),
        label="karnofsky",
    ),
    Row("performance_status_at_most", {"ecog": 1}, {}, "undetermined", ("patient.ecog",)),
    Row("region_in", {"regions": ["us"]}, {"region": "us"}, "pass", says=("US",)),
    Row("region_in", {"regions": ["us"]}, {"region": "eu"}, "fail", says=("EU",)),
    Row("region_in", {"regions": ["us"]}, {}, "undetermined", ("setting.region",)),
    Row(
        "option_not_excluded",
        {"option": "prrt_lu177_dotatate"},
        {**ADVANCED, "sstr_imaging": SSTR_POSITIVE},
        "pass",
        says=("no exclusion",),
    ),
    Row(
        "option_not_excluded",
        {"option": "prrt_lu177_dotatate"},
        {
            **ADVANCED,
            "sstr_imaging": SSTR_POSITIVE,
            "preferences": {"declines": ["prrt_lu177_dotatate"]},
        },
        "fail",
        says=("declines",),
    ),
    Row(
        "option_not_excluded",
        {"option": "prrt_lu177_dotatate"},
        {**ADVANCED, "sstr_imaging": SSTR_NEGATIVE},
        "fail",
        label="sstr-negative",
    ),
    Row(
        "option_not_excluded",
        {"option": "prrt_lu177_dotatate"},
        ADVANCED,
        "undetermined",
        ("tumor.sstr_imaging",),
    ),
    Row("never", {"because": "approved in no region"}, {}, "fail", says=("approved in no region",)),
    Row(
        "needs_review",
        {"because": "check the stent status"},
        {},
        "warn",
        says=("check the stent status",),
    ),
    Row(
        "heart_failure_class_at_least",
        {"nyha": 3},
        comorbidities(heart_failure_nyha=3),
        "pass",
        says=("NYHA III",),
        label="boundary",
    ),
    Row(
        "heart_failure_class_at_least",
        {"nyha": 3},
        comorbidities(heart_failure_nyha=2),
        "fail",
        says=("NYHA II",),
    ),
    Row(
        "heart_failure_class_at_least",
        {"nyha": 3},
        comorbidities(heart_failure_nyha=0),
        "fail",
        says=("no heart failure",),
        label="none",
    ),
    Row(
        "heart_failure_class_at_least",
        {"nyha": 3},
        comorbidities(heart_failure=False),
        "fail",
        says=("no heart failure",),
        label="flag",
    ),
    Row(
        "heart_failure_class_at_least",
        {"nyha": 3},
        comorbidities(heart_failure=True),
        "warn",
        says=("class not recorded",),
    ),
    Row(
        "heart_failure_class_at_least",
        {"nyha": 3},
        {},
        "undetermined",
        ("patient.comorbidities.heart_failure_nyha",),
    ),
    Row(
        "pregnancy_excluded",
        {"not_applicable_from_age": 55},
        {"patient": {"pregnant_or_breastfeeding": False, "sex": "female"}},
        "pass",
        says=("not pregnant",),
    ),
    Row(
        "pregnancy_excluded",
        {"not_applicable_from_age": 55},
        {"patient": {"sex": "male"}},
        "pass",
        says=("male patient",),
        label="male-unrecorded",
    ),
    Row(
        "pregnancy_excluded",
        {"not_applicable_from_age": 55},
        {"patient": {"pregnant_or_breastfeeding": True, "sex": "male"}},
        "fail",
        says=("pregnant or breast-feeding",),
        label="recorded-wins",
    ),
    Row(
        "pregnancy_excluded",
        {"not_applicable_from_age": 55},
        {"patient": {"pregnant_or_breastfeeding": True}},
        "fail",
        says=("pregnant or breast-feeding",),
    ),
    Row(
        "pregnancy_excluded",
        {"not_applicable_from_age": 55},
        {"patient": {"sex": "female"}},
        "undetermined",
        ("patient.pregnant_or_breastfeeding",),
    ),
    Row(
        "lung_histotype_in",
        {"histotypes": ["typical_carcinoid"]},
        {"site": "lung", "tumor": {"lung_histotype": "typical_carcinoid"}},
        "pass",
        says=("typical carcinoid",),
    ),
    Row(
        "lung_histotype_in",
        {"histotypes": ["typical_carcinoid"]},
        {"site": "lung", "mitoses": 4, "tumor": {"necrosis": "none"}},
        "fail",
        says=("atypical carcinoid",),
        label="derived-from-mitoses",
    ),
    Row(
        "lung_histotype_in",
        {"histotypes": ["typical_carcinoid"]},
        {"site": "lung"},
        "undetermined",
        ("tumor.lung_histotype",),
    ),
    Row(
        "given_therapy",
        {"options": ["surgical_resection"]},
        {"treatments": [{"therapy": "surgical_resection", "stop_reason": "completed"}]},
        "pass",
        says=("already given",),
    ),
    Row(
        "given_therapy",
        {"options": ["surgical_resection"]},
        {"treatments": [{"therapy": "appendectomy", "stop_reason": "completed"}]},
        "fail",
        says=("not given",),
    ),
    # --- tumour: site, category, grade -------------------------------------------------------------
    Row(
        "primary_site_in",
        {"sites": ["pancreas", "duodenum"]},
        {"site": "pancreas"},
        "pass",
        says=("pancreas",),
    ),
    Row(
        "primary_site_in",
        {"sites": ["pancreas", "duodenum"]},
        {},
        "fail",
        says=("small intestine",),
    ),
    Row("category_in", {"categories": ["net"]}, {"differentiation": "well"}, "pass", says=("NET",)),
    Row("category_in", {"categories": ["net"]}, {"differentiation": "poor"}, "fail", says=("NEC",)),
    Row("category_in", {"categories": ["net"]}, {}, "undetermined", ("tumor.differentiation",)),
    Row(
        "grade_in",
        {"grades": ["g1", "g2"]},
        {"ki67": 5, "differentiation": "well"},
        "pass",
        says=("G2",),
    ),
    Row(
        "grade_in",
        {"grades": ["g1", "g2"]},
        {"reported_grade": "g2", "differentiation": "well"},
        "warn",
        says=("taken from the report",),
    ),
    Row(
        "grade_in",
        {"grades": ["g1", "g2"]},
        {"ki67": 25, "differentiation": "well"},
        "fail",
        says=("G3", "not G1/G2"),
    ),
    Row(
        "grade_in",
        {"grades": ["g1", "g2"]},
        {"differentiation": "well"},
        "undetermined",
        ("tumor.ki67_percent",),
    ),
    Row(
        "grade_in",
        {"grades": ["g1", "g2"]},
        {"mitoses": 5, "differentiation": "well"},
        "undetermined",
        ("tumor.ki67_percent",),
        label="mitoses-lower-bound",
    ),
    # --- Ki-67 (measured; the reported-grade ranges are tested below) ------------------------------
    Row(
        "ki67_at_most",
        {"percent": 10},
        {"ki67": 10},
        "pass",
        says=("Ki-67 10% is at most 10%",),
        label="boundary",
    ),
    Row("ki67_at_most", {"percent": 10}, {"ki67": 10.5}, "fail", says=("is not at most 10%",)),
    Row(
        "ki67_at_most",
        {"percent": 10},
        {"reported_grade": "g1", "differentiation": "well"},
        "warn",
        says=("G1", "assumption"),
    ),
    Row("ki67_at_most", {"percent": 10}, {}, "undetermined", ("tumor.ki67_percent",)),
    Row(
        "ki67_at_least",
        {"percent": 10},
        {"ki67": 10},
        "pass",
        says=("Ki-67 10% is at least 10%",),
        label="boundary",
    ),
    Row("ki67_at_least", {"percent": 10}, {"ki67": 9.5}, "fail"),
    Row(
        "ki67_at_least",
        {"percent": 10},
        {"reported_grade": "g3", "differentiation": "well"},
        "warn",
        says=("G3",),
    ),
    Row("ki67_at_least", {"percent": 10}, {}, "undetermined", ("tumor.ki67_percent",)),
    Row("ki67_below", {"percent": 10}, {"ki67": 9.9}, "pass"),
    Row(
        "ki67_below",
        {"percent": 10},
        {"ki67": 10},
        "fail",
        says=("is not below 10%",),
        label="boundary",
    ),
    Row("ki67_below", {"percent": 10}, {"reported_grade": "g1", "differentiation": "well"}, "warn"),
    Row("ki67_below", {"percent": 10}, {}, "undetermined", ("tumor.ki67_percent",)),
    Row("ki67_above", {"percent": 10}, {"ki67": 10.1}, "pass"),
    Row(
        "ki67_above",
        {"percent": 10},
        {"ki67": 10},
        "fail",
        says=("is not above 10%",),
        label="boundary",
    ),
    Row("ki67_above", {"percent": 20}, {"reported_grade": "g3", "differentiation": "well"}, "warn"),
    Row("ki67_above", {"percent": 10}, {}, "undetermined", ("tumor.ki67_percent",)),
    # --- extent and metastases ----------------------------------------------------------------------
    Row(
        "extent_in", {"extents": ["advanced"]}, {"metastases": ["bone"]}, "pass", says=("advanced",)
    ),
    Row(
        "extent_in",
        {"extents": ["advanced"]},
        {"metastases": [], "nodes": "n1"},
        "fail",
        says=("locoregional",),
    ),
    Row(
        "extent_in",
        {"extents": ["advanced"]},
        {"nodes": "n1"},
        "undetermined",
        ("tumor.metastases",),
    ),
    Row("liver_dominant", None, {"metastases": ["liver"]}, "pass", says=("liver-only",)),
    Row(
        "liver_dominant",
        None,
        {"metastases": ["liver", "distant_lymph_nodes"]},
        "warn",
        says=("assumed",),
    ),
    Row("liver_dominant", None, {"metastases": ["liver", "bone"]}, "fail", says=("bone",)),
    Row("liver_dominant", None, {}, "undetermined", ("tumor.metastases",)),
    Row("liver_only", None, {"metastases": ["liver"]}, "pass"),
    Row("liver_only", None, {"metastases": ["liver", "distant_lymph_nodes"]}, "fail"),
    Row("liver_only", None, {}, "undetermined", ("tumor.metastases",)),
    Row(
        "metastases_include",
        {"sites": ["bone", "brain"]},
        {"metastases": ["liver", "bone"]},
        "pass",
        says=("bone",),
    ),
    Row(
        "metastases_include",
        {"sites": ["bone", "brain"]},
        {"metastases": ["liver"]},
        "fail",
        says=("no metastases in bone, brain",),
    ),
    Row(
        "metastases_include",
        {"sites": ["bone", "brain"]},
        {"metastases": []},
        "fail",
        label="staged-none",
    ),
    Row(
        "metastases_include",
        {"sites": ["bone", "brain"]},
        {},
        "undetermined",
        ("tumor.metastases",),
    ),
    # --- somatostatin receptors ---------------------------------------------------------------------
    Row("sstr_positive", None, {"sstr_imaging": SSTR_POSITIVE}, "pass"),
    Row("sstr_positive", None, {"sstr_imaging": SSTR_MIXED}, "fail", says=("not SSTR positive",)),
    Row("sstr_positive", None, {}, "undetermined", ("tumor.sstr_imaging",)),
    Row(
        "sstr_positive",
        None,
        {"sstr_imaging": {"modality": "ga68_dotatate_pet"}},
        "undetermined",
        ("tumor.sstr_imaging",),
        label="no-uptake-scores",
    ),
    Row("sstr_negative", None, {"sstr_imaging": SSTR_NEGATIVE}, "pass"),
    Row("sstr_negative", None, {"sstr_imaging": SSTR_POSITIVE}, "fail"),
    Row("sstr_negative", None, {}, "undetermined", ("tumor.sstr_imaging",)),
    Row("sstr_heterogeneous", None, {"sstr_imaging": SSTR_MIXED}, "pass"),
    Row("sstr_heterogeneous", None, {"sstr_imaging": SSTR_NEGATIVE}, "fail"),
    Row("sstr_heterogeneous", None, {}, "undetermined", ("tumor.sstr_imaging",)),
    # --- tempo --------------------------------------------------------------------------------------
    Row("documented_progression", None, {"disease_course": "progressive"}, "pass"),
    Row(
        "documented_progression",
        None,
        {"disease_course": "rapidly_progressive"},
        "pass",
        label="rapid",
    ),
    Row("documented_progression", None, {"disease_course": "stable"}, "fail"),
    Row("documented_progression", None, {}, "undetermined", ("tumor.disease_course",)),
    Row("rapid_progression", None, {"disease_course": "rapidly_progressive"}, "pass"),
    Row("rapid_progression", None, {"disease_course": "progressive"}, "fail", says=("not rapid",)),
    Row("rapid_progression", None, {}, "undetermined", ("tumor.disease_course",)),
    Row("stable_disease", None, {"disease_course": "stable"}, "pass"),
    Row(
        "stable_disease",
        None,
        {"disease_course": "rapidly_progressive"},
        "fail",
        says=("rapidly progressive",),
    ),
    Row("stable_disease", None, {}, "undetermined", ("tumor.disease_course",)),
    # --- syndrome and symptoms -----------------------------------------------------------------------
    Row(
        "functional_syndrome_in",
        {"syndromes": ["carcinoid_syndrome"]},
        {"functional_syndrome": "carcinoid_syndrome"},
        "pass",
        says=("carcinoid syndrome",),
    ),
    Row(
        "functional_syndrome_in",
        {"syndromes": ["carcinoid_syndrome"]},
        {"functional_syndrome": "none"},
        "fail",
        says=("no hormone syndrome",),
    ),
    Row(
        "functional_syndrome_in",
        {"syndromes": ["carcinoid_syndrome"]},
        {},
        "undetermined",
        ("tumor.functional_syndrome",),
    ),
    Row(
        "symptoms_include",
        {"symptoms": ["bone_pain"]},
        {"symptoms": ["flushing", "bone_pain"]},
        "pass",
        says=("bone pain",),
    ),
    Row(
        "symptoms_include",
        {"symptoms": ["bone_pain"]},
        {"symptoms": ["flushing"]},
        "fail",
        says=("none of: bone pain",),
    ),
    Row(
        "symptoms_include",
        {"symptoms": ["bone_pain"]},
        {"symptoms": []},
        "fail",
        label="none-listed",
    ),
    Row("symptoms_include", {"symptoms": ["bone_pain"]}, {}, "undetermined", ("tumor.symptoms",)),
    Row("asymptomatic", None, {"symptoms": [], "bulky_or_symptomatic": False}, "pass"),
    Row(
        "asymptomatic",
        None,
        {"symptoms": ["diarrhea"], "bulky_or_symptomatic": False},
        "fail",
        says=("diarrhea",),
    ),
    Row(
        "asymptomatic",
        None,
        {"symptoms": [], "bulky_or_symptomatic": True},
        "fail",
        says=("bulky",),
        label="bulky",
    ),
    Row(
        "asymptomatic",
        None,
        {"symptoms": []},
        "pass",
        says=("no symptoms recorded",),
        label="empty-symptoms-bulk-unknown",
    ),
    Row(
        "asymptomatic",
        None,
        {"bulky_or_symptomatic": False},
        "undetermined",
        ("tumor.symptoms",),
        label="symptoms-unknown",
    ),
    Row(
        "asymptomatic",
        None,
        {},
        "undetermined",
        ("tumor.symptoms", "tumor.bulky_or_symptomatic"),
        label="nothing-recorded",
    ),
]

TESTED_CRITERIA: set[str] = {row.criterion for row in ROWS}
"""Criteria with rows in this file (the completeness test compares it with REGISTRY)."""

# Outcomes a criterion can return when it cannot both pass and fail: ``never`` only fails,
# ``needs_review`` only warns, ``field_known`` passes or is undetermined (it never fails).
ONLY_OUTCOMES: dict[str, set[str]] = {
    "never": {"fail"},
    "needs_review": {"warn"},
    "field_known": {"pass", "undetermined"},
}


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_criterion_returns_the_expected_verdict(row: Row) -> None:
    verdict = evaluate(row.spec, case_with(**row.case))
    assert_verdict(row.expected, verdict)
    assert verdict.criterion.startswith(row.criterion)
    for words in row.says:
        assert words in verdict.message, f"{words!r} not in {verdict.message!r}"
    if row.expected == "undetermined":
        assert row.missing, "an undetermined row must name the missing field"
        assert missing_fields(verdict) == set(row.missing)
        tests = kb().fact_tests
        for fact in verdict.all_missing():
            assert fact.test == tests.get(fact.field), fact
    else:
        assert verdict.all_missing() == ()


def test_every_registered_criterion_is_tested() -> None:
    assert set(REGISTRY) - TESTED_CRITERIA == set(), "criteria without rows in ROWS"
    assert TESTED_CRITERIA - set(REGISTRY) == set(), "rows for criteria that do not exist"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_criterion_has_rows_for_each_outcome_it_can_return(name: str) -> None:
    covered = {row.expected for row in ROWS if row.criterion == name}
    assert covered >= ONLY_OUTCOMES.get(name, {"pass", "fail"})


def test_undetermined_ki67_names_the_field_and_the_ki67_assessment_test() -> None:
    verdict = evaluate({"ki67_at_most": {"percent": 10}}, case_with())
    assert [(m.field, m.test) for m in verdict.all_missing()] == [
        ("tumor.ki67_percent", "ki67_assessment")
    ]


# --- Ki-67 boundaries (brief §1.6: at most / at least include the cut point) --------------------


@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        ("ki67_at_most", "pass"),
        ("ki67_at_least", "pass"),
        ("ki67_below", "fail"),
        ("ki67_above", "fail"),
    ],
)
def test_ki67_exactly_10_meets_both_cut_points_and_neither_strict_one(
    criterion: str, expected: str
) -> None:
    assert_verdict(expected, evaluate({criterion: {"percent": 10}}, case_with(ki67=10)))


@pytest.mark.parametrize(
    ("ki67", "at_most", "at_least", "below", "above"),
    [
        (9.9, "pass", "fail", "pass", "fail"),
        (10.1, "fail", "pass", "fail", "pass"),
        (0, "pass", "fail", "pass", "fail"),
        (100, "fail", "pass", "fail", "pass"),
    ],
)
def test_ki67_either_side_of_10(
    ki67: float, at_most: str, at_least: str, below: str, above: str
) -> None:
    case = case_with(ki67=ki67)
    for name, expected in [
        ("ki67_at_most", at_most),
        ("ki67_at_least", at_least),
        ("ki67_below", below),
        ("ki67_above", above),
    ]:
        assert_verdict(expected, evaluate({name: {"percent": 10}}, case))


# --- Ki-67 over the range a reported grade allows (Ki-67 not measured) --------------------------


@pytest.mark.parametrize(
    ("grade", "criterion", "percent", "expected"),
    [
        ("g1", "ki67_at_most", 10, "warn"),
        ("g1", "ki67_at_least", 10, "fail"),
        ("g1", "ki67_below", 3, "warn"),
        ("g1", "ki67_at_least", 3, "fail"),
        ("g2", "ki67_at_most", 10, "undetermined"),
        ("g2", "ki67_at_least", 10, "undetermined"),
        ("g2", "ki67_at_most", 20, "warn"),
        ("g2", "ki67_at_least", 3, "warn"),
        ("g2", "ki67_below", 20, "undetermined"),
        ("g2", "ki67_above", 20, "fail"),
        ("g3", "ki67_above", 20, "warn"),
        ("g3", "ki67_at_most", 20, "fail"),
        ("g3", "ki67_at_most", 55, "undetermined"),
    ],
)
def test_ki67_criteria_over_the_range_of_a_reported_grade(
    grade: str, criterion: str, percent: float, expected: str
) -> None:
    verdict = evaluate(
        {criterion: {"percent": percent}}, case_with(reported_grade=grade, differentiation="well")
    )
    assert_verdict(expected, verdict)
    if expected == "warn":
        assert "assumption" in verdict.message
        assert grade.upper() in verdict.message
    if expected == "fail":
        assert "rules out" in verdict.message
    if expected == "undetermined":
        assert missing_fields(verdict) == {"tumor.ki67_percent"}


def test_ki67_is_unknown_when_the_report_disagrees_with_the_mitotic_grade() -> None:
    # Mitoses 25 give G3; the report says G2: the report's range cannot be trusted.
    case = case_with(mitoses=25, reported_grade="g2", differentiation="well")
    verdict = evaluate({"ki67_at_most": {"percent": 10}}, case)
    assert_verdict("undetermined", verdict)
    assert missing_fields(verdict) == {"tumor.ki67_percent"}


def test_measured_ki67_wins_over_the_reported_grade() -> None:
    case = case_with(ki67=12, reported_grade="g1", differentiation="well")
    assert_verdict("fail", evaluate({"ki67_at_most": {"percent": 10}}, case))


# --- wording of the generic comparisons ----------------------------------------------------------

WORDING = [
    # (criterion, value, passes?, phrase that must appear, phrase that must not)
    ("field_at_least", 50, True, "is at least", "below"),
    ("field_at_least", 40, True, "is at least", "below"),
    ("field_at_least", 39, False, "is below", "at least 40 mL/min is"),
    ("field_at_most", 30, True, "is at most", "above"),
    ("field_at_most", 40, True, "is at most", "above"),
    ("field_at_most", 41, False, "is above", "is at most"),
    ("field_below", 39, True, "is below", "at least"),
    ("field_below", 40, False, "is at least", "below"),
    ("field_above", 41, True, "is above", "at most"),
    ("field_above", 40, False, "is at most", "above"),
]


@pytest.mark.parametrize(("criterion", "value", "passes", "phrase", "never"), WORDING)
def test_field_comparison_wording_matches_the_outcome(
    criterion: str, value: float, passes: bool, phrase: str, never: str
) -> None:
    verdict = evaluate({criterion: CRCL}, case_with(**labs(creatinine_clearance_ml_min=value)))
    assert_verdict("pass" if passes else "fail", verdict)
    assert phrase in verdict.message
    assert never not in verdict.message
    # The clinic's label of facts.yaml is used, not the raw path.
    assert verdict.message.startswith("Creatinine clearance")
    assert "patient.labs" not in verdict.message


def test_field_comparison_without_a_facts_label_falls_back_to_the_field_name() -> None:
    ctx = ctx_for(case_with(size_mm=8))
    assert ctx.label("tumor.size_mm") == kb().field_labels["tumor.size_mm"]
    unlabelled = CaseContext(
        case=ctx.case,
        derived=ctx.derived,
        fact_tests={},
        option_status=ctx.option_status,
    )
    verdict = compile_criterion({"field_at_most": SIZE}).evaluate(unlabelled)
    assert_verdict("pass", verdict)
    assert verdict.message == "size mm 8 mm is at most 10 mm"


def test_every_criterion_evaluates_a_minimal_case_with_sample_parameters() -> None:
    minimal = case_with()
    for name in sorted(REGISTRY):
        row = next(r for r in ROWS if r.criterion == name)
        verdict = evaluate(row.spec, minimal)
        assert verdict.message.strip(), name
        if verdict.outcome is Outcome.UNDETERMINED:
            assert verdict.all_missing(), f"{name} is undetermined without naming a field"


# --- leaves are named after their criterion and parameters ----------------------------------------


def test_a_leaf_verdict_is_named_with_its_parameters() -> None:
    verdict = evaluate({"ki67_at_most": {"percent": 10}}, case_with(ki67=5))
    assert verdict.criterion == "ki67_at_most(percent=10.0)"


def test_a_definition_wraps_its_body_and_keeps_its_name() -> None:
    verdict = evaluate("advanced_disease", case_with(metastases=["liver"]))
    assert verdict.criterion == "advanced_disease"
    assert len(verdict.children) == 1
    assert verdict.outcome is verdict.children[0].outcome


def test_a_list_is_read_as_all_of() -> None:
    verdict = evaluate(
        ["liver_only", {"primary_site_in": {"sites": ["pancreas"]}}],
        case_with(metastases=["liver"]),
    )
    assert verdict.criterion == "all_of"
    assert_verdict("fail", verdict)
    assert [c.outcome for c in verdict.children] == [Outcome.PASS, Outcome.FAIL]


# --- compile errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("ki67_at_mots", "unknown criterion 'ki67_at_mots'"),
        ({"ki67_at_most": {"pct": 10}}, "percent"),
        ({"ki67_at_most": {"percent": 110}}, "percent"),
        ({"field_in": {"field": "tumor.ki67", "values": [1]}}, "'tumor.ki67' is not a field"),
        ({"any_of": []}, "non-empty list"),
        ({"liver_only": None, "stable_disease": None}, "one-key mapping"),
        ({"primary_site_in": ["pancreas"]}, "mapping of parameters"),
    ],
)
def test_a_malformed_criterion_is_refused_at_compile_time(spec: object, words: str) -> None:
    with pytest.raises(CriterionSpecError) as info:
        compile_criterion(spec, {})
    assert words in str(info.value)


# --- regressions of bugs found and fixed ----------------------


@pytest.mark.parametrize(
    "case",
    [{"symptoms": ["flushing"]}, {"bulky_or_symptomatic": True}],
    ids=["symptom-listed", "bulky"],
)
def test_asymptomatic_fails_when_symptoms_are_known_even_if_the_other_field_is_not(
    case: dict[str, Any],
) -> None:
    assert_verdict("fail", evaluate("asymptomatic", case_with(**case)))


def test_grade_taken_from_the_report_warns_even_when_mitoses_are_known() -> None:
    case = case_with(mitoses=1, reported_grade="g2", differentiation="well")
    verdict = evaluate({"grade_in": {"grades": ["g2"]}}, case)
    assert_verdict("warn", verdict)


def test_option_not_excluded_ignores_checks_whose_applies_when_is_unknown() -> None:
    case = case_with(**ADVANCED)  # functional_syndrome not recorded
    verdict = evaluate({"option_not_excluded": {"option": "octreotide_lar"}}, case)
    assert "tumor.ssa_test_dose" not in missing_fields(verdict)


@pytest.mark.parametrize("path", ["tumor.fdg_pet", "tumor.sstr_imaging"])
def test_a_numeric_comparison_on_a_non_numeric_field_is_refused_at_compile_time(
    path: str,
) -> None:
    with pytest.raises(CriterionSpecError):
        compile_criterion({"field_at_least": {"field": path, "value": 3}}, {})
