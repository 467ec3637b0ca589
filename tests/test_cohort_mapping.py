"""The registry column mapping: loading errors, every conversion, the example files and a
round-trip property (netnav.cohort.mapping)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import pickle
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netnav.case.load import case_from_mapping
from netnav.cohort.mapping import (
    UNITS,
    ColumnMapping,
    ColumnSpec,
    MappingDocument,
    MappingError,
    RowProblem,
    load_mapping,
    mapping_from_dict,
)
from netnav.errors import CaseError, NetnavError
from netnav.vocabulary import GROUPS, OPTION_IDS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_MAPPING = ROOT / "examples" / "cohort" / "registry-mapping.yaml"
EXAMPLE_EXTRACT = ROOT / "examples" / "cohort" / "registry-extract.csv"
DOC = ROOT / "docs" / "cohort-mapping.md"


def mapping(columns: dict[str, Any], **top: Any) -> ColumnMapping:
    return mapping_from_dict(
        {"format": "netnav-cohort-mapping/1", "columns": columns, **top}, source="m.yaml"
    )


def one(spec: dict[str, Any], cell: object, **top: Any) -> tuple[dict[str, Any], list[RowProblem]]:
    """The case and problems of a one-column mapping ``c`` for the cell ``cell``."""
    return mapping({"c": spec}, **top).case_from_row({"c": cell})


def value(spec: dict[str, Any], cell: object, **top: Any) -> object:
    """The value the one column puts in the case (``MISSING`` when left out); no problems."""
    case, problems = one(spec, cell, **top)
    assert problems == []
    node: Any = case
    for key in _keys(spec["field"]):
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return MISSING
        elif not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def problem(spec: dict[str, Any], cell: object, **top: Any) -> RowProblem:
    _, problems = one(spec, cell, **top)
    assert len(problems) == 1, problems
    return problems[0]


def _keys(path: str) -> Iterator[str | int]:
    for part in re.split(r"[.\[\]]+", path.replace("[]", "")):
        if part:
            yield int(part) if part.isdigit() else part


MISSING = object()


def load_error(columns: object = None, **top: Any) -> str:
    doc: dict[str, Any] = {"format": "netnav-cohort-mapping/1", **top}
    if columns is not None:
        doc["columns"] = columns
    with pytest.raises(MappingError) as caught:
        mapping_from_dict(doc, source="m.yaml")
    return str(caught.value)


# --- loading: every mistake is a MappingError naming the key, the value and what is allowed --


def test_mapping_error_is_a_netnav_error_so_the_cli_exits_2() -> None:
    assert issubclass(MappingError, NetnavError)


def test_unknown_column_key_is_named_with_the_allowed_keys() -> None:
    message = load_error({"ki67": {"field": "tumor.ki67_percent", "unitt": "fraction"}})
    assert "m.yaml" in message
    assert "columns.ki67.unitt: unknown key" in message
    for key in ColumnSpec.model_fields:
        assert key in message


def test_unknown_top_level_key_is_named() -> None:
    message = load_error({"a": {"field": "id"}}, missing=["NA"])
    assert "missing: unknown key" in message
    assert "missing_values" in message


def test_unknown_key_in_one_spec_of_a_column_list_names_its_position() -> None:
    message = load_error({"morph": [{"field": "tumor.differentiation"}, {"feld": "x"}]})
    assert "columns.morph[1].feld: unknown key" in message
    assert "valid dictionary" not in message


def test_wrong_format_and_missing_columns() -> None:
    assert "allowed: netnav-cohort-mapping/1" in load_error({"a": {"field": "id"}}, format="x")
    assert "columns: required key missing" in load_error()
    assert "columns: no columns mapped" in load_error({})


def test_a_spec_given_as_text_asks_for_a_mapping() -> None:
    message = load_error({"size": "tumor.size_mm"})
    assert "columns.size: must be a mapping such as {field: tumor.size_mm}" in message


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("tumor.ki67_pct", "given 'tumor.ki67_pct': not a field of the case format"),
        ("tumour.size_mm", "not a field of the case format"),
        ("tumor.sstr_imaging", "tumor.sstr_imaging is an object; map its fields"),
        ("tumor.metastases", "write tumor.metastases[] to add items"),
        ("treatments.therapy", "did you mean treatments[0].therapy"),
        ("treatments", "a list of objects; name an item and its field, such as treatments[0]."),
        ("tumor.size_mm[]", "tumor.size_mm is not a list; drop the []"),
        ("tumor..size_mm", "is not a key or an index"),
        ("treatments[50].therapy", "a list index is at most 49"),
        ("format", "format is set by the mapping"),
        ("extensions", "name a key inside it"),
    ],
)
def test_bad_field_paths_are_refused(field: str, expected: str) -> None:
    message = load_error({"col": {"field": field}})
    assert "columns.col.field" in message
    assert expected in message


def test_field_path_suggestion_for_a_misspelt_field() -> None:
    assert "did you mean tumor.ki67_percent" in load_error({"k": {"field": "tumor.ki67_pct"}})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"field": "tumor.ki67_percent", "unit": "cm"},
            "columns.c.unit: given 'cm', which does not fit tumor.ki67_percent (percentage); "
            "allowed: percent, fraction",
        ),
        (
            {"field": "tumor.size_mm", "unit": "inch"},
            "given 'inch', which does not fit tumor.size_mm (length); allowed: mm, cm",
        ),
        ({"field": "patient.age_years", "unit": "months"}, "patient.age_years takes no unit"),
        ({"field": "patient.sex", "unit": "percent"}, "patient.sex takes no unit"),
        ({"field": "extensions.x", "unit": "cm"}, "units are for case fields only"),
    ],
)
def test_a_unit_that_does_not_fit_the_field_is_refused(spec: dict[str, Any], expected: str) -> None:
    assert expected in load_error({"c": spec})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"field": "patient.sex", "values": {"M": "man"}},
            "columns.c.values.\"M\": given 'man'; allowed: female, male, other",
        ),
        ({"field": "tumor.goblet_cell", "values": {"J": "ja"}}, "allowed: true, false"),
        ({"field": "patient.age_years", "values": {"x": 130}}, "130 is above the maximum 120"),
        ({"field": "patient.age_years", "values": {"x": 1.5}}, "allowed: a whole number"),
        ({"field": "tumor.size_mm", "values": {"x": "big"}}, "allowed: a number"),
        ({"field": "as_of", "values": {"x": "2021-02-30"}}, "not a real calendar date"),
        (
            {"field": "treatments[0].therapy", "values": {"X": "octreotide"}},
            "given 'octreotide'; allowed: ",
        ),
        ({"field": "patient.sex", "values": {"X": []}}, "given []"),
        (
            {"field": "extensions.actual.option", "type": "option", "values": {"X": "ssa_lar"}},
            "given 'ssa_lar'",
        ),
    ],
)
def test_a_value_map_target_that_does_not_fit_the_field_is_refused(
    spec: dict[str, Any], expected: str
) -> None:
    assert expected in load_error({"c": spec})


@pytest.mark.parametrize(
    ("spec", "top", "expected"),
    [
        ({"field": "as_of", "date_format": "%d/%d"}, {}, "cannot write and read back a date"),
        ({"field": "as_of", "date_format": "%H:%M"}, {}, "cannot write and read back a date"),
        ({"field": "as_of"}, {"date_format": "%Y"}, "date_format: given '%Y'"),
        ({"field": "as_of", "date_format": "%m/%Y"}, {}, "as_of needs a full date"),
        ({"field": "tumor.size_mm", "date_format": "%d/%m/%Y"}, {}, "is not a date"),
    ],
)
def test_bad_date_formats_are_refused(
    spec: dict[str, Any], top: dict[str, Any], expected: str
) -> None:
    assert expected in load_error({"c": spec}, **top)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"field": "patient.sex", "type": "string"}, "type is for extensions fields only"),
        ({"field": "extensions.x", "type": "widget"}, "allowed: string, integer, number"),
        ({"field": "tumor.size_mm", "when_true": "liver"}, "only for list fields"),
        ({"field": "tumor.size_mm", "separator": ";"}, "only for list fields"),
        ({"field": "tumor.metastases[]", "when_true": "spleen"}, "given 'spleen'; allowed: liver"),
        (
            {"field": "tumor.metastases[]", "when_true": "liver", "separator": ";"},
            "not with when_true",
        ),
        ({"field": "tumor.metastases[]", "separator": ""}, "an empty separator"),
        ({"field": "tumor.metastases[]", "when_true": "liver", "values": {"J": "liver"}}, "true"),
    ],
)
def test_misused_column_keys_are_refused(spec: dict[str, Any], expected: str) -> None:
    assert expected in load_error({"c": spec})


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ({"tumor": {"primary_site": "liver"}}, "case.tumor.primary_site: given 'liver'"),
        ({"tumour": {}}, "case.tumour: not a field of the case format"),
        ({"format": "netnav-case/2"}, "case.format: given 'netnav-case/2'"),
        ({"patient": {"age_years": None}}, "null is not a value"),
        ({"patient": {"age_years": "62"}}, "allowed: an integer"),
        ({"setting": "eu"}, "must be a mapping"),
        ({"tumor": {"metastases": "liver"}}, "must be a list"),
        ({"treatments": [{"therapy": "everolimus", "startt": "2020"}]}, "treatments[0].startt"),
        ({"extensions": {"when": dt.date(2020, 1, 1)}}, "not a JSON value"),
    ],
)
def test_bad_case_constants_are_refused(case: dict[str, Any], expected: str) -> None:
    assert expected in load_error({"a": {"field": "id"}}, case=case)


def test_columns_cannot_fill_inside_a_constant_list_or_value() -> None:
    assert "treatments is a list given in case" in load_error(
        {"s": {"field": "treatments[0].start"}}, case={"treatments": [{"therapy": "everolimus"}]}
    )
    assert "extensions.site is a value given in case" in load_error(
        {"s": {"field": "extensions.site.code"}}, case={"extensions": {"site": "x"}}
    )


def test_one_extension_path_inside_another_is_refused() -> None:
    message = load_error({"a": {"field": "extensions.x"}, "b": {"field": "extensions.x.y"}})
    assert "columns.b: extensions.x.y lies inside extensions.x, which columns.a fills" in message


def test_load_mapping_reads_yaml_12_booleans_numeric_keys_and_refuses_repeated_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "format: netnav-cohort-mapping/1\n"
        "columns:\n"
        "  flag: {field: tumor.goblet_cell, values: {yes: true, no: false, 9: null}}\n"
        "  2021: {field: patient.sex, values: {1: male, 2: female}}\n",
        encoding="utf-8",
    )
    loaded = load_mapping(path)
    assert loaded.columns == ("flag", "2021")
    case, problems = loaded.case_from_row({"flag": "yes", "2021": "2"})
    assert problems == []
    assert case["tumor"] == {"goblet_cell": True}
    assert case["patient"] == {"sex": "female"}
    assert "goblet_cell" not in loaded.case_from_row({"flag": "9"})[0].get("tumor", {})

    path.write_text(
        "format: netnav-cohort-mapping/1\ncolumns:\n  a: {field: id}\n  a: {field: as_of}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match="the key 'a' is given twice"):
        load_mapping(path)


def test_load_mapping_file_problems(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="not found"):
        load_mapping(tmp_path / "absent.yaml")
    with pytest.raises(MappingError, match="is a directory"):
        load_mapping(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(bad)
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(MappingError, match="must be a YAML mapping"):
        load_mapping(bad)


# --- conversions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("62", 62), (" 62 ", 62), ("62.0", 62), ("+62", 62), (62, 62), (62.0, 62)],
)
def test_integer_fields(cell: object, expected: int) -> None:
    got = value({"field": "patient.age_years"}, cell)
    assert got == expected
    assert type(got) is int


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("62.5", "62.5 is not a whole number"),
        ("130", "130 is above the maximum 120"),
        ("-1", "-1 is below the minimum 0"),
        ("sixty", "not a number"),
        (True, "a yes/no value where a number is expected"),
        (62.5, "not a whole number"),
    ],
)
def test_integer_field_problems(cell: object, reason: str) -> None:
    assert reason in problem({"field": "patient.age_years"}, cell).reason


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("12.5", 12.5), ("12", 12), (".5", 0.5), ("1e1", 10.0), (12.5, 12.5), (7, 7)],
)
def test_number_fields(cell: object, expected: float) -> None:
    assert value({"field": "tumor.ki67_percent"}, cell) == expected


def test_a_decimal_comma_is_refused_asking_for_a_point() -> None:
    found = problem({"field": "tumor.ki67_percent"}, "12,5")
    assert found.path == "tumor.ki67_percent (column c)"
    assert found.value == "12,5"
    assert "write decimals with a point: 12.5" in found.reason


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("<5", "not a number"),
        ("1 000", "not a number"),
        ("1,000", "write decimals with a point"),
        ("101", "101 is above the maximum 100"),
        ("1e400", "number too large"),
        (math.inf, "not a finite number"),
        ("nan", "not a number"),
    ],
)
def test_number_field_problems(cell: object, reason: str) -> None:
    assert reason in problem({"field": "tumor.ki67_percent"}, cell).reason


def test_size_must_be_more_than_zero() -> None:
    assert "must be more than 0" in problem({"field": "tumor.size_mm"}, "0").reason


@pytest.mark.parametrize(
    ("field", "unit", "cell", "expected"),
    [
        ("tumor.ki67_percent", "fraction", "0.12", 12),
        ("tumor.ki67_percent", "fraction", "0.015", 1.5),
        ("tumor.ki67_percent", "percent", "12", 12),
        ("tumor.size_mm", "cm", "2.1", 21),
        ("tumor.size_mm", "mm", "21", 21),
        ("tumor.mesoappendix_invasion_mm", "cm", "0.3", 3),
        ("tumor.growth_mm_per_year", "mm_per_month", "0.5", 6),
        ("tumor.liver_tumor_burden_percent", "fraction", "0.25", 25),
        ("tumor.months_observed", "years", "1.5", 18),
        ("tumor.months_observed", "days", "365.25", 12),
        ("treatments[0].months_to_progression", "weeks", "52.17857142857143", 12),
        ("patient.life_expectancy_months", "years", "2", 24),
        ("patient.prior_marrow_radiation_percent", "fraction", "0.1", 10),
        ("patient.comorbidities.hba1c_percent", "mmol_mol", "48", 6.54304),
        ("patient.labs.hemoglobin_g_dl", "g_l", "125", 12.5),
        ("patient.labs.hemoglobin_g_dl", "mmol_l", "8", 12.888),
        ("patient.labs.albumin_g_l", "g_dl", "3.5", 35),
        ("patient.labs.platelets_10e9_l", "per_ul", "250000", 250),
        ("patient.labs.neutrophils_10e9_l", "10e3_ul", "3.1", 3.1),
        ("patient.labs.wbc_10e9_l", "per_nl", "6", 6),
        ("patient.labs.egfr_ml_min", "ml_s", "1.5", 90),
        ("patient.labs.fasting_glucose_mmol_l", "mg_dl", "90.08", 5),
        ("patient.labs.calcium_mmol_l", "mg_dl", "10.02", 2.5),
        ("patient.labs.potassium_mmol_l", "meq_l", "4.1", 4.1),
        ("patient.labs.u5hiaa_umol_24h", "mg_24h", "10", 52.3),
        ("patient.labs.gastrin_pg_ml", "pmol_l", "100", 209.8),
        ("patient.labs.gastrin_pg_ml", "ng_l", "100", 100),
        ("patient.labs.pth_pg_ml", "pmol_l", "10", 94.25),
        ("patient.labs.nt_probnp_pg_ml", "pmol_l", "100", 845.7),
        ("patient.labs.vip_pg_ml", "pmol_l", "10", 33.26),
        ("patient.labs.glucagon_pg_ml", "pmol_l", "10", 34.85),
        ("patient.labs.bilirubin_x_uln", "x_uln", "1.2", 1.2),
        ("tumor.ki67_history[0].percent", "fraction", "0.03", 3),
    ],
)
def test_unit_conversions(field: str, unit: str, cell: str, expected: float) -> None:
    got = value({"field": field, "unit": unit}, cell)
    assert isinstance(got, int | float)
    assert got == pytest.approx(expected, rel=1e-9)


def test_a_converted_value_is_checked_against_the_field_range_naming_the_unit() -> None:
    found = problem({"field": "tumor.ki67_percent", "unit": "fraction"}, "12")
    assert found.reason == "1200 (from fraction) is above the maximum 100"


def test_every_unit_table_keeps_the_case_unit_unchanged() -> None:
    for quantity, units in UNITS.items():
        assert (1, 0) in units.values(), quantity


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("yes", True),
        ("Yes", True),
        ("Y", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("no", False),
        ("N", False),
        ("False", False),
        ("0", False),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (1.0, True),
    ],
)
def test_boolean_fields(cell: object, expected: bool) -> None:
    assert value({"field": "tumor.primary_removed"}, cell) is expected


@pytest.mark.parametrize("cell", ["maybe", "2", "ja", 2])
def test_boolean_field_problems(cell: object) -> None:
    found = problem({"field": "tumor.primary_removed"}, cell)
    assert found.path == "tumor.primary_removed (column c)"
    assert "not a yes/no value; allowed: yes/no, true/false, y/n, 1/0" in found.reason


def test_a_value_map_gives_booleans_other_words() -> None:
    spec = {"field": "tumor.primary_removed", "values": {"J": True, "N": False, "U": None}}
    assert value(spec, "J") is True
    assert value(spec, "N") is False
    assert value(spec, "U") is MISSING


def test_enum_fields_take_the_value_map_first_then_the_raw_value() -> None:
    spec = {"field": "patient.sex", "values": {"M": "male", "F": "female", "9": None}}
    assert value(spec, "M") == "male"
    assert value(spec, "f") == "female"  # codes match case-insensitively
    assert value(spec, "9") is MISSING
    assert value(spec, 9) is MISSING  # a Parquet integer code
    assert value(spec, "female") == "female"  # an allowed value passes unmapped
    assert value(spec, "OTHER") == "other"


def test_codes_differing_only_in_case_match_exactly() -> None:
    spec = {"field": "patient.sex", "values": {"m": "male", "M": "female"}}
    assert value(spec, "m") == "male"
    assert value(spec, "M") == "female"


def test_an_unknown_code_lists_the_allowed_values() -> None:
    found = problem({"field": "tumor.primary_site", "values": {"C17.2": "small_intestine"}}, "C99")
    assert found.path == "tumor.primary_site (column c)"
    assert found.value == "C99"
    assert "not in the column's values" in found.reason
    assert "allowed: stomach, duodenum, ampulla, small_intestine" in found.reason


def test_raw_enum_values_are_read_case_insensitively() -> None:
    assert value({"field": "tumor.reported_grade"}, "G2") == "g2"
    assert value({"field": "tumor.nodes"}, "NX") == "nx"


def test_therapy_takes_the_option_vocabulary() -> None:
    assert value({"field": "treatments[0].therapy"}, "everolimus") == "everolimus"
    assert value({"field": "treatments[0].therapy"}, "ssa_unspecified") == "ssa_unspecified"
    found = problem({"field": "treatments[0].therapy"}, "octreotide")
    assert found.path == "treatments[0].therapy (column c)"
    assert "see options.md" in found.reason


@pytest.mark.parametrize(
    ("spec", "top", "cell", "expected"),
    [
        ({"field": "as_of"}, {}, "2023-03-14", "2023-03-14"),
        ({"field": "as_of"}, {}, "2023-03-14T10:30:00", "2023-03-14"),
        ({"field": "as_of"}, {}, "2023-03-14 10:30", "2023-03-14"),
        ({"field": "as_of", "date_format": "%d/%m/%Y"}, {}, "14/03/2023", "2023-03-14"),
        ({"field": "as_of", "date_format": "%d/%m/%Y"}, {}, "4/3/2023", "2023-03-04"),
        ({"field": "as_of", "date_format": "%d/%m/%Y"}, {}, "2023-03-14", "2023-03-14"),
        ({"field": "as_of"}, {"date_format": "%d.%m.%Y"}, "14.03.2023", "2023-03-14"),
        ({"field": "as_of", "date_format": "%m/%d/%Y"}, {}, "03/14/2023", "2023-03-14"),
        ({"field": "as_of", "date_format": "%Y%m%d"}, {}, "20230314", "2023-03-14"),
        ({"field": "as_of", "date_format": "%Y%m%d"}, {}, 20230314, "2023-03-14"),
        ({"field": "as_of", "date_format": "%d %b %Y"}, {}, "14 Mar 2023", "2023-03-14"),
        ({"field": "as_of"}, {}, dt.date(2023, 3, 14), "2023-03-14"),
        ({"field": "as_of"}, {}, dt.datetime(2023, 3, 14, 9, 0), "2023-03-14"),
        ({"field": "treatments[0].start"}, {}, "2021-03", "2021-03"),
        ({"field": "treatments[0].start", "date_format": "%m/%Y"}, {}, "03/2021", "2021-03"),
        ({"field": "treatments[0].end", "date_format": "%d/%m/%Y"}, {}, "01/02/2021", "2021-02-01"),
        ({"field": "tumor.ki67_history[0].date"}, {}, "2019-05", "2019-05"),
    ],
)
def test_dates(spec: dict[str, Any], top: dict[str, Any], cell: object, expected: str) -> None:
    assert value(spec, cell, **top) == expected


@pytest.mark.parametrize(
    ("spec", "cell", "reason"),
    [
        ({"field": "as_of"}, "14/03/2023", "not a date written YYYY-MM-DD"),
        (
            {"field": "as_of", "date_format": "%d/%m/%Y"},
            "31/02/2023",
            "not a date written %d/%m/%Y",
        ),
        ({"field": "as_of"}, "2023-02-30", "not a real calendar date"),
        ({"field": "as_of"}, "2023-03", "not a date written YYYY-MM-DD"),
        ({"field": "treatments[0].start"}, "2021-13", "YYYY-MM-DD or YYYY-MM"),
        ({"field": "as_of"}, 3.5, "not a date"),
    ],
)
def test_date_problems(spec: dict[str, Any], cell: object, reason: str) -> None:
    assert reason in problem(spec, cell).reason


def test_text_fields_and_the_id_column() -> None:
    loaded = mapping({"detail": {"field": "tumor.primary_site_detail"}}, id="rec")
    case, problems = loaded.case_from_row({"rec": " R-1 ", "detail": "  mesentery "})
    assert problems == []
    assert case["id"] == "R-1"
    assert case["tumor"] == {"primary_site_detail": "mesentery"}
    assert loaded.case_from_row({"rec": 1234})[0]["id"] == "1234"  # a Parquet integer
    assert loaded.id_column == "rec"
    too_long = loaded.case_from_row({"detail": "x" * 201})[1]
    assert too_long == [
        RowProblem(
            "tumor.primary_site_detail (column detail)", "x" * 201, "longer than 200 characters"
        )
    ]


@pytest.mark.parametrize("cell", [None, "", "   ", "\t", math.nan])
def test_blank_cells_leave_the_field_out(cell: object) -> None:
    for field in (
        "patient.age_years",
        "tumor.ki67_percent",
        "tumor.primary_removed",
        "patient.sex",
        "as_of",
        "tumor.primary_site_detail",
        "extensions.x",
    ):
        case, problems = one({"field": field}, cell)
        assert problems == []
        assert case == {"format": "netnav-case/1"}


def test_a_column_absent_from_the_row_leaves_the_field_out() -> None:
    loaded = mapping({"age": {"field": "patient.age_years"}})
    assert loaded.case_from_row({}) == ({"format": "netnav-case/1"}, [])


def test_missing_values_mean_unknown_in_every_column() -> None:
    loaded = mapping(
        {"age": {"field": "patient.age_years"}, "sex": {"field": "patient.sex"}},
        missing_values=["NA", "n/k", 999],
    )
    case, problems = loaded.case_from_row({"age": "na", "sex": "N/K"})
    assert (case, problems) == ({"format": "netnav-case/1"}, [])
    assert loaded.case_from_row({"age": "999"})[0] == {"format": "netnav-case/1"}


# --- lists ---------------------------------------------------------------------------------


def metastases_mapping() -> ColumnMapping:
    return mapping(
        {
            "liver": {"field": "tumor.metastases[]", "when_true": "liver"},
            "bone": {"field": "tumor.metastases[]", "when_true": "bone"},
            "other": {"field": "tumor.metastases[]", "separator": ";"},
        }
    )


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"liver": "1", "bone": "0"}, ["liver"]),
        ({"liver": "yes", "bone": "Y"}, ["liver", "bone"]),
        ({"liver": "0", "bone": "no"}, []),  # examined and free: staged, none found
        ({"liver": "1", "bone": None}, ["liver"]),
        ({"liver": None, "bone": ""}, MISSING),  # unknown is never "no"
        ({"other": "lung; Peritoneum ;liver", "liver": "1"}, ["liver", "lung", "peritoneum"]),
        ({"other": "bone;bone"}, ["bone"]),
    ],
)
def test_list_fields(row: dict[str, object], expected: object) -> None:
    case, problems = metastases_mapping().case_from_row(row)
    assert problems == []
    assert case.get("tumor", {}).get("metastases", MISSING) == expected


def test_a_bad_list_item_is_a_problem() -> None:
    case, problems = metastases_mapping().case_from_row({"other": "lung;spleen", "liver": "x"})
    assert [p.path for p in problems] == [
        "tumor.metastases[] (column liver)",
        "tumor.metastases[] (column other)",
    ]
    assert "allowed: liver, bone" in problems[1].reason
    assert problems[1].value == "lung;spleen"
    assert "tumor" not in case


def test_a_list_value_map_may_say_none_found() -> None:
    spec = {"field": "tumor.symptoms[]", "values": {"0": [], "FL": "flushing", "X": None}}
    assert value(spec, "0") == []
    assert value(spec, "FL") == ["flushing"]
    assert value(spec, "X") is MISSING


def test_list_columns_extend_a_constant_list() -> None:
    loaded = mapping(
        {"liver": {"field": "tumor.metastases[]", "when_true": "liver"}},
        case={"tumor": {"primary_site": "colon", "metastases": ["bone"]}},
    )
    assert loaded.case_from_row({"liver": "1"})[0]["tumor"]["metastases"] == ["bone", "liver"]
    assert loaded.case_from_row({})[0]["tumor"]["metastases"] == ["bone"]  # not shared


def test_preferences_declines_take_option_ids() -> None:
    spec = {"field": "preferences.declines[]", "separator": ","}
    assert value(spec, "everolimus,sunitinib") == ["everolimus", "sunitinib"]
    assert "allowed:" in problem(spec, "ssa_unspecified").reason


def test_numbered_treatments_become_a_list_in_order_dropping_blank_ones() -> None:
    loaded = mapping(
        {
            "tx1": {"field": "treatments.0.therapy"},
            "tx1_start": {"field": "treatments.0.start"},
            "tx2": {"field": "treatments[1].therapy"},
            "tx3": {"field": "treatments[2].therapy"},
            "tx3_cycles": {"field": "treatments[2].cycles"},
        }
    )
    case, problems = loaded.case_from_row(
        {"tx1": "lanreotide", "tx1_start": "2020-01", "tx3": "everolimus", "tx3_cycles": "4"}
    )
    assert problems == []
    assert case["treatments"] == [
        {"therapy": "lanreotide", "start": "2020-01"},
        {"therapy": "everolimus", "cycles": 4},
    ]
    assert "treatments" not in loaded.case_from_row({})[0]


# --- constants, extensions, several columns for one field ----------------------------------


def test_constants_are_put_in_every_case_and_columns_replace_them() -> None:
    loaded = mapping(
        {"region": {"field": "setting.region"}, "site": {"field": "tumor.primary_site"}},
        case={"setting": {"region": "eu"}, "tumor": {"primary_site": "pancreas"}},
    )
    first, _ = loaded.case_from_row({"region": "uk"})
    assert first == {
        "format": "netnav-case/1",
        "setting": {"region": "uk"},
        "tumor": {"primary_site": "pancreas"},
    }
    second, _ = loaded.case_from_row({"site": "lung"})
    assert second["setting"] == {"region": "eu"}  # the first row did not change the constants
    assert second["tumor"] == {"primary_site": "lung"}


def test_extension_columns() -> None:
    loaded = mapping(
        {
            "tx": {
                "field": "extensions.actual_treatment.option",
                "type": "option",
                "values": {"LAN": "lanreotide", "SSA": "ssa"},
            },
            "tx_date": {"field": "extensions.actual_treatment.date", "date_format": "%d/%m/%Y"},
            "ward": {"field": "extensions.registry.ward"},
            "visits": {"field": "extensions.registry.visits", "type": "integer"},
            "dose": {"field": "extensions.registry.dose", "type": "number"},
            "trial": {"field": "extensions.registry.trial", "type": "boolean"},
        }
    )
    case, problems = loaded.case_from_row(
        {
            "tx": "SSA",
            "tx_date": "02/03/2024",
            "ward": "B4",
            "visits": "3",
            "dose": "120.5",
            "trial": "n",
        }
    )
    assert problems == []
    assert case["extensions"] == {
        "actual_treatment": {"option": "ssa", "date": "2024-03-02"},
        "registry": {"ward": "B4", "visits": 3, "dose": 120.5, "trial": False},
    }
    assert loaded.case_from_row({"tx": "capecitabine_temozolomide"})[0]["extensions"] == {
        "actual_treatment": {"option": "capecitabine_temozolomide"}
    }
    found = loaded.case_from_row({"tx": "SSA-X"})[1]
    assert found[0].path == "extensions.actual_treatment.option (column tx)"


def test_option_type_takes_option_ids_and_groups() -> None:
    spec = {"field": "extensions.actual.option", "type": "option"}
    # Every id a recorded treatment may carry: options, groups and the unspecific history
    # ids that stand for a group (read as in netnav.cohort.actual).
    for option in (*OPTION_IDS, *GROUPS, "ssa_unspecified", "prrt_other"):
        assert value(spec, option) == option
    assert "allowed:" in problem(spec, "chemotherapy_unspecified").reason


def test_several_columns_for_one_field_the_first_with_a_value_wins() -> None:
    loaded = mapping(
        {
            "ki67_pct": {"field": "tumor.ki67_percent"},
            "ki67_frac": {"field": "tumor.ki67_percent", "unit": "fraction"},
        }
    )
    assert loaded.case_from_row({"ki67_pct": "5", "ki67_frac": None})[0]["tumor"] == {
        "ki67_percent": 5
    }
    assert loaded.case_from_row({"ki67_pct": "", "ki67_frac": "0.05"})[0]["tumor"] == {
        "ki67_percent": 5
    }
    case, problems = loaded.case_from_row({"ki67_pct": "5", "ki67_frac": "0.05"})
    assert problems == []
    case, problems = loaded.case_from_row({"ki67_pct": "5", "ki67_frac": "0.5"})
    assert case["tumor"] == {"ki67_percent": 5}
    assert problems == [
        RowProblem(
            "tumor.ki67_percent (column ki67_frac)",
            "0.5",
            "disagrees with column ki67_pct (5), whose value was kept",
        )
    ]
    case, problems = loaded.case_from_row({"ki67_pct": "x", "ki67_frac": "0.5"})
    assert case["tumor"] == {"ki67_percent": 50}
    assert [p.path for p in problems] == ["tumor.ki67_percent (column ki67_pct)"]


def test_one_column_may_fill_several_fields() -> None:
    loaded = mapping(
        {
            "morph": [
                {"field": "tumor.differentiation", "values": {"8041/3": "poor", "8240/3": "well"}},
                {"field": "tumor.nec_subtype", "values": {"8041/3": "small_cell", "8240/3": None}},
            ]
        }
    )
    assert loaded.columns == ("morph",)
    assert loaded.case_from_row({"morph": "8041/3"})[0]["tumor"] == {
        "differentiation": "poor",
        "nec_subtype": "small_cell",
    }
    assert loaded.case_from_row({"morph": "8240/3"})[0]["tumor"] == {"differentiation": "well"}


def test_problems_name_field_column_and_value_and_keep_the_other_fields() -> None:
    loaded = mapping(
        {
            "Ki-67 (%)": {"field": "tumor.ki67_percent"},
            "site": {"field": "tumor.primary_site"},
            "age": {"field": "patient.age_years"},
        }
    )
    case, problems = loaded.case_from_row({"Ki-67 (%)": "abc", "site": "colon", "age": "200"})
    assert case == {"format": "netnav-case/1", "tumor": {"primary_site": "colon"}}
    assert problems == [
        RowProblem("tumor.ki67_percent (column Ki-67 (%))", "abc", problems[0].reason),
        RowProblem("patient.age_years (column age)", "200", "200 is above the maximum 120"),
    ]
    assert "not a number" in problems[0].reason


def test_case_from_row_is_pure_and_deterministic() -> None:
    loaded = load_mapping(EXAMPLE_MAPPING)
    row = example_rows()[0]
    snapshot = dict(row)
    first = loaded.case_from_row(row)
    first[0]["tumor"]["metastases"].append("bone")
    first[0]["setting"]["region"] = "us"
    second = loaded.case_from_row(row)
    assert second == loaded.case_from_row(row)
    assert second[0]["setting"] == {"region": "eu"}
    assert "bone" not in second[0]["tumor"]["metastases"]
    assert row == snapshot


def test_a_mapping_pickles_for_worker_processes() -> None:
    loaded = load_mapping(EXAMPLE_MAPPING)
    again = pickle.loads(pickle.dumps(loaded))
    assert again.columns == loaded.columns
    for row in example_rows():
        assert again.case_from_row(row) == loaded.case_from_row(row)


def test_the_mapping_loader_leaves_yaml_safe_load_alone() -> None:
    load_mapping(EXAMPLE_MAPPING)
    assert yaml.safe_load("a: yes") == {"a": True}


# --- check_columns -------------------------------------------------------------------------


def test_check_columns_lists_every_missing_column() -> None:
    loaded = mapping(
        {"age": {"field": "patient.age_years"}, "Sex": {"field": "patient.sex"}}, id="record"
    )
    loaded.check_columns(["record", "age", "Sex", "unmapped"])
    with pytest.raises(MappingError) as caught:
        loaded.check_columns(["age", "sex", "postcode"])
    message = str(caught.value)
    assert "'record'" in message
    assert "'Sex' (the table has 'sex')" in message
    assert "'age'" not in message.split(";")[0]
    assert "its columns are: 'age', 'sex', 'postcode'" in message


# --- the example files ---------------------------------------------------------------------


def example_rows() -> list[dict[str, object]]:
    with EXAMPLE_EXTRACT.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


BROKEN = {"NETR-0013": "ki67_pct", "NETR-0021": "icdo3_topo"}


def test_example_mapping_loads_and_fits_the_extract() -> None:
    loaded = load_mapping(EXAMPLE_MAPPING)
    with EXAMPLE_EXTRACT.open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    loaded.check_columns(header)
    assert {"postcode", "comments"} <= set(header) - set(loaded.columns)  # ignored columns
    assert 25 <= len(example_rows()) <= 40


def test_every_example_row_but_the_two_broken_ones_is_a_valid_case() -> None:
    loaded = load_mapping(EXAMPLE_MAPPING)
    rows = example_rows()
    broken_seen = []
    for row in rows:
        case, problems = loaded.case_from_row(row)
        record = row["record_no"]
        if record in BROKEN:
            broken_seen.append(record)
            column = BROKEN[str(record)]
            assert problems, record
            assert all(f"(column {column})" in p.path for p in problems), problems
            assert all(p.value == row[column] for p in problems)
            continue
        assert problems == [], (record, problems)
        valid = case_from_mapping(case)
        assert valid.id == record
        actual = case["extensions"]["actual_treatment"]
        assert actual["option"] in OPTION_IDS or actual["option"] in GROUPS
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", actual["date"])
    assert sorted(broken_seen) == sorted(BROKEN)


def test_the_broken_example_rows() -> None:
    loaded = load_mapping(EXAMPLE_MAPPING)
    by_id = {row["record_no"]: row for row in example_rows()}
    case, problems = loaded.case_from_row(by_id["NETR-0013"])
    assert problems == [
        RowProblem("tumor.ki67_percent (column ki67_pct)", "abc", problems[0].reason)
    ]
    case_from_mapping(case)  # the rest of the row is still a case, Ki-67 unknown
    assert "ki67_percent" not in case["tumor"]
    case, problems = loaded.case_from_row(by_id["NETR-0021"])
    assert [(p.path, p.value) for p in problems] == [
        ("tumor.primary_site (column icdo3_topo)", "C99.9")
    ]
    with pytest.raises(CaseError, match=r"tumor\.primary_site"):
        case_from_mapping(case)


def test_example_conversions() -> None:
    loaded = load_mapping(EXAMPLE_MAPPING)
    by_id = {row["record_no"]: row for row in example_rows()}
    case, _ = loaded.case_from_row(by_id["NETR-0002"])
    assert case["as_of"] == "2018-05-02"
    assert case["tumor"]["ki67_percent"] == 8  # the fraction column 0.08
    assert case["tumor"]["size_mm"] == 34
    assert case["tumor"]["metastases"] == ["liver"]
    assert case["treatments"] == [
        {
            "therapy": "octreotide_lar",
            "start": "2016-06-15",
            "end": "2018-03-10",
            "best_response": "sd",
        }
    ]
    case, _ = loaded.case_from_row(by_id["NETR-0012"])
    assert "sex" not in case["patient"]  # sex 9 = not recorded
    assert case["tumor"]["nec_subtype"] == "large_cell"
    case, _ = loaded.case_from_row(by_id["NETR-0010"])
    assert "size_mm" not in case["tumor"]
    assert case["tumor"]["metastases"] == ["liver", "bone", "distant_lymph_nodes", "peritoneum"]


# --- the reference documentation -----------------------------------------------------------


def test_the_reference_documents_every_key_and_unit() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key in (*MappingDocument.model_fields, *ColumnSpec.model_fields):
        assert f"`{key}`" in text, key
    for units in UNITS.values():
        for unit in units:
            assert f"`{unit}`" in text, unit


# --- round trip: a row built from a valid case's scalar fields gives that case back ---------


def _schema() -> dict[str, Any]:
    text = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _scalar_leaves(node: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    if node.get("type") == "object" and "properties" in node:
        for key, child in node["properties"].items():
            if key in ("format", "treatments", "extensions"):
                continue
            yield from _scalar_leaves(child, f"{path}.{key}" if path else key)
    elif node.get("type") != "array":
        yield path, node


LEAVES = dict(_scalar_leaves(_schema()))
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=30
)


def _strategy(path: str, node: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(node.get("minimum", 0), node.get("maximum", 10**9))
    if kind == "number":
        return st.floats(
            min_value=node.get("minimum", node.get("exclusiveMinimum", 0)),
            max_value=node.get("maximum"),
            exclude_min="exclusiveMinimum" in node,
            allow_nan=False,
            allow_infinity=False,
        )
    if path == "as_of":
        return st.dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat)
    return _TEXT


@st.composite
def scalar_cases(draw: st.DrawFn) -> dict[str, Any]:
    chosen: dict[str, Any] = {
        "tumor.primary_site": draw(_strategy("", LEAVES["tumor.primary_site"]))
    }
    for path in draw(st.sets(st.sampled_from(sorted(LEAVES)))):
        chosen[path] = draw(_strategy(path, LEAVES[path]))
    low, high = (
        chosen.get("tumor.sstr_imaging.krenning_min"),
        chosen.get("tumor.sstr_imaging.krenning_max"),
    )
    if low is not None and high is not None and low > high:
        chosen["tumor.sstr_imaging.krenning_min"] = high
        chosen["tumor.sstr_imaging.krenning_max"] = low
    return chosen


def _cell(leaf: object, as_text: bool, date_format: str | None) -> object:
    if isinstance(leaf, bool):
        return ("yes" if leaf else "no") if as_text else leaf
    if isinstance(leaf, float):
        return repr(leaf) if as_text else leaf
    if isinstance(leaf, int):
        return str(leaf) if as_text else leaf
    if date_format is not None and isinstance(leaf, str):
        return dt.date.fromisoformat(leaf).strftime(date_format)
    return leaf


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    case: dict[str, Any] = {"format": "netnav-case/1"}
    for path, leaf in flat.items():
        node = case
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = leaf
    return case


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scalar_cases(), st.data())
def test_a_row_built_from_a_valid_case_round_trips(
    flat: dict[str, Any], data: st.DataObject
) -> None:
    expected = _nested(flat)
    case_from_mapping(expected)  # the generated case is valid
    date_format = data.draw(st.sampled_from([None, "%d/%m/%Y", "%Y%m%d"]))
    columns = {f"col {path}": {"field": path} for path in flat}
    if "as_of" in flat and date_format is not None:
        columns["col as_of"]["date_format"] = date_format
    loaded = mapping(columns)
    row = {
        f"col {path}": _cell(
            leaf, data.draw(st.booleans()), date_format if path == "as_of" else None
        )
        for path, leaf in flat.items()
    }
    row["an unmapped column"] = "ignored"
    case, problems = loaded.case_from_row(row)
    assert problems == []
    assert case == expected
    assert case_from_mapping(case) == case_from_mapping(expected)


def test_the_yaml_examples_of_the_reference_load(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    for index, block in enumerate(blocks):
        if not block.startswith("format:"):
            block = "format: netnav-cohort-mapping/1\ncolumns:\n" + block
        path = tmp_path / f"block{index}.yaml"
        path.write_text(block, encoding="utf-8")
        load_mapping(path)
