"""The case model and loader accept exactly the netnav-case/1 format and report every problem."""

from __future__ import annotations

import copy
import io
import json
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from netnav.case import (
    Case,
    Comorbidities,
    Ki67Record,
    Labs,
    Patient,
    Pharmacogenomics,
    Preferences,
    Setting,
    SstrImaging,
    Treatment,
    Tumor,
    case_from_mapping,
    load_case_file,
    parse_case,
)
from netnav.case.load import MAX_DOCUMENT_BYTES, MAX_PROBLEMS
from netnav.errors import CaseError, CaseProblem

DATA = Path(__file__).parent / "data"
SCHEMA_PATH = Path(__file__).parent.parent / "src" / "netnav" / "case" / "case.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
VIGNETTES = sorted((DATA / "vignettes").glob("*.json"))
EXAMPLES = sorted((DATA / "examples").glob("*.json"))


# --- helpers -------------------------------------------------------------------------------


def minimal(**extra: Any) -> dict[str, Any]:
    """The smallest valid case, with ``extra`` top-level fields merged in."""
    return {"format": "netnav-case/1", "tumor": {"primary_site": "small_intestine"}, **extra}


def problems_of(document: object) -> list[CaseProblem]:
    """The problems reported for ``document`` (JSON text, or a value serialised first)."""
    text = document if isinstance(document, str | bytes) else json.dumps(document)
    with pytest.raises(CaseError) as caught:
        parse_case(text)
    return caught.value.problems


def only_problem(document: object) -> CaseProblem:
    problems = problems_of(document)
    assert len(problems) == 1, [p.describe() for p in problems]
    return problems[0]


def problem_at(problems: list[CaseProblem], path: str) -> CaseProblem:
    matching = [p for p in problems if p.path == path]
    assert len(matching) == 1, (path, [p.describe() for p in problems])
    return matching[0]


def with_treatments(*treatments: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    doc = minimal(treatments=list(treatments))
    if as_of is not None:
        doc["as_of"] = as_of
    return doc


# --- the shipped cases ---------------------------------------------------------------------


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_every_vignette_case_parses(path: Path) -> None:
    wrapper = json.loads(path.read_text("utf-8"))
    case = parse_case(json.dumps(wrapper["case"]))
    assert case.format == "netnav-case/1"
    assert case.id == wrapper["case"].get("id")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_case_parses(path: Path) -> None:
    wrapper = json.loads(path.read_text("utf-8"))
    assert (
        case_from_mapping(wrapper["case"]).tumor.primary_site
        == wrapper["case"]["tumor"]["primary_site"]
    )


@pytest.mark.parametrize("path", VIGNETTES[:3] + EXAMPLES, ids=lambda p: p.stem)
def test_a_wrapper_file_loads_as_its_inner_case(path: Path) -> None:
    wrapper = json.loads(path.read_text("utf-8"))
    assert load_case_file(str(path)) == case_from_mapping(wrapper["case"])


def test_there_are_vignettes_and_examples_to_check() -> None:
    assert len(VIGNETTES) >= 60
    assert len(EXAMPLES) >= 3


# --- the model -----------------------------------------------------------------------------


def test_a_minimal_case_leaves_every_other_field_unknown() -> None:
    case = parse_case(json.dumps(minimal()))
    assert case.tumor.primary_site == "small_intestine"
    assert case.patient is None
    assert case.tumor.ki67_percent is None
    assert case.tumor.metastases is None
    assert case.treatments is None


def test_arrays_become_tuples_and_an_empty_array_stays_empty() -> None:
    doc = minimal()
    doc["tumor"].update(metastases=[], symptoms=["flushing", "diarrhea"])
    case = parse_case(json.dumps(doc))
    assert case.tumor.metastases == ()
    assert case.tumor.symptoms == ("flushing", "diarrhea")


def test_a_case_is_immutable() -> None:
    case = parse_case(json.dumps(minimal()))
    with pytest.raises(pydantic.ValidationError):
        case.tumor.ki67_percent = 5.0  # type: ignore[misc]


def test_a_dumped_case_validates_again_to_the_same_case() -> None:
    case = load_case_file(str(VIGNETTES[2]))
    assert case_from_mapping(case.model_dump(exclude_none=True)) == case


def test_an_integral_float_is_taken_as_an_integer_like_jsonschema_does() -> None:
    doc = minimal(patient={"ecog": 2.0})
    assert VALIDATOR.is_valid(doc)
    assert parse_case(json.dumps(doc)).patient == Patient(ecog=2)


def test_an_integer_is_taken_as_a_number() -> None:
    doc = minimal()
    doc["tumor"]["ki67_percent"] = 20
    assert parse_case(json.dumps(doc)).tumor.ki67_percent == 20.0


@pytest.mark.parametrize(
    ("field", "value", "message", "allowed"),
    [
        ("ecog", True, "must be a whole number (an integer)", "an integer from 0 to 4"),
        ("ecog", 2.5, "must be a whole number (an integer)", "an integer from 0 to 4"),
        ("ecog", "2", "must be a whole number (an integer)", "an integer from 0 to 4"),
        ("ecog", 5, "out of range", "an integer from 0 to 4"),
        ("age_years", -1, "out of range", "an integer from 0 to 120"),
        ("life_expectancy_months", "12", "must be a number", "a number of at least 0"),
        ("life_expectancy_months", False, "must be a number", "a number of at least 0"),
        ("frail", 1, "must be true or false", "true or false"),
        ("frail", "true", "must be true or false", "true or false"),
        ("sex", "F", "not an allowed value", "one of: female, male, other"),
    ],
)
def test_a_wrong_patient_value_names_path_value_and_what_is_allowed(
    field: str, value: object, message: str, allowed: str
) -> None:
    problem = only_problem(minimal(patient={field: value}))
    assert problem == CaseProblem(f"patient.{field}", message, value, allowed)


def test_text_is_not_coerced_from_a_number() -> None:
    problem = only_problem(minimal(id=4711))
    assert (problem.path, problem.message, problem.value) == (
        "id",
        "must be text (a JSON string)",
        4711,
    )


def test_null_is_refused_because_an_unknown_value_is_left_out() -> None:
    problem = only_problem(minimal(patient={"comorbidities": {"diabetes": None}}))
    assert problem.path == "patient.comorbidities.diabetes"
    assert problem.message.startswith("null is not allowed")
    assert problem.allowed == "one of: none, controlled, uncontrolled, present_control_unknown"


def test_size_must_be_greater_than_zero() -> None:
    doc = minimal()
    doc["tumor"]["size_mm"] = 0
    problem = only_problem(doc)
    assert (problem.path, problem.allowed) == ("tumor.size_mm", "a number greater than 0")


def test_a_ki67_above_100_is_out_of_range() -> None:
    doc = minimal()
    doc["tumor"]["ki67_percent"] = 100.5
    assert only_problem(doc) == CaseProblem(
        "tumor.ki67_percent", "out of range", 100.5, "a number from 0 to 100"
    )


def test_a_metastatic_site_listed_twice_is_an_error() -> None:
    doc = minimal()
    doc["tumor"]["metastases"] = ["liver", "bone", "liver"]
    problem = only_problem(doc)
    assert problem.path == "tumor.metastases"
    assert "'liver' is listed more than once" in problem.message


def test_a_wrong_symptom_names_its_index() -> None:
    doc = minimal()
    doc["tumor"]["symptoms"] = ["flushing", "itching"]
    problem = only_problem(doc)
    assert (problem.path, problem.value) == ("tumor.symptoms[1]", "itching")
    assert problem.allowed.startswith("one of: bone_pain, ")


def test_more_than_50_ki67_records_are_refused() -> None:
    doc = minimal()
    doc["tumor"]["ki67_history"] = [{"percent": 5}] * 51
    problem = only_problem(doc)
    assert (problem.path, problem.message) == ("tumor.ki67_history", "too many items")
    assert problem.allowed == "an array of at most 50 items"


def test_a_ki67_record_needs_its_percent() -> None:
    doc = minimal()
    doc["tumor"]["ki67_history"] = [{"date": "2024-01"}]
    problem = only_problem(doc)
    assert (problem.path, problem.message) == (
        "tumor.ki67_history[0].percent",
        "required field is missing",
    )


def test_a_string_array_given_as_a_string_is_refused() -> None:
    doc = minimal()
    doc["tumor"]["metastases"] = "liver"
    problem = only_problem(doc)
    assert (problem.path, problem.message) == ("tumor.metastases", "must be an array")


def test_a_set_given_in_python_is_not_an_array() -> None:
    doc = minimal()
    doc["tumor"]["symptoms"] = {"flushing"}
    with pytest.raises(CaseError) as caught:
        case_from_mapping(doc)
    assert caught.value.problems[0].path == "tumor.symptoms"


# --- unknown keys --------------------------------------------------------------------------


def test_an_unknown_key_at_the_root_names_the_path_and_the_allowed_keys() -> None:
    problem = only_problem(minimal(tumour={"primary_site": "lung"}))
    assert problem.path == "tumour"
    assert problem.message == "unknown field (did you mean tumor?)"
    assert problem.allowed == (
        "one of the fields: format, id, as_of, patient, tumor, treatments, preferences, "
        "extensions, setting"
    )


def test_an_unknown_key_in_the_tumor_names_the_path_and_the_allowed_keys() -> None:
    doc = minimal()
    doc["tumor"]["ki67"] = 12
    problem = only_problem(doc)
    assert (problem.path, problem.value) == ("tumor.ki67", 12)
    assert "did you mean ki67_history or ki67_percent?" in problem.message
    assert problem.allowed.startswith("one of the fields: primary_site, ")
    assert "ki67_percent" in problem.allowed


def test_an_unknown_key_in_a_treatment_names_the_path_and_the_allowed_keys() -> None:
    doc = with_treatments({"therapy": "lanreotide"}, {"therapy": "everolimus", "dose_mg": 10})
    problem = only_problem(doc)
    assert (problem.path, problem.message) == ("treatments[1].dose_mg", "unknown field")
    assert problem.allowed == (
        "one of the fields: therapy, start, end, ongoing, best_response, stop_reason, "
        "months_to_progression, cycles, details"
    )


def test_an_unknown_key_that_is_no_identifier_is_quoted_in_the_path() -> None:
    assert only_problem(minimal(**{"as of": "2026-01-01"})).path == '["as of"]'


def test_extensions_take_any_keys() -> None:
    case = parse_case(json.dumps(minimal(extensions={"site": {"mrn": "x", "list": [1, None]}})))
    assert case.extensions == {"site": {"mrn": "x", "list": [1, None]}}


# --- document-level checks -----------------------------------------------------------------


def test_the_top_level_must_be_an_object() -> None:
    for text, kind in (("[]", "array"), ("3", "number"), ('"case"', "string"), ("null", "null")):
        problem = only_problem(text)
        assert (problem.path, problem.message, problem.value) == (
            "",
            "the case must be a JSON object",
            kind,
        )


def test_the_format_must_be_netnav_case_1() -> None:
    problem = only_problem(minimal(format="netnav-case/2"))
    assert problem == CaseProblem(
        "format", "not a supported format", "netnav-case/2", '"netnav-case/1"'
    )


def test_format_and_tumor_are_required() -> None:
    problems = problems_of({})
    assert [(p.path, p.message) for p in problems] == [
        ("format", "required field is missing"),
        ("tumor", "required field is missing"),
    ]


def test_a_tumor_without_primary_site_is_refused() -> None:
    problem = only_problem(minimal(tumor={"ki67_percent": 3}))
    assert (problem.path, problem.message) == ("tumor.primary_site", "required field is missing")


def test_a_document_larger_than_1_mb_is_one_problem_and_not_parsed() -> None:
    text = json.dumps(minimal(id="x" * MAX_DOCUMENT_BYTES))
    problem = only_problem(text + " not even JSON")
    assert (problem.path, problem.message) == ("", "the document is larger than 1 MB")
    assert problem.allowed == "at most 1,048,576 bytes"


def test_a_document_of_exactly_1_mb_is_read() -> None:
    skeleton = json.dumps(minimal(id=""))
    text = skeleton.replace(
        '"id": ""', '"id": "' + "x" * (MAX_DOCUMENT_BYTES - len(skeleton)) + '"'
    )
    assert len(text.encode("utf-8")) == MAX_DOCUMENT_BYTES
    assert parse_case(text.encode("utf-8")).id is not None


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    text = json.dumps(minimal(id="é" * (MAX_DOCUMENT_BYTES // 2 + 1)), ensure_ascii=False)
    assert len(text) < MAX_DOCUMENT_BYTES
    assert only_problem(text).message == "the document is larger than 1 MB"


def test_invalid_json_reports_line_and_column() -> None:
    text = '{\n  "format": "netnav-case/1",\n  "tumor": {"primary_site": "lung",}\n}'
    problem = only_problem(text)
    assert problem.path == ""
    assert problem.message.startswith("not valid JSON: ")
    assert problem.message.endswith("(line 3, column 36)")  # the stray "}"


def test_bytes_that_are_not_utf8_are_refused_with_their_offset() -> None:
    problem = only_problem(b'{"id": "\xff"}')
    assert problem.message == "not UTF-8 text (invalid byte at offset 8)"


def test_a_utf8_byte_order_mark_is_ignored() -> None:
    assert parse_case(b"\xef\xbb\xbf" + json.dumps(minimal()).encode()).format == "netnav-case/1"


def test_json_nested_too_deeply_to_read_is_a_case_error() -> None:
    problem = only_problem("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in problem.message


def test_an_integer_of_too_many_digits_is_a_case_error() -> None:
    problem = only_problem('{"id": ' + "9" * 5000 + "}")
    assert problem.message.startswith("not valid JSON")


def test_a_repeated_key_is_an_error_naming_the_path_and_the_key() -> None:
    text = (
        '{"format": "netnav-case/1", "tumor": '
        '{"primary_site": "pancreas", "ki67_percent": 5, "ki67_percent": 25}}'
    )
    problem = only_problem(text)
    assert problem.path == "tumor.ki67_percent"
    assert problem.message == "key 'ki67_percent' is given 2 times in one object"
    assert problem.value == [5, 25]


def test_a_repeated_key_in_a_treatment_and_at_the_root_are_both_reported() -> None:
    text = (
        '{"format": "netnav-case/1", "tumor": {"primary_site": "lung"}, '
        '"treatments": [{"therapy": "lanreotide", "ongoing": true, "ongoing": false}], '
        '"format": "netnav-case/1"}'
    )
    assert [p.path for p in problems_of(text)] == ["format", "treatments[0].ongoing"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_number_is_reported_with_its_path(token: str) -> None:
    text = json.dumps(minimal(patient={"labs": {"egfr_ml_min": 0}})).replace(
        '"egfr_ml_min": 0', f'"egfr_ml_min": {token}'
    )
    problem = only_problem(text)
    assert problem == CaseProblem(
        "patient.labs.egfr_ml_min", "not a finite number", token, "a number of at least 0"
    )


def test_a_number_that_overflows_to_infinity_is_reported_with_its_path() -> None:
    text = '{"format": "netnav-case/1", "tumor": {"primary_site": "lung", "size_mm": 1e400}}'
    problem = only_problem(text)
    assert (problem.path, problem.message) == ("tumor.size_mm", "not a finite number (too large)")


def test_a_non_finite_number_inside_extensions_is_reported_too() -> None:
    text = json.dumps(minimal(extensions={"a": [1, 0]})).replace("[1, 0]", "[1, NaN]")
    assert only_problem(text).path == "extensions.a[1]"


def test_a_non_finite_float_in_a_python_mapping_is_reported() -> None:
    doc = minimal()
    doc["tumor"]["ki67_percent"] = float("nan")
    with pytest.raises(CaseError) as caught:
        case_from_mapping(doc)
    [problem] = caught.value.problems
    assert (problem.path, problem.message) == ("tumor.ki67_percent", "not a finite number")


def nested_extensions(levels: int) -> dict[str, Any]:
    """An extensions object ``levels`` deep, counting itself as level 1."""
    inner: dict[str, Any] = {}
    for _ in range(levels - 1):
        inner = {"k": inner}
    return inner


def test_extensions_20_levels_deep_are_kept() -> None:
    case = parse_case(json.dumps(minimal(extensions=nested_extensions(20))))
    assert case.extensions is not None


def test_extensions_21_levels_deep_are_refused_at_the_21st_level() -> None:
    problem = only_problem(minimal(extensions=nested_extensions(21)))
    assert problem.path == "extensions" + ".k" * 20
    assert problem.message == "extensions are nested more than 20 levels deep"


def test_extensions_depth_is_checked_for_a_python_mapping_too() -> None:
    with pytest.raises(CaseError) as caught:
        case_from_mapping(minimal(extensions=nested_extensions(25)))
    assert [p.path for p in caught.value.problems] == ["extensions" + ".k" * 20]


def test_the_model_alone_refuses_too_deep_extensions() -> None:
    with pytest.raises(pydantic.ValidationError, match="nested more than 20 levels"):
        Case.model_validate(minimal(extensions=nested_extensions(21)))


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "path", "value"),
    [
        (minimal(as_of="2026-02-30"), "as_of", "2026-02-30"),
        (minimal(as_of="2025-02-29"), "as_of", "2025-02-29"),
        (
            with_treatments({"therapy": "lanreotide", "start": "2026-13"}),
            "treatments[0].start",
            "2026-13",
        ),
        (
            with_treatments(
                {"therapy": "lanreotide"}, {"therapy": "everolimus", "end": "2026-04-31"}
            ),
            "treatments[1].end",
            "2026-04-31",
        ),
        (
            minimal(
                tumor={"primary_site": "lung", "ki67_history": [{"date": "2024-00", "percent": 3}]}
            ),
            "tumor.ki67_history[0].date",
            "2024-00",
        ),
    ],
)
def test_a_date_that_is_not_on_the_calendar_is_refused(
    doc: dict[str, Any], path: str, value: str
) -> None:
    assert VALIDATOR.is_valid(doc)  # the schema's pattern alone lets it through
    assert only_problem(doc) == CaseProblem(
        path,
        "not a real calendar date",
        value,
        "a date written YYYY-MM-DD" if path == "as_of" else "a date written YYYY-MM or YYYY-MM-DD",
    )


def test_a_leap_day_is_a_real_date() -> None:
    assert parse_case(json.dumps(minimal(as_of="2024-02-29"))).as_of == "2024-02-29"


def test_as_of_needs_a_day() -> None:
    problem = only_problem(minimal(as_of="2026-01"))
    assert (problem.path, problem.message) == ("as_of", "not a date written YYYY-MM-DD")


def test_digits_of_other_scripts_are_no_date_although_the_schema_pattern_allows_them() -> None:
    doc = minimal(as_of="٢٠٢٦-٠١-٠١")
    assert VALIDATOR.is_valid(doc)
    assert only_problem(doc).path == "as_of"


def test_a_treatment_start_after_as_of_is_an_error() -> None:
    doc = with_treatments({"therapy": "lanreotide", "start": "2026-10"}, as_of="2026-09-30")
    assert only_problem(doc) == CaseProblem(
        "treatments[0].start",
        "after as_of (2026-09-30)",
        "2026-10",
        "a date on or before 2026-09-30",
    )


def test_a_month_is_compared_with_as_of_at_month_precision() -> None:
    doc = with_treatments(
        {"therapy": "lanreotide", "start": "2026-09", "end": "2026-09"}, as_of="2026-09-01"
    )
    assert parse_case(json.dumps(doc)).treatments == (
        Treatment(therapy="lanreotide", start="2026-09", end="2026-09"),
    )


def test_a_treatment_end_after_as_of_is_an_error() -> None:
    doc = with_treatments(
        {"therapy": "folfox", "start": "2026-01-05", "end": "2026-03-02"}, as_of="2026-03-01"
    )
    assert only_problem(doc).path == "treatments[0].end"


def test_a_ki67_date_after_as_of_is_an_error() -> None:
    doc = minimal(as_of="2025-06-30")
    doc["tumor"]["ki67_history"] = [
        {"date": "2025-06-15", "percent": 2},
        {"date": "2025-07", "percent": 4},
    ]
    problem = only_problem(doc)
    assert (problem.path, problem.value) == ("tumor.ki67_history[1].date", "2025-07")


def test_dates_are_not_compared_with_as_of_when_it_is_absent() -> None:
    doc = with_treatments({"therapy": "lanreotide", "start": "2099-01"})
    assert parse_case(json.dumps(doc)).as_of is None


def test_a_treatment_ending_before_it_starts_is_an_error() -> None:
    doc = with_treatments(
        {"therapy": "lanreotide", "start": "2020-01"},
        {"therapy": "everolimus", "start": "2024-05-10", "end": "2024-04-30"},
    )
    assert only_problem(doc) == CaseProblem(
        "treatments[1].end",
        "the end is before the start (2024-05-10)",
        "2024-04-30",
        "a date on or after 2024-05-10",
    )


def test_an_end_in_the_start_month_is_not_before_the_start() -> None:
    doc = with_treatments(
        {"therapy": "surgical_resection", "start": "2024-05-10", "end": "2024-05"}
    )
    assert parse_case(json.dumps(doc)).treatments is not None


# --- cross-field and vocabulary checks -----------------------------------------------------


def test_krenning_min_above_krenning_max_is_an_error() -> None:
    doc = minimal()
    doc["tumor"]["sstr_imaging"] = {"krenning_min": 4, "krenning_max": 2}
    assert only_problem(doc) == CaseProblem(
        "tumor.sstr_imaging.krenning_min",
        "krenning_min (4) is greater than krenning_max (2)",
        4,
        "an integer from 0 to krenning_max (2)",
    )


def test_equal_krenning_scores_are_fine() -> None:
    doc = minimal()
    doc["tumor"]["sstr_imaging"] = {"krenning_min": 3, "krenning_max": 3}
    assert parse_case(json.dumps(doc)).tumor.sstr_imaging == SstrImaging(
        krenning_min=3, krenning_max=3
    )


def test_an_out_of_range_krenning_score_is_reported_once() -> None:
    doc = minimal()
    doc["tumor"]["sstr_imaging"] = {"krenning_min": 5, "krenning_max": 2}
    assert only_problem(doc).message == "out of range"


def test_an_unknown_therapy_id_is_refused_with_close_ids_suggested() -> None:
    doc = with_treatments(
        {"therapy": "surgical_resection"}, {"therapy": "lanreotide"}, {"therapy": "octreotid_lar"}
    )
    problem = only_problem(doc)
    assert (problem.path, problem.message, problem.value) == (
        "treatments[2].therapy",
        "not a therapy id of options.md",
        "octreotid_lar",
    )
    assert (
        problem.allowed
        == "a therapy id of options.md; closest: octreotide_lar, octreotide_short_acting"
    )


def test_a_history_only_therapy_id_is_accepted_in_treatments() -> None:
    case = parse_case(json.dumps(with_treatments({"therapy": "ssa_unspecified"})))
    assert case.treatments == (Treatment(therapy="ssa_unspecified"),)


def test_an_unknown_declined_option_is_refused_with_close_ids_suggested() -> None:
    problem = only_problem(minimal(preferences={"declines": ["everolimus", "prrt"]}))
    assert (problem.path, problem.message) == (
        "preferences.declines[1]",
        "not an option id of options.md",
    )
    assert (
        problem.allowed
        == "an option id of options.md; closest: prrt_lu177_dotatate, prrt_lu177_edotreotide"
    )


def test_a_history_only_id_cannot_be_declined() -> None:
    assert (
        only_problem(minimal(preferences={"declines": ["ssa_unspecified"]})).path
        == "preferences.declines[0]"
    )


# --- many problems at once -----------------------------------------------------------------


def test_several_problems_in_one_document_are_all_reported() -> None:
    text = """{
      "format": "netnav-case/1",
      "as_of": "2026-02-30",
      "patient": {"ecog": 7, "sex": "f", "labs": {"egfr_ml_min": NaN}},
      "tumor": {"primary_site": "ileum", "sstr_imaging": {"krenning_min": 4, "krenning_max": 1}},
      "treatments": [{"therapy": "lanreotid", "start": "2025-03", "end": "2025-01", "x": 1}],
      "preferences": {"declines": ["nothing"]},
      "setting": {"region": "us", "region": "eu"}
    }"""
    problems = problems_of(text)
    assert sorted(p.path for p in problems) == sorted(
        [
            "as_of",
            "patient.ecog",
            "patient.sex",
            "patient.labs.egfr_ml_min",
            "tumor.primary_site",
            "tumor.sstr_imaging.krenning_min",
            "treatments[0].therapy",
            "treatments[0].end",
            "treatments[0].x",
            "preferences.declines[0]",
            "setting.region",
        ]
    )
    assert problem_at(problems, "setting.region").message.startswith(
        "key 'region' is given 2 times"
    )
    assert (
        problem_at(problems, "treatments[0].end").message == "the end is before the start (2025-03)"
    )


def test_a_flood_of_problems_is_cut_at_a_readable_number() -> None:
    doc = minimal()
    doc["tumor"].update({f"unknown_{i}": i for i in range(MAX_PROBLEMS + 50)})
    problems = problems_of(doc)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == CaseProblem("", "and 50 more problems not listed")


def test_the_error_message_lists_every_problem() -> None:
    with pytest.raises(CaseError) as caught:
        parse_case(json.dumps(minimal(patient={"ecog": 9, "frail": "no"})))
    text = str(caught.value)
    assert text.startswith("invalid case (2 problems):")
    assert "patient.ecog: out of range; given 9; allowed: an integer from 0 to 4" in text
    assert "patient.frail: must be true or false; given 'no'; allowed: true or false" in text


SENTINEL = "SENTINEL-PATIENT-4711"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[1, 2]",
        '{"id": "' + SENTINEL + '", "format": 1}',
        '{"id": "' + SENTINEL + '", "format": "netnav-case/1", "tumor": {"primary_site": NaN}}',
        '{"id": "' + SENTINEL + '", "format": "netnav-case/1", "tumor": {"primary_site": "lung"}, '
        '"extensions": {"a": ' + "[" * 30 + "]" * 30 + "}}",
        '{"id": "'
        + SENTINEL
        + '", "format": "netnav-case/1", "tumor": {"primary_site": "lung"}, "patient": []}',
        '{"format": "netnav-case/1", "tumor": {"primary_site": "lung", "size_mm": '
        + "1" * 400
        + "}}",
        '{"format": "netnav-case/1", "tumor": {"primary_site": "lung", "mgmt": "\\ud800"}}',
    ],
)
def test_every_invalid_document_raises_case_error_without_echoing_valid_values(text: str) -> None:
    try:
        parse_case(text)
    except CaseError as error:
        assert error.problems
        assert SENTINEL not in str(error)  # only offending values are shown
    else:
        pytest.fail("no CaseError")


def test_a_mapping_with_keys_that_are_not_text_is_refused() -> None:
    with pytest.raises(CaseError) as caught:
        case_from_mapping(minimal(extensions={"a": {1: "x"}}))
    assert caught.value.problems[0].path == "extensions"
    with pytest.raises(CaseError):
        case_from_mapping({1: 2})


def test_a_cyclic_mapping_is_refused_not_looped_over() -> None:
    doc = minimal()
    doc["tumor"]["self"] = doc
    with pytest.raises(CaseError) as caught:
        case_from_mapping(doc)
    assert [p.path for p in caught.value.problems] == ["tumor.self"]


# --- files ---------------------------------------------------------------------------------


def test_a_missing_file_is_a_case_error_naming_the_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    with pytest.raises(CaseError) as caught:
        load_case_file(missing)
    assert caught.value.problems == [CaseProblem("", "case file not found", missing)]


def test_a_directory_is_not_a_case_file(tmp_path: Path) -> None:
    with pytest.raises(CaseError) as caught:
        load_case_file(str(tmp_path))
    assert caught.value.problems[0].message == "the case path is a directory, not a file"


def test_a_file_that_is_not_utf8_is_a_case_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"id": "Müller"}'.encode("latin-1"))
    with pytest.raises(CaseError) as caught:
        load_case_file(str(path))
    assert caught.value.problems[0].message.startswith("not UTF-8 text")


def test_an_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_DOCUMENT_BYTES * 3))
    with pytest.raises(CaseError) as caught:
        load_case_file(str(path))
    assert caught.value.problems[0].message == "the document is larger than 1 MB"


def test_a_dash_reads_the_case_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(minimal(id="from-stdin")).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert load_case_file("-").id == "from-stdin"


def test_problems_of_a_wrapped_case_carry_the_case_prefix(tmp_path: Path) -> None:
    inner = minimal(treatments=[{"therapy": "lanreotide"}, {"therapy": "lanreotide", "cycles": -1}])
    inner["tumor"]["grade"] = "g2"
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"id": "V99", "title": "t", "case": inner, "expected": {}}))
    with pytest.raises(CaseError) as caught:
        load_case_file(str(path))
    assert [p.path for p in caught.value.problems] == [
        "case.tumor.grade",
        "case.treatments[1].cycles",
    ]


def test_a_document_with_format_is_never_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "both.json"
    path.write_text(json.dumps(minimal(case=minimal())))
    with pytest.raises(CaseError) as caught:
        load_case_file(str(path))
    assert [(p.path, p.message) for p in caught.value.problems] == [("case", "unknown field")]


def test_parse_case_does_not_unwrap_a_wrapper_document() -> None:
    problems = problems_of({"id": "V01", "case": minimal()})
    assert {p.path for p in problems} == {"case", "format", "tumor"}


# --- the model agrees with the JSON Schema -------------------------------------------------

MODELS_AND_SCHEMA_PATHS: list[tuple[type[pydantic.BaseModel], tuple[str, ...]]] = [
    (Case, ()),
    (Patient, ("patient",)),
    (Comorbidities, ("patient", "comorbidities")),
    (Labs, ("patient", "labs")),
    (Pharmacogenomics, ("patient", "pharmacogenomics")),
    (Tumor, ("tumor",)),
    (SstrImaging, ("tumor", "sstr_imaging")),
    (Ki67Record, ("tumor", "ki67_history", "[]")),
    (Treatment, ("treatments", "[]")),
    (Preferences, ("preferences",)),
    (Setting, ("setting",)),
]


MODEL_NAMES = [model.__name__ for model, _ in MODELS_AND_SCHEMA_PATHS]


def schema_at(path: tuple[str, ...]) -> dict[str, Any]:
    node = SCHEMA
    for part in path:
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


def literal_values(annotation: object) -> set[object]:
    """Every value of the Literal types inside ``annotation`` (through unions, Annotated...)."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    values: set[object] = set()
    for arg in typing.get_args(annotation):
        values |= literal_values(arg)
    return values


def enum_of(node: dict[str, Any]) -> set[object]:
    if "const" in node:
        return {node["const"]}
    return set(node.get("enum", node.get("items", {}).get("enum", [])))


@pytest.mark.parametrize(("model", "path"), MODELS_AND_SCHEMA_PATHS, ids=MODEL_NAMES)
def test_each_model_has_exactly_the_schema_fields_and_required_fields(
    model: type[pydantic.BaseModel], path: tuple[str, ...]
) -> None:
    node = schema_at(path)
    assert set(model.model_fields) == set(node["properties"])
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required == set(node.get("required", []))


@pytest.mark.parametrize(("model", "path"), MODELS_AND_SCHEMA_PATHS, ids=MODEL_NAMES)
def test_each_enumeration_of_the_model_matches_the_schema(
    model: type[pydantic.BaseModel], path: tuple[str, ...]
) -> None:
    node = schema_at(path)
    for name, field in model.model_fields.items():
        assert literal_values(field.annotation) == enum_of(node["properties"][name]), name


@pytest.mark.parametrize(("model", "path"), MODELS_AND_SCHEMA_PATHS, ids=MODEL_NAMES)
def test_each_field_is_documented(model: type[pydantic.BaseModel], path: tuple[str, ...]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []


# --- property tests against the JSON Schema ------------------------------------------------

# Fields whose extra checks (option ids, calendar dates, date order, Krenning order) go beyond
# what the schema can say; generated documents get harmless values there.
_EXTRA_CHECKED = {
    "therapy",
    "krenning_min",
    "krenning_max",
    "declines",
    "as_of",
    "start",
    "end",
    "date",
}


def without_extra_checks(generated: object) -> dict[str, Any]:
    """``generated`` changed so that none of the checks beyond the schema can fail."""
    assert isinstance(generated, dict)
    doc: dict[str, Any] = copy.deepcopy(generated)
    doc.pop("as_of", None)
    for treatment in doc.get("treatments", []):
        treatment["therapy"] = "octreotide_lar"
        treatment.pop("start", None)
        treatment.pop("end", None)
    for record in doc["tumor"].get("ki67_history", []):
        record.pop("date", None)
    imaging = doc["tumor"].get("sstr_imaging", {})
    if "krenning_min" in imaging and "krenning_max" in imaging:
        low, high = sorted((imaging["krenning_min"], imaging["krenning_max"]))
        imaging.update(krenning_min=low, krenning_max=high)
    if "declines" in doc.get("preferences", {}):
        doc["preferences"]["declines"] = ["everolimus"] * len(doc["preferences"]["declines"])
    return storable(doc)


def storable(value: Any) -> Any:
    """``value`` without NUL and lone surrogates in its text: valid JSON escapes the schema
    allows, but the loader refuses them (no UTF-8 file, page or database can hold them)."""

    def clean(text: str) -> str:
        return "".join(ch for ch in text if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)

    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def accepted(doc: object) -> bool:
    try:
        parse_case(json.dumps(doc))
    except CaseError:
        return False
    return True


valid_documents = from_schema(SCHEMA).map(without_extra_checks)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@PROPERTY_SETTINGS
@given(valid_documents)
def test_every_document_the_schema_accepts_is_accepted(doc: dict[str, Any]) -> None:
    assume(depth(doc.get("extensions", {})) <= 20)
    assert VALIDATOR.is_valid(doc)
    case = parse_case(json.dumps(doc))
    assert case_from_mapping(case.model_dump(exclude_none=True)) == case


def mutable_paths(
    value: object, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """Paths of the values a mutation may replace: all but the root and extra-checked fields."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, child in value.items():
            if key not in _EXTRA_CHECKED:
                yield from mutable_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from mutable_paths(child, (*path, index))


def object_paths(
    value: object, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """Paths of the objects an unknown key may be added to (not extensions: it takes any key)."""
    if isinstance(value, dict) and path[:1] != ("extensions",):
        yield path
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        yield from object_paths(child, (*path, key))


def set_at(doc: Any, path: tuple[str | int, ...], value: object) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def get_at(doc: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


REPLACEMENTS = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        2.5,
        3.0,
        101,
        10**9,
        "",
        "x",
        "liver",
        "none",
        [],
        ["liver"],
        {},
        {"x": 1},
    ]
)


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(valid_documents)
    if draw(st.booleans()):
        path = draw(st.sampled_from(list(mutable_paths(doc))))
        set_at(doc, path, draw(REPLACEMENTS))
    else:
        path = draw(st.sampled_from(list(object_paths(doc))))
        get_at(doc, path)["zz_not_a_field"] = draw(REPLACEMENTS)
    return doc


@PROPERTY_SETTINGS
@given(mutated_documents())
def test_a_mutated_document_is_accepted_exactly_when_the_schema_accepts_it(
    doc: dict[str, Any],
) -> None:
    extensions = doc.get("extensions")
    assume(not isinstance(extensions, dict) or depth(extensions) <= 20)
    schema_accepts = VALIDATOR.is_valid(doc)
    event("the schema accepts it" if schema_accepts else "the schema refuses it")
    assert accepted(doc) == schema_accepts


def test_mutations_do_produce_documents_the_schema_refuses() -> None:
    # Guards the property test above against only ever generating valid documents.
    doc = minimal(patient={"ecog": 1})
    set_at(doc, ("patient", "ecog"), "x")
    assert not VALIDATOR.is_valid(doc)
    assert not accepted(doc)
