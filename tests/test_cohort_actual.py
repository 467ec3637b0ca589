"""The treatment actually given: how a row records it and how it is compared with the plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netnav.api import plan_result, recommend
from netnav.case.load import parse_case_document
from netnav.cohort.actual import (
    ActualTreatment,
    actual_status,
    follows_follow_up_plan,
    options_awaiting_facts,
    read_actual_treatment,
)
from netnav.knowledge.load import default_knowledge

DATA = Path(__file__).parent / "data"


def _actual(option: str, date: str | None = None) -> ActualTreatment:
    found, problems = read_actual_treatment(
        {"extensions": {"actual_treatment": {"option": option, "date": date}}}
    )
    assert not problems and found is not None
    return found


def test_not_recorded_is_none_without_problems() -> None:
    assert read_actual_treatment({}) == (None, [])
    assert read_actual_treatment({"extensions": {"other": 1}}) == (None, [])
    assert read_actual_treatment({"extensions": {"actual_treatment": None}}) == (None, [])


@pytest.mark.parametrize(
    ("given", "path", "message"),
    [
        ({"option": "chemo"}, "extensions.actual_treatment.option", "unknown option"),
        ({"date": "2024-01-01"}, "extensions.actual_treatment.option", "is required"),
        ({"option": "ssa", "date": "2024-02-30"}, "extensions.actual_treatment.date", "date"),
        ({"option": "ssa", "date": "1/2/2024"}, "extensions.actual_treatment.date", "date"),
        ({"option": "ssa", "drug": "x"}, "extensions.actual_treatment.drug", "unknown key"),
        ("lanreotide", "extensions.actual_treatment", "must be an object"),
    ],
)
def test_a_bad_record_is_a_problem_naming_the_field(given: Any, path: str, message: str) -> None:
    found, problems = read_actual_treatment({"extensions": {"actual_treatment": given}})
    assert found is None
    assert [p.path for p in problems] == [path]
    assert message in problems[0].message


def test_groups_and_unspecific_history_ids_stand_for_their_members() -> None:
    assert _actual("ssa").ids == {"octreotide_lar", "lanreotide"}
    assert _actual("ssa_unspecified").ids == {"octreotide_lar", "lanreotide"}
    assert _actual("everolimus", "2024-05-01") == ActualTreatment(
        "everolimus", frozenset({"everolimus"}), "2024-05-01"
    )


@pytest.mark.parametrize(
    ("option", "awaiting", "follow_up", "expected"),
    [
        ("lanreotide", (), None, "in_preferred"),
        ("ssa", (), None, "in_preferred"),  # a group: any member
        ("everolimus", (), None, "in_options"),
        ("sunitinib", (), None, "in_avoid"),
        ("sunitinib", ("sunitinib",), None, "in_avoid"),  # avoid before undecided
        ("prrt_lu177_dotatate", ("prrt_lu177_dotatate",), None, "undecided"),
        ("prrt_lu177_dotatate", (), None, "not_in_plan"),
        ("active_surveillance", (), "in_preferred", "in_preferred"),  # plan of follow-up
        ("sunitinib", (), "in_preferred", "in_avoid"),  # avoid is never softened
    ],
)
def test_status_order(
    option: str, awaiting: tuple[str, ...], follow_up: str | None, expected: str
) -> None:
    preferred = ["lanreotide"]
    options = ["lanreotide", "everolimus"]
    avoid = ["sunitinib"]
    status = actual_status(_actual(option), preferred, options, avoid, lambda: awaiting, follow_up)
    assert status == expected
    assert actual_status(None, preferred, options, avoid, lambda: awaiting) == "not_recorded"


def test_options_awaiting_a_missing_fact_are_those_its_rules_would_offer() -> None:
    kb = default_knowledge()
    # Metastatic SI-NET with no receptor imaging: PRRT and SSA wait on the SSTR scan.
    path = DATA / "vignettes" / "V01-si-metastatic-first-line.json"
    doc = json.loads(path.read_text(encoding="utf-8"))["case"]
    doc["tumor"].pop("sstr_imaging", None)
    case = parse_case_document(json.dumps(doc))[0]
    result = plan_result(case, kb)
    waiting = options_awaiting_facts(result, kb)
    assert "tumor.sstr_imaging" in {m.field for m in result.missing}
    receptor_dependent = {"lanreotide", "octreotide_lar", "prrt_lu177_dotatate"}
    assert receptor_dependent <= waiting
    assert not receptor_dependent & {o.id for o in result.options}
    # With the scan recorded they are offered, and no longer waiting.
    full = plan_result(parse_case_document(path.read_text(encoding="utf-8"))[0], kb)
    assert receptor_dependent <= {o.id for o in full.options}
    assert not receptor_dependent & options_awaiting_facts(full, kb)


def test_follow_up_record_follows_a_plan_whose_advice_is_follow_up() -> None:
    kb = default_knowledge()
    surveillance_plan = {
        "surveillance": {"id": "resected_net_low_grade"},
        "options": [{"id": "specialist_referral"}],
    }
    treating_plan = {
        "surveillance": {"id": "resected_net_low_grade"},
        "options": [{"id": "surgical_resection"}, {"id": "specialist_referral"}],
    }
    no_schedule = {"surveillance": None, "options": [{"id": "specialist_referral"}]}
    watched = _actual("active_surveillance")
    assert follows_follow_up_plan(watched, surveillance_plan, kb) == "in_preferred"
    assert follows_follow_up_plan(_actual("no_further_treatment"), surveillance_plan, kb)
    assert follows_follow_up_plan(watched, treating_plan, kb) is None
    assert follows_follow_up_plan(watched, no_schedule, kb) is None
    assert follows_follow_up_plan(_actual("lanreotide"), surveillance_plan, kb) is None
    assert follows_follow_up_plan(None, surveillance_plan, kb) is None


def test_real_plan_documents_feed_the_follow_up_reading() -> None:
    kb = default_knowledge()
    for path in sorted((DATA / "vignettes").glob("*.json")):
        case = parse_case_document(path.read_text(encoding="utf-8"))[0]
        plan = recommend(case, kb)
        status = follows_follow_up_plan(_actual("active_surveillance"), plan, kb)
        classes = {kb.therapies[o["id"]].classes[0] for o in plan["options"]}
        if status is not None:
            assert plan["surveillance"] is not None
            assert classes <= {"strategy", "referral", "genetics", "supportive"}
