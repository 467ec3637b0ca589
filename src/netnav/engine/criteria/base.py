"""The criterion registry, the evaluation context and the compiler of YAML criteria.

A criterion is a small function ``(context, params) -> Verdict`` registered under the name the
knowledge-base files use, with a pydantic model of its parameters next to it::

    class Ki67Limit(Params):
        percent: float

    @criterion("ki67_at_most", Ki67Limit)
    def ki67_at_most(ctx: CaseContext, p: Ki67Limit) -> Verdict: ...

In YAML a criterion is a bare name (``documented_progression``), a one-key mapping to its
parameters (``ki67_at_most: {percent: 10}``), a combinator (``all_of: [...]``,
``any_of: [...]``, ``not: ...``) or the name of a definition (a named composite of
``definitions.yaml``). :func:`compile_criterion` turns that into a :class:`Node` once, at
load; unknown names and bad parameters fail there with the file and entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from netnav.case.derive import Derived
from netnav.case.model import Case
from netnav.engine.verdict import (
    NEGATED,
    MissingFact,
    Outcome,
    Verdict,
    all_of,
    and_outcome,
    any_of,
    negate,
    or_outcome,
)

_FAIL = Outcome.FAIL
_PASS = Outcome.PASS

__all__ = [
    "FIXED_FACTS",
    "REGISTRY",
    "CaseContext",
    "CriterionDef",
    "CriterionSpecError",
    "Node",
    "Params",
    "compile_criterion",
    "criterion",
    "fixed_facts",
    "possible_sites",
    "possible_values",
]


class Params(BaseModel):
    """Base of every criterion's parameter model (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


@dataclass(frozen=True)
class CaseContext:
    """What a criterion may read: the case, its derived facts and two knowledge lookups.

    ``fact_tests`` maps a case field path to the test that would settle it (facts.yaml);
    ``option_status`` evaluates an option's avoid checks (used by ``option_not_excluded``).
    """

    case: Case
    derived: Derived
    fact_tests: Mapping[str, str | None]
    option_status: Callable[[str], Verdict]
    therapy_classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    field_labels: Mapping[str, str] = field(default_factory=dict)
    missing_facts: Mapping[str, MissingFact] = field(default_factory=dict)
    """Ready-made missing-fact records by field path (must agree with ``fact_tests``; the
    knowledge base makes them once instead of once per undetermined verdict)."""
    memo: dict[int, Verdict] = field(default_factory=dict, compare=False, repr=False)
    """Verdicts already worked out for this case, by compiled node: the same definition
    (e.g. ``well_differentiated_net``) is read by many rules; it is evaluated once."""
    outcomes: dict[int, Outcome] = field(default_factory=dict, compare=False, repr=False)
    """Outcomes found by :meth:`Node.outcome` without the whole verdict, by compiled node."""

    def missing(self, *paths: str) -> list[MissingFact]:
        """Missing-fact records for ``paths`` with the settling test from facts.yaml."""
        made = self.missing_facts
        return [made[p] if p in made else MissingFact(p, self.fact_tests.get(p)) for p in paths]

    def label(self, path: str) -> str:
        """The clinic's name of a field (``Ki-67 index``), or the path itself."""
        labels = self.field_labels
        if path in labels:
            return labels[path]
        return path.rsplit(".", 1)[-1].replace("_", " ")


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class CriterionDef:
    name: str
    params: type[Params]
    fn: Callable[[CaseContext, Any], Verdict]
    doc: str
    pure: bool = True
    """False when the answer can depend on when, in a plan, it is asked (see
    :func:`criterion`)."""


REGISTRY: dict[str, CriterionDef] = {}


def criterion(
    name: str, params: type[P] | None = None, *, pure: bool = True
) -> Callable[[Callable[[CaseContext, P], Verdict]], Callable[[CaseContext, P], Verdict]]:
    """Register a criterion function under ``name`` with its parameter model.

    A pure criterion reads only the case, its derived facts and the knowledge lookups of the
    context, and returns a verdict it has just made. Its answer does not depend on when it is
    asked, so identical copies are compiled to one node, it may be skipped when the outcome
    of a tree is already decided (:meth:`Node.outcome`), and its verdict is labelled in place.
    ``pure=False`` marks one that reads the planner's state (``option_not_excluded``: an
    option's status is provisionally "pass" while it is being worked out, and the verdict
    handed back is the planner's own): it is evaluated exactly where and when it always was.
    """

    def register(fn: Callable[[CaseContext, P], Verdict]) -> Callable[[CaseContext, P], Verdict]:
        if name in REGISTRY:
            raise RuntimeError(f"criterion {name!r} registered twice")
        REGISTRY[name] = CriterionDef(
            name, params or NoParams, fn, (fn.__doc__ or "").strip().split("\n")[0], pure
        )
        return fn

    return register


class CriterionSpecError(ValueError):
    """A criterion written in a data file cannot be compiled (unknown name, bad params)."""


class Node(Protocol):
    """A compiled criterion tree."""

    @property
    def pure(self) -> bool:
        """True when every criterion in the tree is pure (see :func:`criterion`)."""
        ...

    def evaluate(self, ctx: CaseContext) -> Verdict:
        """The whole verdict, every child included (memoised in ``ctx``)."""
        ...

    def outcome(self, ctx: CaseContext) -> Outcome:
        """The outcome :meth:`evaluate` gives, working out no more of a pure tree than it
        takes to decide (AND stops at a fail, OR at a pass); an impure tree is evaluated."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class _Leaf:
    definition: CriterionDef
    params: Params
    spec: object
    label: str = ""

    @property
    def pure(self) -> bool:
        return self.definition.pure

    def evaluate(self, ctx: CaseContext) -> Verdict:
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key]
        definition = self.definition
        found = definition.fn(ctx, self.params)
        if definition.pure:
            # Made by the criterion for this call and seen by nobody yet: label it in place
            # rather than copy it (a case works out a hundred or more leaves).
            found.criterion = self.label
        else:
            found = found.named(self.label)
        memo[key] = found
        return found

    def outcome(self, ctx: CaseContext) -> Outcome:
        # evaluate, inlined: a case asks the outcome of some forty leaves.
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key].outcome
        definition = self.definition
        found = definition.fn(ctx, self.params)
        if definition.pure:
            found.criterion = self.label
        else:
            found = found.named(self.label)
        memo[key] = found
        return found.outcome

    def describe(self) -> str:
        return self.label


def _label(definition: CriterionDef, params: Params) -> str:
    values = params.model_dump(exclude_defaults=False)
    if not values:
        return definition.name
    shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
    return f"{definition.name}({shown})"


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class _Combinator:
    kind: str
    children: tuple[Node, ...]
    pure: bool = True

    def evaluate(self, ctx: CaseContext) -> Verdict:
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key]
        # A child already worked out is read from the memo here rather than through its
        # evaluate (about half are: definitions are shared by many rules).
        verdicts = [memo[k] if (k := id(c)) in memo else c.evaluate(ctx) for c in self.children]
        if self.kind == "all_of":
            found = all_of(verdicts)
        elif self.kind == "any_of":
            found = any_of(verdicts)
        else:
            found = negate(verdicts[0])
        memo[key] = found
        return found

    def outcome(self, ctx: CaseContext) -> Outcome:
        key = id(self)
        if key in ctx.memo:
            return ctx.memo[key].outcome
        if not self.pure:
            return self.evaluate(ctx).outcome
        known = ctx.outcomes
        if key not in known:
            known[key] = self._decide(ctx)
        return known[key]

    def _decide(self, ctx: CaseContext) -> Outcome:
        """The outcome from the children's outcomes, stopping at the first that decides."""
        kind = self.kind
        if kind == "not":
            return NEGATED[self.children[0].outcome(ctx)]
        decisive = _FAIL if kind == "all_of" else _PASS
        seen: list[Outcome] = []
        memo = ctx.memo
        known = ctx.outcomes
        for child in self.children:
            # What is known already is read here rather than through child.outcome: most
            # children are definitions and leaves that an earlier rule has worked out.
            key = id(child)
            if key in memo:
                found = memo[key].outcome
            elif key in known:
                found = known[key]
            else:
                found = child.outcome(ctx)
            if found is decisive:
                return found
            seen.append(found)
        return and_outcome(seen) if kind == "all_of" else or_outcome(seen)

    def describe(self) -> str:
        inner = ", ".join(c.describe() for c in self.children)
        return f"{self.kind}({inner})"


@dataclass(frozen=True)
class _Definition:
    name: str
    body: Node

    @property
    def pure(self) -> bool:
        return self.body.pure

    def evaluate(self, ctx: CaseContext) -> Verdict:
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key]
        inner = self.body.evaluate(ctx)
        found = Verdict(inner.outcome, inner.message, self.name, inner.facts, (), (inner,))
        memo[key] = found
        return found

    def outcome(self, ctx: CaseContext) -> Outcome:
        key = id(self)
        if key in ctx.memo:
            return ctx.memo[key].outcome
        found = ctx.outcomes[key] = self.body.outcome(ctx)
        return found

    def describe(self) -> str:
        return self.name


# Facts fixed for a case that rules commonly test at the top of their scope or condition:
# per criterion, the fact it reads, the parameter listing the values it passes, and the
# values for which it does not fail although they are not listed (an unknown value gives
# undetermined). For any other value of the fact the criterion fails.
FIXED_FACTS: Mapping[str, tuple[str, str, tuple[object, ...]]] = {
    "primary_site_in": ("site", "sites", ()),
    "category_in": ("category", "categories", ("uncertain",)),
    "extent_in": ("extent", "extents", ("unknown",)),
    "functional_syndrome_in": ("syndrome", "syndromes", (None,)),
    "lung_histotype_in": ("histotype", "histotypes", (None,)),
}


def fixed_facts(ctx: CaseContext) -> dict[str, object]:
    """The value of each fact of :data:`FIXED_FACTS` for the case of ``ctx``, as the
    criteria read it."""
    tumor = ctx.case.tumor
    derived = ctx.derived
    return {
        "site": tumor.primary_site,
        "category": derived.category.value,
        "extent": derived.extent.value,
        "syndrome": tumor.functional_syndrome,
        "histotype": derived.lung_histotype.value,
    }


def possible_values(node: Node) -> dict[str, frozenset[object]]:
    """Per fixed fact (:data:`FIXED_FACTS`), the values for which ``node`` may hold; for any
    other value its outcome is fail (a fact not named: no value is ruled out). Read from the
    leaves of those criteria: an ``all_of`` fails when any child fails, an ``any_of`` when
    every child fails, a definition as its body; ``not`` is not looked into. The planner
    skips rules whose pure scope or condition cannot hold."""
    if isinstance(node, _Definition):
        return possible_values(node.body)
    if isinstance(node, _Leaf):
        fixed = FIXED_FACTS.get(node.definition.name)
        if fixed is None:
            return {}
        fact, param, unlisted = fixed
        return {fact: frozenset(getattr(node.params, param)) | frozenset(unlisted)}
    if isinstance(node, _Combinator) and node.kind in ("all_of", "any_of"):
        found = [possible_values(c) for c in node.children]
        if node.kind == "any_of":
            common = set(found[0]).intersection(*found[1:])
            return {f: frozenset().union(*(d[f] for d in found)) for f in sorted(common)}
        merged: dict[str, frozenset[object]] = {}
        for d in found:
            for f, values in d.items():
                merged[f] = merged[f] & values if f in merged else values
        return merged
    return {}


def possible_sites(node: Node) -> frozenset[str] | None:
    """The primary sites for which ``node`` may hold (None: no site is ruled out); see
    :func:`possible_values`."""
    sites = possible_values(node).get("site")
    return None if sites is None else frozenset(str(s) for s in sites)


def compile_criterion(
    spec: object,
    definitions: Mapping[str, Node] | None = None,
    shared: dict[tuple[object, ...], Node] | None = None,
) -> Node:
    """Compile a criterion as written in YAML into a tree of nodes.

    ``shared`` (one dict per knowledge base, filled as it compiles) makes a criterion written
    identically in several places one node, so that the per-case memo works it out once:
    the same ``primary_site_in`` or definition is read by dozens of rules and checks.

    Raises :class:`CriterionSpecError` naming the unknown criterion or the bad parameter.
    """
    pool: dict[tuple[object, ...], Node] = {} if shared is None else shared
    return _compile(spec, definitions or {}, pool)


def _compile(spec: object, defs: Mapping[str, Node], pool: dict[tuple[object, ...], Node]) -> Node:
    if isinstance(spec, str):
        if spec in defs:
            return _shared(
                pool, ("definition", spec, id(defs[spec])), _Definition(spec, defs[spec])
            )
        return _leaf(spec, None, pool)
    if isinstance(spec, list):
        return _combinator("all_of", [_compile(s, defs, pool) for s in spec], pool)
    if not isinstance(spec, dict) or len(spec) != 1:
        raise CriterionSpecError(
            f"a criterion is a name or a one-key mapping, got {type(spec).__name__} "
            f"{_short(list(spec)) if isinstance(spec, dict) else spec!r}"
        )
    ((name, arg),) = spec.items()
    if name in ("all_of", "any_of"):
        if not isinstance(arg, list) or not arg:
            raise CriterionSpecError(f"{name} takes a non-empty list of criteria")
        return _combinator(name, [_compile(s, defs, pool) for s in arg], pool)
    if name == "not":
        return _combinator("not", [_compile(arg, defs, pool)], pool)
    return _leaf(name, arg, pool)


def _shared(pool: dict[tuple[object, ...], Node], key: tuple[object, ...], node: Node) -> Node:
    """The node already compiled under ``key``, else ``node`` (remembered under it)."""
    return pool.setdefault(key, node)


def _combinator(kind: str, children: list[Node], pool: dict[tuple[object, ...], Node]) -> Node:
    # Children are keyed by identity: they are shared nodes themselves (or deliberately
    # unshared ones), and the pooled node keeps them alive, so an id is never reused.
    key = (kind, *map(id, children))
    pure = all(c.pure for c in children)
    return _shared(pool, key, _Combinator(kind, tuple(children), pure))


def _leaf(name: str, arg: object, pool: dict[tuple[object, ...], Node]) -> Node:
    definition = REGISTRY.get(name)
    if definition is None:
        raise CriterionSpecError(
            f"unknown criterion {name!r} (known: see `netnav knowledge criteria`)"
        )
    raw = {} if arg is None else arg
    if not isinstance(raw, dict):
        raise CriterionSpecError(f"criterion {name!r} takes a mapping of parameters")
    try:
        params = definition.params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '(params)'}: {e['msg']}" for e in exc.errors()
        )
        raise CriterionSpecError(f"criterion {name!r}: bad parameters: {problems}") from None
    leaf = _Leaf(definition, params, arg, _label(definition, params))
    if not definition.pure:
        return leaf  # each copy evaluated where it stands (see criterion)
    # The parameters exactly as written (repr tells 10 from 10.0 and "1" from 1).
    return _shared(pool, ("leaf", name, repr(arg)), leaf)
