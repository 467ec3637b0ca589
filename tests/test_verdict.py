"""Four-valued verdicts: constructors, AND/OR/NOT with their documented precedence, the
missing facts of a tree and its JSON shape (netnav.engine.verdict)."""

from __future__ import annotations

import itertools
import json
import pickle

import pytest

from netnav.engine.verdict import (
    NEGATED,
    DeferredVerdict,
    MissingFact,
    Outcome,
    Verdict,
    all_of,
    and_outcome,
    any_of,
    failed,
    negate,
    or_outcome,
    passed,
    undetermined,
    warned,
)

KI67 = MissingFact("tumor.ki67_percent", "ki67_assessment")
SSTR = MissingFact("tumor.sstr_imaging", "sstr_pet")

# The combination precedence documented in verdict.py: AND lets a fail decide first, then an
# unknown, then a warn; OR lets a pass decide first, then a warn, then an unknown.
AND_ORDER = ["fail", "undetermined", "warn", "pass"]
OR_ORDER = ["pass", "warn", "undetermined", "fail"]


def make(label: str, message: str | None = None) -> Verdict:
    """A leaf verdict with the given outcome label."""
    text = message or f"child that is {label}"
    if label == "pass":
        return passed(text, "tumor.primary_site")
    if label == "warn":
        return warned(text, "tumor.reported_grade")
    if label == "fail":
        return failed(text, "tumor.metastases")
    return undetermined(text, [KI67])


ALL_LABELS = ["pass", "warn", "undetermined", "fail"]
PAIRS = list(itertools.product(ALL_LABELS, repeat=2))


# --- constructors ------------------------------------------------------------------------


def test_passed_builds_a_pass_with_its_facts_and_no_missing_fact() -> None:
    v = passed("primary site small intestine", "tumor.primary_site")
    assert v.outcome is Outcome.PASS
    assert v.message == "primary site small intestine"
    assert v.facts == ("tumor.primary_site",)
    assert v.missing == ()
    assert v.children == ()
    assert v.holds


def test_warned_builds_a_warn_that_still_holds() -> None:
    v = warned("grade taken from the report", "tumor.reported_grade")
    assert v.outcome is Outcome.WARN
    assert v.facts == ("tumor.reported_grade",)
    assert v.holds


def test_failed_builds_a_fail_that_does_not_hold() -> None:
    v = failed("no liver metastases", "tumor.metastases")
    assert v.outcome is Outcome.FAIL
    assert v.facts == ("tumor.metastases",)
    assert not v.holds


def test_undetermined_names_the_missing_fact_and_takes_it_as_the_fact_read() -> None:
    v = undetermined("Ki-67 not known", [KI67])
    assert v.outcome is Outcome.UNDETERMINED
    assert v.missing == (KI67,)
    assert v.facts == ("tumor.ki67_percent",)
    assert not v.holds


def test_undetermined_keeps_explicit_facts_when_given() -> None:
    v = undetermined("symptoms not fully recorded", [KI67], "tumor.symptoms")
    assert v.facts == ("tumor.symptoms",)
    assert v.missing == (KI67,)


def test_named_labels_a_verdict_without_changing_anything_else() -> None:
    v = undetermined("Ki-67 not known", [KI67]).named("ki67_at_most(percent=10.0)")
    assert v.criterion == "ki67_at_most(percent=10.0)"
    assert v.outcome is Outcome.UNDETERMINED
    assert v.missing == (KI67,)
    assert v.message == "Ki-67 not known"


def test_outcome_labels_are_the_lower_case_names_used_in_plans() -> None:
    assert [o.label for o in Outcome] == ["fail", "warn", "undetermined", "pass"]


# --- all_of (AND) --------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_all_of_follows_fail_then_undetermined_then_warn_then_pass(a: str, b: str) -> None:
    expected = min(a, b, key=AND_ORDER.index)
    combined = all_of([make(a), make(b)])
    assert combined.outcome.label == expected
    assert combined.criterion == "all_of"


def test_all_of_a_warn_never_masks_an_unknown_fact() -> None:
    combined = all_of([make("warn"), make("undetermined")])
    assert combined.outcome is Outcome.UNDETERMINED
    assert combined.all_missing() == (KI67,)


def test_all_of_message_joins_the_children_that_decided() -> None:
    combined = all_of([make("fail", "no liver metastases"), make("pass"), make("fail", "ECOG 3")])
    assert combined.message == "no liver metastases; ECOG 3"


def test_all_of_with_no_children_passes_with_a_reason() -> None:
    combined = all_of([])
    assert combined.outcome is Outcome.PASS
    assert combined.message


def test_all_of_keeps_every_child_after_a_deciding_fail() -> None:
    kids = [make("fail"), make("undetermined"), make("warn"), make("pass")]
    combined = all_of(kids)
    assert combined.children == tuple(kids)


# --- any_of (OR) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_any_of_follows_pass_then_warn_then_undetermined_then_fail(a: str, b: str) -> None:
    expected = min(a, b, key=OR_ORDER.index)
    combined = any_of([make(a), make(b)])
    assert combined.outcome.label == expected
    assert combined.criterion == "any_of"


def test_any_of_an_unknown_does_not_become_a_fail() -> None:
    assert any_of([make("fail"), make("undetermined")]).outcome is Outcome.UNDETERMINED


def test_any_of_message_joins_the_children_that_decided() -> None:
    combined = any_of([make("pass", "SSTR positive"), make("fail"), make("pass", "ECOG 1")])
    assert combined.message == "SSTR positive; ECOG 1"


def test_any_of_with_no_children_fails_with_a_reason() -> None:
    combined = any_of([])
    assert combined.outcome is Outcome.FAIL
    assert combined.message


def test_any_of_keeps_every_child_after_a_deciding_pass() -> None:
    kids = [make("pass"), make("fail"), make("undetermined"), make("warn")]
    assert any_of(kids).children == tuple(kids)


# --- negate (NOT) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "expected"),
    [("pass", "fail"), ("fail", "pass"), ("warn", "fail"), ("undetermined", "undetermined")],
)
def test_negate_swaps_pass_and_fail_turns_warn_to_fail_and_keeps_undetermined(
    child: str, expected: str
) -> None:
    inner = make(child)
    v = negate(inner)
    assert v.outcome.label == expected
    assert v.criterion == "not"
    assert v.children == (inner,)


def test_negate_keeps_the_childs_reason_when_it_flips_the_answer() -> None:
    flipped = negate(make("pass", "liver-only metastases"))
    assert flipped.outcome is Outcome.FAIL
    assert "liver-only metastases" in flipped.message
    assert "liver-only metastases" in negate(make("fail", "liver-only metastases")).message


def test_negate_keeps_the_message_of_an_unknown_and_its_missing_fact() -> None:
    v = negate(make("undetermined", "Ki-67 not known"))
    assert v.message == "Ki-67 not known"
    assert v.all_missing() == (KI67,)


# --- all_missing -----------------------------------------------------------------------------


def test_all_missing_collects_from_undetermined_descendants_in_tree_order() -> None:
    tree = all_of(
        [
            undetermined("SSTR status unknown", [SSTR]),
            any_of([failed("not pancreas"), undetermined("Ki-67 not known", [KI67])]),
        ]
    )
    assert tree.outcome is Outcome.UNDETERMINED
    assert tree.all_missing() == (SSTR, KI67)


def test_all_missing_ignores_missing_facts_under_children_that_are_not_undetermined() -> None:
    # The OR passes, so the unknown Ki-67 beneath it decides nothing.
    decided = any_of([passed("SSTR positive"), undetermined("Ki-67 not known", [KI67])])
    tree = all_of([decided, undetermined("SSTR status unknown", [SSTR])])
    assert tree.all_missing() == (SSTR,)


def test_all_missing_deduplicates_the_same_field_and_test() -> None:
    tree = all_of(
        [
            undetermined("Ki-67 not known", [KI67]),
            undetermined("grade unknown", [KI67]),
            negate(undetermined("Ki-67 not known", [KI67])),
        ]
    )
    assert tree.all_missing() == (KI67,)


def test_all_missing_keeps_the_same_field_with_a_different_test_apart() -> None:
    other = MissingFact("tumor.ki67_percent", "biopsy")
    tree = all_of([undetermined("a", [KI67]), undetermined("b", [other])])
    assert tree.all_missing() == (KI67, other)


def test_all_missing_of_a_pass_leaf_is_empty() -> None:
    assert passed("fine").all_missing() == ()


# --- leaves ----------------------------------------------------------------------------------


def test_leaves_returns_the_leaf_reasons_with_an_outcome() -> None:
    tree = all_of([warned("assumed minor nodal disease"), any_of([warned("from the report")])])
    assert [v.message for v in tree.leaves(Outcome.WARN)] == [
        "assumed minor nodal disease",
        "from the report",
    ]
    assert tree.leaves(Outcome.FAIL) == []


# --- to_dict ---------------------------------------------------------------------------------


def test_to_dict_of_a_leaf_has_criterion_verdict_why_and_facts_only() -> None:
    v = passed("primary site pancreas", "tumor.primary_site").named("primary_site_in")
    assert v.to_dict() == {
        "criterion": "primary_site_in",
        "verdict": "pass",
        "why": "primary site pancreas",
        "facts": ["tumor.primary_site"],
    }


def test_to_dict_lists_missing_facts_with_their_tests() -> None:
    node = undetermined("Ki-67 not known", [KI67]).to_dict()
    assert node["verdict"] == "undetermined"
    assert node["missing"] == [{"field": "tumor.ki67_percent", "test": "ki67_assessment"}]


def test_to_dict_nests_children_in_order() -> None:
    tree = any_of([failed("not pancreas", "tumor.primary_site"), warned("from report")])
    node = tree.to_dict()
    assert node["criterion"] == "any_of"
    assert node["verdict"] == "warn"
    assert node["why"] == "from report"
    assert [c["verdict"] for c in node["children"]] == ["fail", "warn"]
    assert node["children"][0]["facts"] == ["tumor.primary_site"]
    assert "missing" not in node


def test_to_dict_is_plain_json() -> None:
    tree = all_of([negate(undetermined("Ki-67 not known", [KI67])), passed("ok")])
    assert json.loads(json.dumps(tree.to_dict())) == tree.to_dict()


# --- outcome rules shared by the combinators and short-circuit evaluation --------------------


@pytest.mark.parametrize(
    "labels", [list(c) for n in (1, 2, 3) for c in itertools.product(ALL_LABELS, repeat=n)]
)
def test_and_or_outcome_give_what_all_of_and_any_of_give(labels: list[str]) -> None:
    kids = [make(label) for label in labels]
    outcomes = [k.outcome for k in kids]
    assert and_outcome(outcomes) is all_of(kids).outcome
    assert or_outcome(outcomes) is any_of(kids).outcome


def test_empty_outcome_rules_match_empty_combinators() -> None:
    assert and_outcome(()) is all_of([]).outcome is Outcome.PASS
    assert or_outcome(()) is any_of([]).outcome is Outcome.FAIL


def test_negated_table_is_what_negate_gives() -> None:
    for label in ALL_LABELS:
        child = make(label)
        assert NEGATED[child.outcome] is negate(child).outcome


# --- deferred verdicts ------------------------------------------------------------------------


def _counting(verdict: Verdict) -> tuple[list[int], DeferredVerdict]:
    calls: list[int] = []

    def work() -> Verdict:
        calls.append(1)
        return verdict

    return calls, DeferredVerdict(verdict.outcome, work)


def test_deferred_verdict_knows_its_outcome_without_working_out_the_tree() -> None:
    calls, v = _counting(all_of([make("fail", "no liver metastases"), make("pass")]))
    assert v.outcome is Outcome.FAIL
    assert not v.holds
    assert calls == []


def test_deferred_verdict_works_out_the_tree_once_on_first_read() -> None:
    full = all_of([make("undetermined", "Ki-67 not known"), make("pass")])
    calls, v = _counting(full)
    assert v.message == "Ki-67 not known"
    assert v.criterion == "all_of"
    assert v.children == full.children
    assert v.all_missing() == (KI67,)
    assert v.to_dict() == full.to_dict()
    assert calls == [1]


def test_deferred_verdict_equals_the_verdict_it_stands_for() -> None:
    full = any_of([make("warn"), make("fail")])
    _, v = _counting(full)
    assert v == full and full == v
    assert hash(v) == hash(full)
    assert v.named("scope") == full.named("scope")


def test_deferred_verdict_pickles_as_the_plain_verdict() -> None:
    full = all_of([make("fail", "ECOG 3"), make("pass")])
    _, v = _counting(full)
    copy = pickle.loads(pickle.dumps(v))
    assert type(copy) is Verdict
    assert copy == full


def test_deferred_verdict_refuses_work_that_changes_the_outcome() -> None:
    v = DeferredVerdict(Outcome.PASS, lambda: make("fail"))
    with pytest.raises(AssertionError):
        _ = v.message


def test_verdicts_compare_and_hash_by_their_fields() -> None:
    a = passed("ECOG 1 is at most 2", "patient.ecog").named("performance_status_at_most")
    b = passed("ECOG 1 is at most 2", "patient.ecog").named("performance_status_at_most")
    assert a == b and hash(a) == hash(b)
    assert a != a.named("other")
    assert "ECOG 1 is at most 2" in repr(a)
