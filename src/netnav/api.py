"""The public surface of netnav: plan a case, explain one option.

>>> from netnav.api import recommend
>>> plan = recommend(case)            # doctest: +SKIP
>>> plan["options"][0]["id"]          # doctest: +SKIP

Both functions are pure for a given case and knowledge base (default: the packaged one).
"""

from __future__ import annotations

from typing import Any

from netnav.case.model import Case
from netnav.engine.planner import PlanResult, make_plan
from netnav.engine.verdict import Outcome, Verdict
from netnav.errors import UnknownOptionError
from netnav.knowledge.load import Knowledge, default_knowledge
from netnav.plan import plan_document
from netnav.vocabulary import OPTION_IDS

__all__ = ["NOT_APPLICABLE", "explain", "plan_result", "recommend"]

# How a verdict-tree branch written for another situation ends its message (rules, checks);
# readers of the tree (the explain page) use these to fold such branches away.
NOT_APPLICABLE: tuple[str, str] = ("; it does not apply to this case", ": does not apply here")


def plan_result(case: Case, kb: Knowledge | None = None) -> PlanResult:
    """The planner's full result (options, avoid, missing facts and every verdict)."""
    return make_plan(case, kb or default_knowledge())


def recommend(case: Case, kb: Knowledge | None = None) -> dict[str, Any]:
    """The ``netnav-plan/1`` document for ``case`` (see ../shared/spec/plan-format.md)."""
    knowledge = kb or default_knowledge()
    return plan_document(make_plan(case, knowledge), knowledge)


def explain(case: Case, option: str, kb: Knowledge | None = None) -> dict[str, Any]:
    """Why ``option`` is or is not in the plan: its status and the verdict tree.

    Returns ``{"option", "name", "status", "summary", "tree"}`` where ``status`` is one of
    ``recommended``, ``avoid``, ``held_back`` or ``not_recommended``. Raises
    :class:`UnknownOptionError` for an id outside the option vocabulary.
    """
    knowledge = kb or default_knowledge()
    if option not in OPTION_IDS:
        raise UnknownOptionError(option, list(OPTION_IDS))
    result = make_plan(case, knowledge)
    name = knowledge.therapies[option].name
    status, summary = _status(result, option, name)
    children = _rule_nodes(result, option) + _check_nodes(result, option)
    if option in result.held_back:
        for why in result.held_back[option]:
            children.append(Verdict(Outcome.FAIL, why, "history"))
    if not children:
        children.append(
            Verdict(
                Outcome.FAIL,
                f"no rule of knowledge {knowledge.version} proposes {name} in any situation "
                "like this one, and it has no checks",
                "knowledge base",
            )
        )
    outcome = {
        "recommended": Outcome.PASS,
        "avoid": Outcome.FAIL,
        "held_back": Outcome.UNDETERMINED,
        "not_recommended": Outcome.FAIL,
    }[status]
    tree = Verdict(outcome, summary, option, children=tuple(children))
    return {
        "option": option,
        "name": name,
        "status": status,
        "summary": summary,
        "knowledge_version": knowledge.version,
        "tree": tree.to_dict(),
    }


def _status(result: PlanResult, option: str, name: str) -> tuple[str, str]:
    for rank, o in enumerate(result.options, start=1):
        if o.id == option:
            return "recommended", f"{name} is in the plan at rank {rank} ({o.tier.value})"
    for a in result.avoid:
        if a.id == option:
            return "avoid", f"{name} is to be avoided: " + " ".join(a.reasons)
    if option in result.held_back:
        return "held_back", f"{name} is proposed by a rule but held back: " + "; ".join(
            result.held_back[option]
        )
    blockers: list[str] = []
    for rr in result.rule_results:
        if any(r.option == option for r in rr.rule.spec.recommend) and not rr.verdict.holds:
            failing = rr.verdict.leaves(Outcome.FAIL)
            if rr.verdict.criterion == "scope" or any(
                v.criterion.startswith("primary_site_in") for v in failing
            ):
                continue  # a rule for another site or situation says nothing useful here
            deciding = failing or rr.verdict.leaves(Outcome.UNDETERMINED)
            if deciding:
                blockers.append(f"{rr.rule.spec.brief_rule}: {deciding[0].message}")
    unknown = [
        rr.rule.spec.brief_rule
        for rr in result.rule_results
        if any(r.option == option for r in rr.rule.spec.recommend)
        and rr.verdict.outcome is Outcome.UNDETERMINED
    ]
    if unknown:
        return "not_recommended", (
            f"{name} is not recommended yet: a fact that rule {', '.join(unknown[:3])} needs "
            "is missing (see missing information)"
        )
    if blockers:
        shown = "; ".join(blockers[:3])
        return "not_recommended", f"{name} is not recommended here. Deciding reasons: {shown}"
    return "not_recommended", f"{name} is not recommended: no rule proposes it for this case"


def _rule_nodes(result: PlanResult, option: str) -> list[Verdict]:
    nodes: list[Verdict] = []
    for rr in result.rule_results:
        spec = rr.rule.spec
        proposes = [r for r in spec.recommend if r.option == option]
        avoids = [a for a in spec.avoid if a.option == option]
        if not proposes and not avoids:
            continue
        kids = [rr.verdict.named(f"{spec.id} conditions")]
        if option in rr.option_verdicts:
            kids.append(rr.option_verdicts[option].named(f"{spec.id} condition for {option}"))
        what = (
            ", ".join(f"{r.tier.value} (priority {r.priority})" for r in proposes)
            if proposes
            else "avoid"
        )
        outcome = min(k.outcome for k in kids)
        message = f"{spec.title} ({spec.brief_rule}) would make it {what}"
        if rr.verdict.outcome is Outcome.UNDETERMINED:
            message += "; a needed fact is missing"
        elif not rr.verdict.holds:
            message += NOT_APPLICABLE[0]
        nodes.append(Verdict(outcome, message, f"rule {spec.id}", children=tuple(kids)))
    return nodes


def _check_nodes(result: PlanResult, option: str) -> list[Verdict]:
    nodes: list[Verdict] = []
    for res in result.checks_for(option):
        spec = res.check.spec
        applies_failed = res.applies is not None and res.applies.outcome is Outcome.FAIL
        label = f"check {spec.id} ({spec.effect}, {spec.kind}; {spec.brief_rule})"
        if applies_failed:
            nodes.append(
                Verdict(
                    Outcome.PASS,
                    spec.reason + NOT_APPLICABLE[1],
                    label,
                    children=(res.verdict,),
                )
            )
            continue
        nodes.append(
            Verdict(
                res.verdict.outcome,
                spec.reason,
                label,
                res.verdict.facts,
                res.verdict.missing,
                (res.verdict,),
            )
        )
    return nodes
