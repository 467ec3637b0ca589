"""The case form: layout vs schema, form data <-> case document, errors, and the HTML macro."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from bs4 import BeautifulSoup, Tag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netnav.case.load import case_from_mapping
from netnav.errors import CaseError, CaseProblem
from netnav.web.form import (
    EXTENSIONS_FIELD,
    NONE_CHOICE,
    FormGroup,
    FormLayoutError,
    build_layout,
    case_from_form,
    field_errors,
    field_id,
    form_layout,
    form_values,
    schema_leaves,
    unmapped_paths,
)
from tests.test_properties import case_documents

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "src" / "netnav" / "web" / "templates"
LAYOUT_FILE = ROOT / "src" / "netnav" / "web" / "data" / "form.yaml"
CASE_FILES = sorted(
    [
        *(ROOT / "tests" / "data").glob("*/*.json"),
        *(ROOT / "src" / "netnav" / "web" / "data" / "examples").glob("*.json"),
    ]
)


def _case_of(path: Path) -> dict[str, Any]:
    """The case document of a bundled file (bare, or wrapped under "case")."""
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data if "format" in data else data["case"]


def _problems(doc: dict[str, Any]) -> list[CaseProblem]:
    with pytest.raises(CaseError) as caught:
        case_from_mapping(doc)
    return caught.value.problems


def _all_fields(groups: tuple[FormGroup, ...]) -> list[str]:
    return [field.path for group in groups for field in group.all_fields() if field.kind != "none"]


BASE_FORM = {"tumor.primary_site": "small_intestine"}


# --- the layout -----------------------------------------------------------------------------


def test_every_schema_leaf_is_asked_exactly_once() -> None:
    asked = _all_fields(form_layout())
    assert len(asked) == len(set(asked)), [p for p in asked if asked.count(p) > 1]
    leaves = set(schema_leaves())
    assert set(asked) == leaves
    # The walk is real: a few leaves from each level of the schema are there.
    assert {
        "id",
        "setting.region",
        "patient.labs.egfr_ml_min",
        "tumor.sstr_imaging.krenning_min",
        "tumor.ki67_history[].specimen",
        "treatments[].therapy",
        "preferences.declines",
    } <= leaves
    assert "format" not in leaves and "extensions" not in leaves


def test_groups_in_the_clinical_order() -> None:
    assert [group.id for group in form_layout()] == [
        "case",
        "patient",
        "tumour",
        "spread",
        "hormones",
        "scans",
        "treatments",
        "preferences",
    ]
    patient = form_layout()[1]
    assert [(sub.id, sub.collapsible) for sub in patient.subgroups] == [
        ("comorbidities", True),
        ("labs", True),
        ("pharmacogenomics", True),
    ]


def test_field_kinds_come_from_the_schema() -> None:
    fields = {f.path: f for g in form_layout() for f in g.all_fields()}
    ki67 = fields["tumor.ki67_percent"]
    assert (ki67.kind, ki67.label, ki67.unit, ki67.html_min, ki67.html_max, ki67.step) == (
        "number",
        "Ki-67 index",
        "%",
        "0",
        "100",
        "any",
    )
    assert (fields["patient.ecog"].step, fields["patient.ecog"].html_max) == ("1", "4")
    assert fields["patient.frail"].kind == "yesno"
    assert fields["patient.frail"].choices == (("yes", "Yes"), ("no", "No"))
    assert fields["tumor.metastases"].kind == "checkboxes"
    assert fields["tumor.metastases"].none_label == "None found (staged)"
    assert fields["as_of"].kind == "date"
    assert fields["treatments[].start"].kind == "partial_date"
    assert fields["tumor.primary_site_detail"].max_length == 200
    grade = dict(fields["tumor.reported_grade"].choices)
    assert grade == {"g1": "G1", "g2": "G2", "g3": "G3"}
    modality = dict(fields["tumor.sstr_imaging.modality"].choices)
    assert modality["ga68_dotatate_pet"] == "⁶⁸Ga-DOTATATE PET"
    assert fields["tumor.sstr_imaging.krenning_min"].label == "Krenning score (lowest lesion)"
    assert fields["tumor.primary_site"].required
    assert fields["tumor.primary_site"].empty_label == "Choose…"
    assert fields["patient.sex"].empty_label == "Unknown / not recorded"


def test_therapy_choices_are_every_therapy_id_with_its_name() -> None:
    from netnav.knowledge.load import default_knowledge
    from netnav.vocabulary import ALL_THERAPY_IDS, OPTION_IDS

    fields = {f.path: f for g in form_layout() for f in g.all_fields()}
    therapy = dict(fields["treatments[].therapy"].choices)
    assert set(therapy) == ALL_THERAPY_IDS
    assert therapy["octreotide_lar"] == default_knowledge().therapies["octreotide_lar"].name
    assert set(fields["preferences.declines"].choice_values) == set(OPTION_IDS)


def test_repeated_groups() -> None:
    groups = {g.id: g for top in form_layout() for g in top.walk()}
    treatments, history = groups["treatments"], groups["ki67-history"]
    assert (treatments.repeat, treatments.rows, treatments.max_rows) == ("treatments", 8, None)
    assert (history.repeat, history.rows, history.max_rows) == ("tumor.ki67_history", 3, 50)
    assert [f.key for f in history.fields] == ["date", "percent", "specimen"]
    # Rows: at least the minimum, and always one empty row after the last one used.
    assert treatments.row_count({}) == 8
    assert treatments.row_count({"treatments[8].therapy": "everolimus"}) == 10
    assert treatments.open_rows({"treatments[2].therapy": "everolimus"}) == 4
    assert history.row_count({}, {"tumor.ki67_history[4].percent": ["x"]}) == 6


def _layout_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LAYOUT_FILE.read_text("utf-8"))
    return data


def test_layout_with_an_unknown_path_is_refused() -> None:
    data = _layout_data()
    data["groups"][0]["fields"].append({"path": "patient.shoe_size", "label": "Shoe size"})
    with pytest.raises(FormLayoutError, match=r"'patient\.shoe_size': no such field"):
        build_layout(data)


def test_layout_missing_a_schema_field_is_refused() -> None:
    data = _layout_data()
    fields = data["groups"][1]["fields"]
    data["groups"][1]["fields"] = [f for f in fields if f["path"] != "patient.frail"]
    with pytest.raises(FormLayoutError, match=r"schema fields not in the form: patient\.frail"):
        build_layout(data)


def test_layout_asking_a_field_twice_or_with_a_typo_is_refused() -> None:
    data = _layout_data()
    data["groups"][0]["fields"].append({"path": "id", "label": "Again"})
    with pytest.raises(FormLayoutError, match=r"'id': the field is asked twice"):
        build_layout(data)
    data = _layout_data()
    data["groups"][0]["fields"][0]["lable"] = "typo"
    with pytest.raises(FormLayoutError, match=r"'id': unknown keys \['lable'\]"):
        build_layout(data)
    data = _layout_data()
    data["groups"][4]["fields"][0]["labels"]["mumps"] = "Mumps"
    with pytest.raises(FormLayoutError, match="labels for values the field does not have"):
        build_layout(data)


# --- form -> case document ------------------------------------------------------------------


def test_a_filled_form_becomes_a_case() -> None:
    form = {
        "csrftoken": "abc",
        "id": "R-17",
        "as_of": "2026-05-01",
        "setting.region": "eu",
        "patient.age_years": "64",
        "patient.frail": "no",
        "patient.labs.egfr_ml_min": " 55.5 ",
        "tumor.primary_site": "pancreas",
        "tumor.ki67_percent": "12",
        "tumor.metastases": ["liver", "bone"],
        "tumor.sstr_imaging.krenning_min": "3",
        "tumor.sstr_imaging.all_lesions_positive": "yes",
        "treatments[0].therapy": "octreotide_lar",
        "treatments[0].start": "2024-01",
        "treatments[0].ongoing": "yes",
        "preferences.declines": ["everolimus"],
        "unrelated": "ignored",
    }
    doc = case_from_form(form)
    assert doc == {
        "format": "netnav-case/1",
        "id": "R-17",
        "as_of": "2026-05-01",
        "setting": {"region": "eu"},
        "patient": {"age_years": 64, "frail": False, "labs": {"egfr_ml_min": 55.5}},
        "tumor": {
            "primary_site": "pancreas",
            "ki67_percent": 12,
            "metastases": ["liver", "bone"],
            "sstr_imaging": {"krenning_min": 3, "all_lesions_positive": True},
        },
        "treatments": [{"therapy": "octreotide_lar", "start": "2024-01", "ongoing": True}],
        "preferences": {"declines": ["everolimus"]},
    }
    assert case_from_mapping(doc).tumor.ki67_percent == 12


def test_unknown_and_empty_answers_stay_absent() -> None:
    form = {
        **BASE_FORM,
        "patient.frail": "",
        "patient.pregnant_or_breastfeeding": "",
        "patient.ecog": "",
        "patient.sex": "",
        "tumor.metastases": [],
        "tumor.symptoms": ["", ""],
        "id": "   ",
        "treatments[0].therapy": "",
        "treatments[0].ongoing": "",
    }
    doc = case_from_form(form)
    assert doc == {"format": "netnav-case/1", "tumor": {"primary_site": "small_intestine"}}
    case = case_from_mapping(doc)
    assert case.patient is None or case.patient.frail is None
    assert case.tumor.metastases is None and case.treatments is None


def test_none_choices_are_empty_lists_not_absent() -> None:
    form = {
        **BASE_FORM,
        "tumor.metastases": [NONE_CHOICE],
        "tumor.symptoms": NONE_CHOICE,
        "treatments": NONE_CHOICE,
    }
    doc = case_from_form(form)
    assert doc["tumor"]["metastases"] == [] and doc["tumor"]["symptoms"] == []
    assert doc["treatments"] == []
    case = case_from_mapping(doc)
    assert case.tumor.metastases == () and case.treatments == ()


def test_unparsable_number_reaches_the_validator_with_its_path() -> None:
    form = {**BASE_FORM, "tumor.ki67_percent": "12,5", "patient.age_years": "sixty"}
    doc = case_from_form(form)
    assert doc["tumor"]["ki67_percent"] == "12,5"
    assert doc["patient"]["age_years"] == "sixty"
    problems = {p.path: p for p in _problems(doc)}
    assert problems["tumor.ki67_percent"].value == "12,5"
    assert problems["patient.age_years"].message == "must be a whole number (an integer)"
    errors = field_errors(list(problems.values()))
    assert errors["tumor.ki67_percent"] == [
        "write decimals with a point: 12.5 (given “12,5”); no thousands separators"
    ]
    assert errors["patient.age_years"] == ["a number only, in years (given “sixty”)"]


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "0x10"])
def test_non_finite_or_odd_numbers_stay_text(text: str) -> None:
    doc = case_from_form({**BASE_FORM, "tumor.size_mm": text})
    assert doc["tumor"]["size_mm"] == text
    assert [p.path for p in _problems(doc)] == ["tumor.size_mm"]


def test_an_odd_answer_to_a_yes_no_question_is_refused_not_dropped() -> None:
    doc = case_from_form({**BASE_FORM, "patient.frail": "maybe"})
    assert doc["patient"]["frail"] == "maybe"
    errors = field_errors(_problems(doc))
    assert errors == {"patient.frail": ["must be true or false (given “maybe”)"]}


def test_treatment_rows() -> None:
    form = {
        **BASE_FORM,
        "treatments[0].therapy": "octreotide_lar",
        "treatments[0].start": "2023-01",
        # rows 1 and 2 left empty (row 2 all "unknown"): dropped
        "treatments[1].therapy": "",
        "treatments[2].ongoing": "",
        "treatments[2].best_response": "",
        # row 3: fields but no therapy, kept so that the validator asks for it
        "treatments[3].start": "2024-06",
        "treatments[3].stop_reason": "toxicity",
        "treatments[12].therapy": "everolimus",
        "treatments[12].cycles": "4",
    }
    doc = case_from_form(form)
    assert doc["treatments"] == [
        {"therapy": "octreotide_lar", "start": "2023-01"},
        {"start": "2024-06", "stop_reason": "toxicity"},
        {"therapy": "everolimus", "cycles": 4},
    ]
    problems = _problems(doc)
    assert [(p.path, p.message) for p in problems] == [
        ("treatments[1].therapy", "required field is missing")
    ]
    # Re-rendered from the document, the rows are renumbered and the error names row 2.
    values = form_values(doc)
    assert values["treatments[1].start"] == "2024-06"
    assert values["treatments[2].therapy"] == "everolimus"
    errors = field_errors(problems)
    assert errors == {
        "treatments[1].therapy": ["required in a row that is filled in (or clear the row)"]
    }


def test_rows_and_none_together_are_refused_at_the_none_box() -> None:
    form = {**BASE_FORM, "treatments": NONE_CHOICE, "treatments[0].therapy": "lanreotide"}
    doc = case_from_form(form)
    assert doc["treatments"] == [{"therapy": "lanreotide"}, NONE_CHOICE]
    errors = field_errors(_problems(doc))
    assert errors == {
        "treatments": [
            "“No treatment so far” is ticked, but entries are given too: "
            "untick it or clear the entries"
        ]
    }


def test_multidict_forms_are_read_with_getlist() -> None:
    class MultiDict(dict[str, str]):
        """Like Starlette's FormData: [] gives the last value, getlist all of them."""

        def __init__(self, pairs: list[tuple[str, str]]) -> None:
            super().__init__(pairs)
            self.pairs = pairs

        def getlist(self, key: str) -> list[str]:
            return [value for name, value in self.pairs if name == key]

    form = MultiDict(
        [
            ("csrftoken", "t"),
            ("tumor.primary_site", "pancreas"),
            ("tumor.symptoms", "flushing"),
            ("tumor.symptoms", "diarrhea"),
        ]
    )
    assert case_from_form(form)["tumor"]["symptoms"] == ["flushing", "diarrhea"]


# --- extensions -----------------------------------------------------------------------------


def test_extensions_travel_in_a_hidden_field() -> None:
    doc = _case_of(ROOT / "tests/data/examples/pancreas-vipoma-watery-diarrhoea.json")
    values = form_values(doc)
    assert json.loads(str(values[EXTENSIONS_FIELD])) == doc["extensions"]
    assert unmapped_paths(doc) == ["extensions.source_notes"]
    assert case_from_form(values)["extensions"] == doc["extensions"]


@pytest.mark.parametrize("text", ['{"a": ', "[1, 2]", '"text"'])
def test_damaged_extensions_are_refused_at_form_level(text: str) -> None:
    doc = case_from_form({**BASE_FORM, EXTENSIONS_FIELD: text})
    assert doc["extensions"] == text
    errors = field_errors(_problems(doc))
    assert errors == {
        "": [f"Data kept from the loaded case (extensions): must be a JSON object (given “{text}”)"]
    }


def test_unmapped_paths_of_an_invalid_case() -> None:
    doc = {
        "format": "netnav-case/1",
        "tumor": {"primary_site": "lung", "shoe_size": 9, "sstr_imaging": "none"},
        "treatments": [{"therapy": "everolimus", "dose": "10 mg"}, "x"],
        "extensions": {"a b": 1, "c": {"d": 2}},
    }
    assert unmapped_paths(doc) == [
        "tumor.shoe_size",
        "tumor.sstr_imaging",
        "treatments[0].dose",
        "treatments[1]",
        'extensions["a b"]',
        "extensions.c",
    ]
    assert form_values(doc) == {
        "tumor.primary_site": "lung",
        "treatments[0].therapy": "everolimus",
        EXTENSIONS_FIELD: '{"a b": 1, "c": {"d": 2}}',
    }


# --- round trip -----------------------------------------------------------------------------


def test_bundled_cases_are_found() -> None:
    folders = {path.parent.name for path in CASE_FILES}
    assert folders == {"clinical", "examples", "vignettes"}
    assert len(CASE_FILES) > 100


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip_of_every_bundled_case(path: Path) -> None:
    doc = _case_of(path)
    values = form_values(doc)
    assert case_from_form(values) == doc
    # Every value the form shows is a plain text or a list of texts, as a browser posts them.
    assert all(isinstance(v, str) or all(isinstance(i, str) for i in v) for v in values.values())
    assert all(p.startswith("extensions") for p in unmapped_paths(doc))


def _as_the_form_says_it(value: Any, top: bool = True) -> Any:
    """The document without empty objects and blank texts (an empty ``id``): a form has no
    way (and no need) to tell them from a field left out."""
    if isinstance(value, dict):
        kept = {
            k: v if (top and k == "extensions") else _as_the_form_says_it(v, False)
            for k, v in value.items()
        }
        return {
            k: v for k, v in kept.items() if (v != {} and v != "") or (top and k == "extensions")
        }
    if isinstance(value, list):
        return [_as_the_form_says_it(item, False) for item in value]
    return value.strip() and value if isinstance(value, str) else value


def _storable_text(max_size: int) -> st.SearchStrategy[str]:
    """Text a case may hold: no NUL, no lone surrogate (the case loader refuses those)."""
    return st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=max_size)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=case_documents(),
    extensions=st.none()
    | st.dictionaries(
        _storable_text(max_size=5), st.integers() | _storable_text(max_size=10), max_size=3
    ),
    history=st.lists(
        st.fixed_dictionaries(
            {"percent": st.integers(0, 100)},
            optional={"specimen": st.sampled_from(["primary", "metastasis", "unknown"])},
        ),
        max_size=4,
    ),
)
def test_round_trip_of_generated_cases(
    doc: dict[str, Any], extensions: dict[str, Any] | None, history: list[dict[str, Any]]
) -> None:
    doc = copy.deepcopy(doc)
    if extensions is not None:
        doc["extensions"] = extensions
    if history:
        doc["tumor"]["ki67_history"] = history
    case_from_mapping(doc)  # a valid case
    expected = _as_the_form_says_it(doc)
    assert case_from_form(form_values(doc)) == expected


# --- problems -> field errors ---------------------------------------------------------------


def test_field_errors_of_real_problems() -> None:
    doc = {
        "format": "netnav-case/1",
        "as_of": "2026-01-01",
        "patient": {"karnofsky": 140, "ecog": 7},
        "tumor": {
            "primary_site": "pancreas",
            "size_mm": 0,
            "metastases": ["liver", "moon"],
            "sstr_imaging": {"krenning_min": 4, "krenning_max": 2},
            "ki67_history": [{"date": "2024/01"}],
        },
        "treatments": [
            {"therapy": "octreotide_lar", "start": "2025-01", "end": "2024-01"},
            {"therapy": "octreotid"},
        ],
    }
    errors = field_errors(_problems(doc))
    assert errors == {
        "patient.karnofsky": ["must be at most 100 (given 140)"],
        "patient.ecog": ["must be at most 4 (given 7)"],
        "tumor.size_mm": ["must be more than 0 (given 0)"],
        "tumor.metastases": ["not one of the choices (given “moon”)"],
        "tumor.ki67_history[0].date": [
            "not a date written YYYY-MM or YYYY-MM-DD (given “2024/01”)"
        ],
        "tumor.ki67_history[0].percent": ["required in a row that is filled in (or clear the row)"],
        "tumor.sstr_imaging.krenning_min": ["krenning_min (4) is greater than krenning_max (2)"],
        "treatments[0].end": ["the end is before the start (2025-01); given “2024-01”"],
        "treatments[1].therapy": ["not a therapy id of options.md (given “octreotid”)"],
    }


def test_problems_without_a_field() -> None:
    problems = [
        CaseProblem("tumor", "required field is missing", None, "a JSON object"),
        CaseProblem("", "the case must be a JSON object", "array"),
        CaseProblem("extensions.notes", "extensions are nested too deeply"),
        CaseProblem("tumor.ki67_history[2]", "must be a JSON object", "x"),
    ]
    assert field_errors(problems) == {
        "tumor.primary_site": ["required"],
        "": [
            "The case: the case must be a JSON object (given “array”)",
            "Data kept from the loaded case (extensions.notes): extensions are nested too deeply",
        ],
        "tumor.ki67_history": ["must be a JSON object (given “x”)"],
    }
    # An empty form: the only problem is the missing primary site, at its select.
    assert field_errors(_problems(case_from_form({}))) == {"tumor.primary_site": ["required"]}


def test_field_ids() -> None:
    assert field_id("patient.age_years") == "f-patient-age_years"
    assert field_id("treatments[0].therapy") == "f-treatments-0--therapy"
    assert field_id("tumor.ki67_history[1].percent") == "f-tumor-ki67_history-1--percent"


# --- the HTML -------------------------------------------------------------------------------


def _render(
    values: dict[str, Any],
    errors: dict[str, list[str]],
    *,
    autoescape: bool = True,
    examples: tuple[dict[str, str], ...] = (),
) -> BeautifulSoup:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
    )
    page = env.from_string(
        '{% from "_case_form.html.j2" import case_form %}'
        "<main>{{ case_form(groups, values, errors, csrf, '/plan', examples) }}</main>"
    )
    html = page.render(
        groups=form_layout(), values=values, errors=errors, csrf="tok<&>", examples=examples
    )
    return BeautifulSoup(html, "html.parser")


def _post_form(soup: BeautifulSoup) -> Tag:
    form = soup.find("form", method="post")
    assert isinstance(form, Tag)
    return form


def _refused(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    doc = case_from_form(form)
    return form_values(doc), field_errors(_problems(doc))


def test_csrf_token_is_the_first_input() -> None:
    soup = _render({}, {}, examples=({"id": "EX03", "title": "Pancreas"},))
    form = _post_form(soup)
    first = form.find(["input", "select", "textarea", "button"])
    assert isinstance(first, Tag)
    assert (first["type"], first["name"], first["value"]) == ("hidden", "csrftoken", "tok<&>")
    # The example picker is a separate GET form, not nested in the post.
    picker = soup.find("form", method="get")
    assert isinstance(picker, Tag) and picker.find("select", attrs={"name": "example"})
    assert not form.find("form")


def test_every_field_has_a_label_and_unique_id() -> None:
    values, errors = _refused({**BASE_FORM, "patient.karnofsky": "140"})
    form = _post_form(_render(values, errors))
    controls = [
        c for c in form.find_all(["input", "select", "textarea"]) if c.get("type") != "hidden"
    ]
    ids = [c["id"] for c in controls]
    assert len(ids) == len(set(ids))
    labels = {label["for"]: label.get_text(strip=True) for label in form.find_all("label")}
    unlabelled = [c["id"] for c in controls if not labels.get(c["id"])]
    assert unlabelled == []
    assert labels["f-tumor-ki67_percent"] == "Ki-67 index"
    # Every schema field has a control (treatment rows: at least the first row).
    names = {c["name"] for c in controls}
    for path in _all_fields(form_layout()):
        assert path.replace("[]", "[0]") in names, path
    # No checkbox for a yes/no question; tick boxes only for lists and "none".
    frail = form.find(attrs={"name": "patient.frail"})
    assert isinstance(frail, Tag) and frail.name == "select"
    assert [o["value"] for o in frail.find_all("option")] == ["", "yes", "no"]
    assert frail.find("option").get_text() == "Unknown / not recorded"


def test_errors_are_next_to_their_fields_and_summarised() -> None:
    values, errors = _refused(
        {**BASE_FORM, "patient.karnofsky": "140", "treatments[0].start": "2024-01"}
    )
    form = _post_form(_render(values, errors))
    karnofsky = form.find(id="f-patient-karnofsky")
    assert isinstance(karnofsky, Tag)
    assert karnofsky["aria-invalid"] == "true"
    assert karnofsky["value"] == "140"
    assert karnofsky["aria-describedby"].split() == [
        "f-patient-karnofsky-help",
        "f-patient-karnofsky-error",
    ]
    error = form.find(id="f-patient-karnofsky-error")
    assert isinstance(error, Tag) and "field-error" in error["class"]
    assert error.get_text() == "must be at most 100 (given 140)"
    assert error.find_parent(class_="field") is karnofsky.find_parent(class_="field")
    summary = form.find(class_="error-summary")
    assert isinstance(summary, Tag)
    links = [(a["href"], a.get_text()) for a in summary.find_all("a")]
    assert links == [
        ("#f-patient-karnofsky", "Karnofsky performance status: must be at most 100 (given 140)"),
        (
            "#f-treatments-0--therapy",
            "Treatment 1: Treatment: required in a row that is filled in (or clear the row)",
        ),
    ]
    for href, _ in links:
        assert form.find(id=href[1:]) is not None


def test_form_level_errors_and_extensions_are_carried() -> None:
    values = {**BASE_FORM, EXTENSIONS_FIELD: '{"note": "<b>kept</b>"}'}
    errors = {"": ["Data kept from the loaded case (extensions): must be a JSON object"]}
    form = _post_form(_render(values, errors))
    summary = form.find(class_="error-summary")
    assert isinstance(summary, Tag)
    assert summary.find("li").get_text() == errors[""][0]
    hidden = form.find("input", attrs={"name": EXTENSIONS_FIELD})
    assert isinstance(hidden, Tag)
    assert json.loads(hidden["value"]) == {"note": "<b>kept</b>"}


@pytest.mark.parametrize("autoescape", [True, False])
def test_user_text_is_escaped(autoescape: bool) -> None:
    attack = '<script>alert("x")</script>'
    values = {**BASE_FORM, "id": attack, "treatments[0].details": attack}
    errors = {"id": [f"given {attack}"]}
    soup = _render(values, errors, autoescape=autoescape, examples=({"id": "x", "title": attack},))
    assert soup.find("script") is None
    field = soup.find(id="f-id")
    assert isinstance(field, Tag) and field["value"] == attack
    error = soup.find(id="f-id-error")
    assert isinstance(error, Tag) and error.get_text() == f"given {attack}"


def test_no_inline_script_or_style() -> None:
    values, errors = _refused({**BASE_FORM, "patient.karnofsky": "140"})
    soup = _render(values, errors)
    assert soup.find("script") is None and soup.find("style") is None
    offending = [
        (tag.name, attr)
        for tag in soup.find_all(True)
        for attr in tag.attrs
        if attr == "style" or attr.startswith("on")
    ]
    assert offending == []


def test_less_used_groups_open_only_when_they_hold_something() -> None:
    soup = _render({}, {})
    closed = {d.find("summary").get_text(): d.has_attr("open") for d in soup.find_all("details")}
    assert closed["Blood and urine tests"] is False
    assert closed["Molecular pathology"] is False
    assert closed["Other illnesses"] is False
    values = {**BASE_FORM, "patient.labs.platelets_10e9_l": "90"}
    errors = {"tumor.msi": ["not one of the choices"]}
    soup = _render(values, errors)
    opened = {d.find("summary").get_text(): d.has_attr("open") for d in soup.find_all("details")}
    assert opened["Blood and urine tests"] is True
    assert opened["Molecular pathology"] is True
    assert opened["Other illnesses"] is False


def _browser_post(form: Tag) -> dict[str, list[str]]:
    """What a browser posts from ``form`` as rendered (nothing changed by the user)."""
    posted: dict[str, list[str]] = {}
    for control in form.find_all(["input", "select"]):
        name = str(control["name"])
        if control.name == "select":
            chosen = control.find("option", selected=True) or control.find("option")
            assert isinstance(chosen, Tag)
            posted.setdefault(name, []).append(str(chosen["value"]))
        elif control["type"] != "checkbox" or control.has_attr("checked"):
            posted.setdefault(name, []).append(str(control.get("value", "")))
    return posted


@pytest.mark.parametrize(
    "name",
    [
        "vignettes/V11-si-localised-resection.json",  # no treatment, none found, extensions
        "vignettes/V03-si-progression-on-ssa-ki67-20.json",  # earlier Ki-67 values
        "vignettes/V10-si-declines-prrt.json",  # declines, preferences
        "clinical/si22_after_ssa_prrt_everolimus.json",  # three treatments
        "examples/small-intestine-multifocal-g1-liver-metastases.json",
    ],
)
def test_a_loaded_case_posts_back_unchanged(name: str) -> None:
    doc = _case_of(ROOT / "tests" / "data" / name)
    form = _post_form(_render(form_values(doc), {}))
    posted = _browser_post(form)
    assert posted["csrftoken"] == ["tok<&>"]
    # A browser posts ticked boxes in the order of the list: the same set, maybe reordered.
    assert _in_list_order(case_from_form(posted)) == _in_list_order(doc)
    assert case_from_form(posted)["tumor"].keys() == doc["tumor"].keys()


def _in_list_order(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for group in form_layout():
        for field in group.all_fields():
            *parents, last = field.path.split(".")
            node = doc
            for key in parents:
                node = node.get(key, {})
            if field.kind == "checkboxes" and last in node:
                order = field.choice_values
                node[last] = sorted(node[last], key=order.index)
    return doc


def test_unit_and_help_are_shown() -> None:
    form = _post_form(_render({}, {}))
    egfr = form.find(id="f-patient-labs-egfr_ml_min")
    assert isinstance(egfr, Tag)
    unit = egfr.find_next_sibling("span", class_="unit")
    assert isinstance(unit, Tag) and unit.get_text() == "mL/min"
    # Text, not type=number: a browser's number box silently drops "2,5" or "15 mm".
    assert (egfr["type"], egfr["inputmode"]) == ("text", "decimal")
    ki67 = form.find(id="f-tumor-ki67_percent")
    assert isinstance(ki67, Tag) and ki67["aria-describedby"] == "f-tumor-ki67_percent-help"
    help_line = form.find(id="f-tumor-ki67_percent-help")
    assert isinstance(help_line, Tag)
    assert help_line.get_text() == "Hot-spot index, the current value used for grading."


def test_a_typed_non_number_is_shown_back_as_typed() -> None:
    values, errors = _refused({**BASE_FORM, "tumor.ki67_percent": "12,5"})
    form = _post_form(_render(values, errors))
    ki67 = form.find(id="f-tumor-ki67_percent")
    assert isinstance(ki67, Tag)
    assert (ki67["type"], ki67["value"]) == ("text", "12,5")
    assert form.find(id="f-tumor-ki67_percent-error").get_text() == (
        "write decimals with a point: 12.5 (given “12,5”); no thousands separators"
    )
