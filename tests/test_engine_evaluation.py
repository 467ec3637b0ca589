"""How the engine evaluates criteria for speed without changing an answer: identical criteria
compiled to one node, outcomes found by short-circuit (Node.outcome), deferred verdict trees
of rules that do not apply, and plans freed without the cyclic garbage collector."""

from __future__ import annotations

import gc
import json
import pickle
import typing
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from netnav.api import explain, recommend
from netnav.case import case_from_mapping
from netnav.case.model import Case, PrimarySite
from netnav.engine.criteria import CaseContext, Node, compile_criterion
from netnav.engine.criteria.base import fixed_facts, possible_sites, possible_values
from netnav.engine.planner import _Planner, make_plan
from netnav.engine.verdict import DeferredVerdict
from netnav.knowledge.load import load_knowledge
from tests.golden_plans import case_files
from tests.helpers import case_with, kb

SITE = {"primary_site_in": {"sites": ["pancreas"]}}
STATUS = {"option_not_excluded": {"option": "everolimus"}}


def _cases() -> list[Case]:
    cases = []
    for path in case_files():
        doc = json.loads(Path(path).read_text("utf-8"))
        cases.append(
            case_from_mapping(doc["case"] if "case" in doc and "format" not in doc else doc)
        )
    return cases


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in getattr(node, "children", ()):
        yield from _nodes(child)
    body = getattr(node, "body", None)
    if body is not None:
        yield from _nodes(body)


def _all_nodes() -> list[Node]:
    roots: list[Node] = []
    for rule in kb().rules:
        roots += [rule.when, *([rule.scope] if rule.scope else [])]
        roots += [r.when for r in rule.recommend if r.when is not None]
        roots += [w for w in rule.avoid_when if w is not None]
    for check in kb().checks:
        roots += [check.require, *([check.applies_when] if check.applies_when else [])]
    seen: dict[int, Node] = {}
    for root in roots:
        for node in _nodes(root):
            seen.setdefault(id(node), node)
    return list(seen.values())


# --- one node per identical criterion ---------------------------------------------------------


def test_identical_criteria_compiled_with_one_pool_are_one_node() -> None:
    shared: dict[tuple[object, ...], Node] = {}
    a = compile_criterion({"all_of": [SITE, "documented_progression"]}, {}, shared)
    b = compile_criterion({"all_of": [SITE, "documented_progression"]}, {}, shared)
    assert a is b
    c = compile_criterion(SITE, {}, shared)
    assert c is a.children[0]  # type: ignore[attr-defined]


def test_criteria_compiled_without_a_pool_stay_separate() -> None:
    assert compile_criterion(SITE) is not compile_criterion(SITE)


def test_parameters_written_differently_are_not_merged() -> None:
    shared: dict[tuple[object, ...], Node] = {}
    ten = compile_criterion({"ki67_at_most": {"percent": 10}}, {}, shared)
    ten_float = compile_criterion({"ki67_at_most": {"percent": 10.0}}, {}, shared)
    assert ten is not ten_float
    assert ten.describe() == ten_float.describe()


def test_a_criterion_reading_the_planner_state_is_never_merged() -> None:
    shared: dict[tuple[object, ...], Node] = {}
    first = compile_criterion(STATUS, {}, shared)
    second = compile_criterion(STATUS, {}, shared)
    assert first is not second
    assert not first.pure
    assert not compile_criterion({"any_of": [SITE, STATUS]}, {}, shared).pure
    assert compile_criterion({"any_of": [SITE, "documented_progression"]}, {}, shared).pure


def test_the_knowledge_base_shares_repeated_criteria() -> None:
    site_leaves = [n for n in _all_nodes() if n.describe() == "primary_site_in(sites=[pancreas])"]
    assert len(site_leaves) == 1


def test_sharing_survives_pickling_of_the_knowledge_base() -> None:
    fresh = load_knowledge()
    copy = pickle.loads(pickle.dumps(fresh))
    scopes = [r.scope for r in copy.rules if r.scope is not None]
    assert len({id(s) for s in scopes}) < len(scopes)


# --- Node.outcome is the outcome of Node.evaluate -----------------------------------------------


@pytest.mark.parametrize("case", _cases()[::5], ids=lambda c: c.id)
def test_short_circuit_outcome_equals_the_evaluated_outcome_for_every_node(case: Case) -> None:
    nodes = _all_nodes()
    quick = _Planner(case, kb()).ctx
    found = [node.outcome(quick) for node in nodes]
    full = _Planner(case, kb()).ctx
    assert found == [node.evaluate(full).outcome for node in nodes]


def test_outcome_of_a_pure_tree_does_not_evaluate_what_it_need_not() -> None:
    ctx = _Planner(case_with(site="small_intestine"), kb()).ctx
    node = compile_criterion({"all_of": [SITE, "documented_progression", "sstr_positive"]})
    assert node.outcome(ctx).label == "fail"
    assert len(ctx.memo) == 1  # only the site was read


def test_a_context_taken_from_its_planner_works_on_its_own() -> None:
    ctx: CaseContext = _Planner(case_with(site="pancreas"), kb()).ctx
    gc.collect()
    assert compile_criterion(STATUS).evaluate(ctx).criterion.startswith("option_not_excluded")


SITES = typing.get_args(PrimarySite)


@pytest.mark.parametrize("site", SITES)
def test_a_rule_skipped_for_its_primary_site_would_have_failed(site: str) -> None:
    ctx = _Planner(case_with(site=site), kb()).ctx
    skipped = 0
    for rule, (scope_sites, when_sites) in zip(kb().rules, kb().rule_sites, strict=True):
        if rule.scope is not None and scope_sites is not None and site not in scope_sites:
            assert rule.scope.evaluate(ctx).outcome.label == "fail", rule.spec.id
            skipped += 1
        if when_sites is not None and site not in when_sites:
            assert rule.when.evaluate(ctx).outcome.label == "fail", rule.spec.id
            skipped += 1
    assert skipped


def test_possible_sites_reads_all_of_any_of_and_definitions_but_not_not() -> None:
    other = {"primary_site_in": {"sites": ["lung", "pancreas"]}}
    assert possible_sites(compile_criterion({"all_of": [SITE, other]})) == frozenset({"pancreas"})
    assert possible_sites(compile_criterion({"any_of": [SITE, other]})) == frozenset(
        {"lung", "pancreas"}
    )
    assert possible_sites(compile_criterion({"any_of": [SITE, "sstr_positive"]})) is None
    assert possible_sites(compile_criterion({"not": SITE})) is None
    assert possible_sites(compile_criterion("sstr_positive")) is None


def _limited_cases() -> list[Case]:
    """The golden cases and cases whose fixed facts are unknown or uncertain."""
    return [
        *_cases(),
        case_with(site="lung"),
        case_with(site="pancreas", ki67=None, metastases=None),
    ]


def test_a_rule_skipped_for_a_fixed_fact_would_have_failed() -> None:
    skipped = 0
    for case in _limited_cases():
        ctx = _Planner(case, kb()).ctx
        fixed = fixed_facts(ctx)
        for rule, (scope_limits, when_limits) in zip(kb().rules, kb().rule_limits, strict=True):
            for node, limits in ((rule.scope, scope_limits), (rule.when, when_limits)):
                if node is not None and any(fixed[f] not in vals for f, vals in limits):
                    assert node.evaluate(ctx).outcome.label == "fail", rule.spec.id
                    skipped += 1
    assert skipped


def test_possible_values_lets_unknown_values_through_and_merges_facts() -> None:
    category = {"category_in": {"categories": ["net"]}}
    extent = {"extent_in": {"extents": ["metastatic"]}}
    both = possible_values(compile_criterion({"all_of": [SITE, category, extent]}))
    assert both == {
        "site": frozenset({"pancreas"}),
        "category": frozenset({"net", "uncertain"}),
        "extent": frozenset({"metastatic", "unknown"}),
    }
    either = possible_values(compile_criterion({"any_of": [{"all_of": [SITE, category]}, SITE]}))
    assert either == {"site": frozenset({"pancreas"})}
    syndrome = {"functional_syndrome_in": {"syndromes": ["insulinoma"]}}
    assert possible_values(compile_criterion(syndrome)) == {
        "syndrome": frozenset({"insulinoma", None})
    }
    assert possible_values(compile_criterion({"not": category})) == {}


# --- plans ------------------------------------------------------------------------------------------


def test_rules_that_do_not_apply_keep_a_deferred_tree_that_explain_can_read() -> None:
    case = _cases()[0]
    result = make_plan(case, kb())
    deferred = [rr for rr in result.rule_results if isinstance(rr.verdict, DeferredVerdict)]
    assert deferred
    for rr in deferred:
        assert not rr.verdict.holds
        assert rr.verdict.to_dict()["verdict"] == rr.verdict.outcome.label
    assert explain(case, "everolimus", kb())["tree"]["children"]


def test_a_dropped_plan_is_freed_at_once_without_the_cycle_collector() -> None:
    case = _cases()[0]
    result = make_plan(case, kb())
    result.rule_results[0].verdict.to_dict()  # a deferred tree worked out, too
    planner = weakref.ref(result.checks_for.__self__)  # type: ignore[attr-defined]
    ctx = weakref.ref(result.checks_for.__self__.ctx)  # type: ignore[attr-defined]
    gc.disable()
    try:
        del result
        assert planner() is None
        assert ctx() is None
    finally:
        gc.enable()


def test_a_plan_result_still_pickles_and_explains() -> None:
    case = _cases()[0]
    copy = pickle.loads(pickle.dumps(make_plan(case, kb())))
    assert [r.verdict.to_dict() for r in copy.rule_results] == [
        r.verdict.to_dict() for r in make_plan(case, kb()).rule_results
    ]
    assert copy.checks_for("everolimus") is not None


def test_plans_are_the_same_on_every_run() -> None:
    case = _cases()[1]
    assert recommend(case, kb()) == recommend(case, kb())
