"""The planner: rules -> candidate options -> history, preferences and checks -> ranked plan.

Order of work (brief §2 and §4, design.md):

1. derive the case's facts once (grade, category, extent, line of therapy ...);
2. evaluate every rule's ``when``; a rule that holds (pass or warn) contributes its options,
   its ``avoid`` statements, tests, surveillance and next lines; an undetermined rule
   contributes only the missing facts that would decide it;
3. merge the options of all rules (best tier and priority win; rationale and evidence kept);
4. drop what the patient declines (to ``avoid``) and what already failed, unless a rule allows
   re-treatment; evaluate the §4 checks of each remaining option: a failed avoid check moves it
   to ``avoid``; a failed caution check adds a caution; an undetermined indication check holds
   it back (fact named as missing); an undetermined safety check keeps it with a caution;
5. rank by tier, then priority, then id (equal standing is kept visible: ties share a tier).

Pure: the same case and knowledge give the same plan; no clock, network or global state.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import NamedTuple

from netnav.case.derive import Derived, derive
from netnav.case.model import Case
from netnav.engine.criteria import CaseContext, Node
from netnav.engine.criteria.base import fixed_facts
from netnav.engine.criteria.fields import read_field
from netnav.engine.verdict import (
    DeferredVerdict,
    MissingFact,
    Outcome,
    Verdict,
    all_of,
    failed,
    passed,
)
from netnav.knowledge.load import CompiledCheck, CompiledRule, Knowledge
from netnav.knowledge.schema import Recommendation, Tier

__all__ = [
    "AvoidItem",
    "CheckResult",
    "MissingItem",
    "OptionItem",
    "PlanResult",
    "RuleResult",
    "make_plan",
]


@dataclass
class OptionItem:
    """One recommended option while the plan is being built."""

    id: str
    tier: Tier
    priority: int
    rationale: list[str] = dc_field(default_factory=list)
    evidence: list[str] = dc_field(default_factory=list)
    rules: list[str] = dc_field(default_factory=list)
    cautions: list[str] = dc_field(default_factory=list)
    disagreements: list[str] = dc_field(default_factory=list)
    assumptions: list[str] = dc_field(default_factory=list)
    allow_after_failure: bool = False
    reasons_by_rule: dict[str, tuple[int, list[str]]] = dc_field(default_factory=dict)
    """Per rule: the best tier rank it gave and the reasons at that tier (a rule that offers
    an option at two tiers, e.g. preferred when shrinkage is needed, says only the winner)."""


@dataclass
class AvoidItem:
    id: str
    reasons: list[str] = dc_field(default_factory=list)
    evidence: list[str] = dc_field(default_factory=list)
    rules: list[str] = dc_field(default_factory=list)
    sources: list[str] = dc_field(default_factory=list)
    """Ids of what put the option here: rule ids, check ids, ``preferences``, ``toxicity``
    (the patient guide words its reason from these)."""


@dataclass
class MissingItem:
    """An unknown fact that would change the plan, with what it decides."""

    field: str
    test: str | None = None
    decides: list[str] = dc_field(default_factory=list)
    """Rules whose applicability the fact decides."""
    offers: list[str] = dc_field(default_factory=list)
    """Options that cannot be offered until the fact is known (indication)."""
    safety: list[str] = dc_field(default_factory=list)
    """Options whose safety check needs the fact (offered with a caution meanwhile)."""

    @property
    def changes_options(self) -> bool:
        return bool(self.decides or self.offers)

    @property
    def why(self) -> str:
        parts = []
        if self.decides:
            shown = "; ".join(self.decides[:3])
            if len(self.decides) > 3:
                shown += f"; and {len(self.decides) - 3} more"
            parts.append(f"would decide: {shown}")
        if self.offers:
            parts.append("needed before offering " + ", ".join(self.offers))
        if self.safety:
            parts.append("to check before starting " + ", ".join(self.safety))
        return ". ".join(p[0].upper() + p[1:] for p in parts) + "."


# Check and rule results are named tuples rather than frozen dataclasses: a plan makes one
# per rule (84) and per check, and a frozen dataclass is several times slower to make.
class CheckResult(NamedTuple):
    """A §4 check of one option: its verdict, and that of its ``applies_when`` (None when it
    always applies; when that fails, ``verdict`` is the same failed scope)."""

    check: CompiledCheck
    verdict: Verdict
    applies: Verdict | None


class RuleResult(NamedTuple):
    """A rule's verdict (``scope`` when its scope does not hold), and those of its options'
    own conditions when the rule fired."""

    rule: CompiledRule
    verdict: Verdict
    option_verdicts: dict[str, Verdict]


@dataclass
class PlanResult:
    """Everything the planner worked out; renderers and ``explain`` read it."""

    case: Case
    derived: Derived
    knowledge_version: str
    options: list[OptionItem]
    avoid: list[AvoidItem]
    missing: list[MissingItem]
    tests: list[str]
    surveillance_id: str | None
    at_progression: list[str]
    warnings: list[str]
    rule_results: list[RuleResult]
    held_back: dict[str, list[str]]
    """Options a rule proposed that are not offered, with why (history, missing facts)."""
    checks_for: Callable[[str], list[CheckResult]]
    """Evaluates (and caches) the §4 checks of any option, for ``explain``."""


# The outcomes as module constants: reading a member off an Enum class goes through the
# enum metaclass (Python 3.11) and costs ten times a global; the loop below reads them often.
_FAIL = Outcome.FAIL
_WARN = Outcome.WARN
_UNDETERMINED = Outcome.UNDETERMINED
_PASS = Outcome.PASS

# A rule result made as a tuple directly: the named tuple's own constructor is a Python
# function, and a plan makes one result per rule.
_tuple_new = tuple.__new__

# Tier.rank builds its table on every call; the planner compares tiers many times a case.
_TIER_RANK = {tier: tier.rank for tier in Tier}


class _OptionChecks:
    """The §4 checks of each option for one case, and the status they give it (what
    ``option_not_excluded`` reads through the context's ``option_status``).

    It holds the context weakly: the context holds it (``option_status``), and a strong
    reference back would make a cycle, so that every plan (its verdicts, memo and results)
    would wait for the cyclic garbage collector instead of going as soon as it is dropped,
    which cost about a tenth of the planning time. Whoever asks holds the context (the
    planner does, and so does a plan's ``checks_for``). Pickles with a strong reference.
    """

    def __init__(self, kb: Knowledge, declined: frozenset[str]) -> None:
        self.kb = kb
        self.declined = declined
        self._context: weakref.ref[CaseContext] | None = None
        self._checks: dict[str, list[CheckResult]] = {}
        self._status: dict[str, Verdict] = {}

    def attach(self, ctx: CaseContext) -> None:
        self._context = weakref.ref(ctx)

    @property
    def ctx(self) -> CaseContext:
        ctx = self._context() if self._context is not None else None
        if ctx is None:
            raise RuntimeError("option checks asked without their case context")
        return ctx

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_context"] = self._context() if self._context is not None else None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        ctx = state.pop("_context")
        self.__dict__.update(state)
        self._context = weakref.ref(ctx) if isinstance(ctx, CaseContext) else None

    def checks_for(self, option: str) -> list[CheckResult]:
        if option not in self._checks:
            ctx = self.ctx
            results = []
            # Verdicts here are worked out now, never deferred: a deferred verdict holds the
            # context, which holds this, and the cycle is what the weak reference avoids.
            for chk in self.kb.checks_by_option.get(option, ()):
                applies = chk.applies_when.evaluate(ctx) if chk.applies_when else None
                if applies is not None and applies.outcome is _FAIL:
                    results.append(CheckResult(chk, applies, applies))
                    continue
                results.append(CheckResult(chk, chk.require.evaluate(ctx), applies))
            self._checks[option] = results
        return self._checks[option]

    def option_status(self, option: str) -> Verdict:
        """Pass unless an avoid check fails (fail) or an indication check is unknown."""
        if option in self._status:
            return self._status[option]
        self._status[option] = passed(f"{option}: being evaluated")  # guards recursion
        name = _name(self.kb, option)
        children: list[Verdict] = []
        if option in self.declined:
            children.append(failed(f"the patient declines {name}", "preferences"))
        for res in self.checks_for(option):
            if res.applies is not None and res.applies.outcome in (
                _FAIL,
                _UNDETERMINED,
            ):
                continue  # as in _apply_checks: a check whose scope is unknown is not applied
            spec = res.check.spec
            v = res.verdict
            if (spec.effect == "avoid" and v.outcome is _FAIL) or (
                spec.kind == "indication" and v.outcome is _UNDETERMINED
            ):
                children.append(v)
        if not children:
            verdict = passed(f"no exclusion applies to {name}")
        else:
            combined = all_of(children)
            verdict = Verdict(
                combined.outcome,
                f"{name}: {combined.message}",
                f"option_not_excluded({option})",
                combined.facts,
                (),
                combined.children,
            )
        self._status[option] = verdict
        return verdict

    def excluded(self, option: str) -> bool:
        """True when :meth:`option_status` fails: the patient declines the option or one of
        its avoid checks fails. When every check of the option is pure this is found from
        outcomes alone, without the verdicts (only the plan's ``at_progression`` asks, and
        only whether); otherwise, or when the status is already known, it is read from it."""
        if option in self._status or option not in self.kb.options_with_pure_checks:
            return self.option_status(option).outcome is _FAIL
        if option in self.declined:
            return True
        ctx = self.ctx
        for chk in self.kb.checks_by_option.get(option, ()):
            if chk.spec.effect != "avoid":
                continue
            if chk.applies_when is not None and chk.applies_when.outcome(ctx) in (
                _FAIL,
                _UNDETERMINED,
            ):
                continue  # as in option_status: a check whose scope is unknown is not applied
            if chk.require.outcome(ctx) is _FAIL:
                return True
        return False


class _Planner:
    def __init__(self, case: Case, kb: Knowledge) -> None:
        self.case = case
        self.kb = kb
        self.derived = derive(case, kb.therapy_classes, kb.anti_tumour)
        declines = case.preferences.declines if case.preferences is not None else None
        self.declined = frozenset(declines or ())
        self.options = _OptionChecks(kb, self.declined)
        self.ctx = CaseContext(
            case=case,
            derived=self.derived,
            fact_tests=kb.fact_tests,
            option_status=self.options.option_status,
            therapy_classes=kb.therapy_classes,
            field_labels=kb.field_labels,
            missing_facts=kb.missing_facts,
        )
        self.options.attach(self.ctx)
        self.missing: dict[str, MissingItem] = {}
        self.avoid: dict[str, AvoidItem] = {}
        self.held_back: dict[str, list[str]] = {}

    # --- facts that are missing ---------------------------------------------------------
    def note_missing(self, facts: tuple[MissingFact, ...], what: str, kind: str) -> None:
        """Record unknown facts; ``kind`` is decides (a rule), offers or safety (an option)."""
        for fact in facts:
            item = self.missing.get(fact.field)
            if item is None:  # (not setdefault: that would make an item on every call)
                item = self.missing[fact.field] = MissingItem(fact.field, test=fact.test)
            _append(getattr(item, kind), what)
            if item.test is None:
                item.test = fact.test

    # --- checks (brief §4) ----------------------------------------------------------------
    def checks_for(self, option: str) -> list[CheckResult]:
        """The checks of ``option`` (worked out once). A method of the planner, not of its
        option checks, so that a plan's ``checks_for`` keeps the case context alive."""
        return self.options.checks_for(option)

    def option_status(self, option: str) -> Verdict:
        """Pass unless an avoid check fails (fail) or an indication check is unknown."""
        return self.options.option_status(option)

    def _is_procedure(self, option: str) -> bool:
        therapy = self.kb.therapies.get(option)
        return therapy is not None and therapy.classes[0] in ("surgery", "endoscopy")

    def _name(self, option: str) -> str:
        return _name(self.kb, option)

    # --- history ----------------------------------------------------------------------------
    def failed_before(self, option: str) -> str | None:
        """Why ``option`` counts as already tried and failed, or None."""
        h = self.derived.history
        if option in h.failed:
            return f"{self._name(option)} was given before and the disease progressed"
        for fam in self.kb.repeat_families:
            if option in fam.members:
                hit = sorted(set(fam.members) & h.failed)
                if hit:
                    names = ", ".join(self._name(x) for x in hit)
                    return f"progressed on {names}: {fam.reason}"
        return None

    # --- the plan -------------------------------------------------------------------------
    def run(self) -> PlanResult:
        candidates: dict[str, OptionItem] = {}
        rule_results: list[RuleResult] = []
        tests: list[str] = []
        surveillance: list[tuple[int, str]] = []
        next_lines: list[str] = []
        ctx = self.ctx
        fixed = fixed_facts(ctx)
        append = rule_results.append
        for rule, scope_node, scope_limits, when, when_limits in self.kb.rule_steps:
            opt_verdicts: dict[str, Verdict] = {}
            # Most rules do not apply to a case: their outcome is found by short-circuit and
            # the verdict tree, which only explain reads, is worked out on demand (deferred).
            # A pure tree that cannot hold for this case's primary site, category, extent,
            # syndrome or histotype fails without being read.
            if scope_node is not None:
                for fact, allowed in scope_limits:
                    if fixed[fact] not in allowed:
                        found = _FAIL
                        break
                else:
                    found = scope_node.outcome(ctx)
                if found is _FAIL:
                    later = DeferredVerdict(_FAIL, _evaluate, (scope_node, ctx, "scope"))
                    append(_tuple_new(RuleResult, (rule, later, opt_verdicts)))
                    continue
                if found is _UNDETERMINED:
                    spec = rule.spec
                    scope = scope_node.evaluate(ctx)
                    append(RuleResult(rule, scope.named("scope"), opt_verdicts))
                    what = f"{spec.title} ({spec.brief_rule})"
                    self.note_missing(scope.all_missing(), what, "decides")
                    continue
            for fact, allowed in when_limits:
                if fixed[fact] not in allowed:
                    found = _FAIL
                    break
            else:
                found = when.outcome(ctx)
            if found is _FAIL:
                later = DeferredVerdict(_FAIL, _evaluate, (when, ctx, ""))
                append(_tuple_new(RuleResult, (rule, later, opt_verdicts)))
                continue
            spec = rule.spec
            verdict = when.evaluate(ctx)
            rule_results.append(RuleResult(rule, verdict, opt_verdicts))
            if verdict.outcome is _UNDETERMINED:
                self.note_missing(
                    verdict.all_missing(), f"{spec.title} ({spec.brief_rule})", "decides"
                )
                continue
            if not verdict.holds:
                continue
            assumptions = [v.message for v in verdict.leaves(_WARN)]
            for rec in rule.recommend:
                r = rec.spec
                if rec.when is not None:
                    rv = rec.when.evaluate(self.ctx)
                    opt_verdicts[r.option] = rv
                    if rv.outcome is _UNDETERMINED:
                        self.note_missing(rv.all_missing(), self._name(r.option), "offers")
                        continue
                    if not rv.holds:
                        continue
                    assumptions += [v.message for v in rv.leaves(_WARN)]
                self._add_candidate(candidates, rule, r, assumptions)
            for fld in spec.ask:
                if read_field(self.case, fld) is None:
                    self.note_missing(
                        tuple(self.ctx.missing(fld)), f"{spec.title} ({spec.brief_rule})", "decides"
                    )
            for i, av in enumerate(spec.avoid):
                if rule.avoid_when[i] is not None:
                    av_verdict = rule.avoid_when[i].evaluate(self.ctx)  # type: ignore[union-attr]
                    if not av_verdict.holds:
                        continue
                item = self.avoid.setdefault(av.option, AvoidItem(av.option))
                _append(item.reasons, av.reason)
                _extend(item.evidence, av.evidence)
                _append(item.rules, spec.brief_rule)
                _append(item.sources, spec.id)
            _extend(tests, spec.tests)
            if spec.surveillance is not None:
                best = min(
                    (c.priority for c in candidates.values() if spec.id in c.rules), default=99
                )
                surveillance.append((best, spec.surveillance))
            _extend(next_lines, spec.at_progression)

        options = self._screen(candidates)
        for opt_id in sorted(self.declined):
            # A refusal is recorded in avoid even when no rule proposed the option (brief §4).
            refused = self.avoid.setdefault(opt_id, AvoidItem(opt_id))
            _append(refused.reasons, f"The patient declines {self._name(opt_id)}.")
            _append(refused.rules, "preferences")
            _append(refused.sources, "preferences")
        options.sort(key=lambda o: (_TIER_RANK[o.tier], o.priority, o.id))
        for opt_id in list(self.avoid):
            # Safety first: an option in avoid is never offered.
            options = [o for o in options if o.id != opt_id]
        offered = {o.id for o in options}
        for gap in self.missing.values():
            if gap.test is not None:
                _append(tests, gap.test)
        top = options[0].id if options else None
        at_progression = [
            o
            for o in next_lines
            if o != top
            and o not in self.avoid
            and o not in self.declined
            and self.failed_before(o) is None
            and not self.options.excluded(o)
        ]
        # A schedule for particular treatments (PRRT, everolimus ...: ``for_options``)
        # applies only when one of them is offered or under way; and when the rules chose
        # such a schedule but the first-ranked option is another treatment with a schedule
        # of its own, the patient is followed as on that first treatment.
        current = offered | set(self.derived.history.ongoing)
        schedule = next(
            (
                sid
                for _, sid in sorted(surveillance)
                if not self.kb.surveillance[sid].for_options
                or current.intersection(self.kb.surveillance[sid].for_options)
            ),
            None,
        )
        first = options[0].id if options else None
        first_own = next(
            (sched.id for sched in self.kb.surveillance.values() if first in sched.for_options),
            None,
        )
        if (
            first_own is not None
            and schedule is not None
            and self.kb.surveillance[schedule].for_options
            and first not in self.kb.surveillance[schedule].for_options
        ):
            schedule = first_own
        if schedule is None:
            # No rule's schedule fits what is offered: follow-up on the best-ranked offered
            # treatment that has a schedule of its own (everolimus, PRRT, chemotherapy ...).
            schedule = next(
                (
                    sched.id
                    for o in options
                    for sched in self.kb.surveillance.values()
                    if o.id in sched.for_options
                ),
                None,
            )
        warnings = list(self.derived.warnings)
        if not self.derived.history.recorded:
            warnings.append("No treatment history was given: the plan assumes none so far.")
        if not offered:
            warnings.append(
                "No option could be recommended from the facts given: see missing information "
                "and discuss at a NET-expert tumour board (G-01)."
            )
        return PlanResult(
            case=self.case,
            derived=self.derived,
            knowledge_version=self.kb.version,
            options=options,
            avoid=sorted(self.avoid.values(), key=lambda a: a.id),
            # Facts that change which options are offered come before safety-check facts.
            # Facts that decide most (rules or options) first; stable, so ties keep rule order.
            missing=sorted(
                self.missing.values(),
                key=lambda m: (not m.changes_options, -(len(m.decides) + len(m.offers))),
            ),
            tests=tests,
            surveillance_id=schedule,
            at_progression=at_progression,
            warnings=warnings,
            rule_results=rule_results,
            held_back=self.held_back,
            checks_for=self.checks_for,
        )

    def _add_candidate(
        self,
        candidates: dict[str, OptionItem],
        rule: CompiledRule,
        rec: Recommendation,
        assumptions: list[str],
    ) -> None:
        option = rec.option
        item = candidates.get(option)
        tier_rank = _TIER_RANK[rec.tier]
        if item is None:
            item = OptionItem(option, rec.tier, rec.priority)
            candidates[option] = item
        elif (tier_rank, rec.priority) < (_TIER_RANK[item.tier], item.priority):
            item.tier, item.priority = rec.tier, rec.priority
        text = f"{rec.because} ({rule.spec.brief_rule})"
        rank, texts = item.reasons_by_rule.get(rule.spec.id, (99, []))
        if tier_rank < rank:
            item.reasons_by_rule[rule.spec.id] = (tier_rank, [text])
        elif tier_rank == rank:
            _append(texts, text)
        item.rationale = [t for _, ts in item.reasons_by_rule.values() for t in ts]
        _extend(item.evidence, rec.evidence)
        _append(item.rules, rule.spec.id)
        if rec.disagreement:
            _append(item.disagreements, rec.disagreement)
        for a in assumptions:
            _append(item.assumptions, a)
        item.allow_after_failure = item.allow_after_failure or rec.allow_after_failure

    def _screen(self, candidates: dict[str, OptionItem]) -> list[OptionItem]:
        kept: list[OptionItem] = []
        h = self.derived.history
        for opt_id in sorted(candidates):
            item = candidates[opt_id]
            if opt_id in self.declined:
                av = self.avoid.setdefault(opt_id, AvoidItem(opt_id))
                _append(av.reasons, f"The patient declines {self._name(opt_id)}.")
                _append(av.rules, "preferences")
                _append(av.sources, "preferences")
                continue
            if opt_id in h.stopped_for_toxicity:
                av = self.avoid.setdefault(opt_id, AvoidItem(opt_id))
                _append(av.reasons, f"{self._name(opt_id)} was stopped earlier for toxicity.")
                _append(av.rules, "history")
                _append(av.sources, "toxicity")
                continue
            why_failed = self.failed_before(opt_id)
            if why_failed is None and opt_id in h.ended_outcome_unknown:
                why_failed = (
                    f"{self._name(opt_id)} was given before and its outcome is not recorded "
                    "(add stop reason or response to reconsider it)"
                )
                self.note_missing((MissingFact("treatments", None),), self._name(opt_id), "offers")
            if why_failed is None and opt_id in h.given and self._is_procedure(opt_id):
                # An operation or endoscopic removal already done is not proposed again
                # unless a rule says a repeat is reasonable (re-resection after R1).
                why_failed = f"{self._name(opt_id)} has already been performed"
            if why_failed is not None and not item.allow_after_failure:
                self.held_back.setdefault(opt_id, []).append(why_failed)
                continue
            if opt_id in h.ongoing and why_failed is None:
                item.rationale.insert(
                    0, f"Continue {self._name(opt_id)}, which the patient is on now."
                )
            if not self._apply_checks(item):
                continue
            for a in item.assumptions:
                _append(item.cautions, f"Assumption: {a}.")
            kept.append(item)
        return kept

    def _apply_checks(self, item: OptionItem) -> bool:
        """Apply §4 checks; False when the option leaves ``options``."""
        keep = True
        for res in self.checks_for(item.id):
            if res.applies is not None:
                if res.applies.outcome is _FAIL:
                    continue
                if res.applies.outcome is _UNDETERMINED:
                    continue
            spec = res.check.spec
            v = res.verdict
            if v.outcome is _PASS:
                continue
            # A check that always fails or warns (never / needs_review) carries its whole
            # meaning in its reason; for the others the fact found follows in brackets.
            found = "" if v.criterion.startswith(("never", "needs_review")) else f" ({v.message})"
            if v.outcome is _FAIL:
                if spec.effect == "avoid":
                    av = self.avoid.setdefault(item.id, AvoidItem(item.id))
                    _append(av.reasons, f"{spec.reason}{found}.")
                    _extend(av.evidence, spec.evidence)
                    _append(av.rules, spec.brief_rule)
                    _append(av.sources, spec.id)
                    keep = False
                else:
                    _append(item.cautions, f"{spec.reason}{found}.")
                    _extend(item.evidence, spec.evidence)
            elif v.outcome is _WARN:
                _append(item.cautions, f"{spec.reason}{found}.")
            else:  # undetermined
                facts = v.all_missing()
                if spec.kind == "indication":
                    self.note_missing(facts, self._name(item.id), "offers")
                    self.held_back.setdefault(item.id, []).append(f"unknown: {v.message}")
                    keep = False
                else:
                    self.note_missing(facts, self._name(item.id), "safety")
                    labels = ", ".join(_lower_first(self.ctx.label(f.field)) for f in facts)
                    labels = labels or v.message
                    prefix = f"Not recorded — check {labels} before starting"
                    if not any(c.startswith(prefix) for c in item.cautions):
                        _append(item.cautions, f"{prefix} ({_lower_first(spec.reason)}).")
        return keep


def _name(kb: Knowledge, option: str) -> str:
    therapy = kb.therapies.get(option)
    return therapy.name if therapy is not None else option


def _evaluate(node: Node, ctx: CaseContext, label: str) -> Verdict:
    """The verdict of ``node``, relabelled ``label`` unless that is empty (the work of the
    deferred verdict of a rule that does not apply)."""
    verdict = node.evaluate(ctx)
    return verdict.named(label) if label else verdict


def _lower_first(text: str) -> str:
    """Lower-case a sentence start for use mid-sentence, keeping acronyms (DPYD, ECOG)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _append(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def _extend(items: list[str], values: list[str]) -> None:
    for v in values:
        _append(items, v)


def make_plan(case: Case, kb: Knowledge) -> PlanResult:
    """Plan one case against the knowledge base ``kb``.

    Returns a :class:`PlanResult`; :func:`netnav.plan.plan_document` turns it into the
    ``netnav-plan/1`` document. Raises nothing for a valid case.
    """
    return _Planner(case, kb).run()
