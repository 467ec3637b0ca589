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
from netnav.engine.verdict import MissingFact, Verdict, all_of, any_of, negate

__all__ = [
    "REGISTRY",
    "CaseContext",
    "CriterionDef",
    "CriterionSpecError",
    "Node",
    "Params",
    "compile_criterion",
    "criterion",
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
    shareable: bool = True
    """False when the answer can depend on when, in a plan, it is asked (see
    :func:`criterion`); two copies of such a criterion are never merged into one node."""


REGISTRY: dict[str, CriterionDef] = {}


def criterion(
    name: str, params: type[P] | None = None, *, shareable: bool = True
) -> Callable[[Callable[[CaseContext, P], Verdict]], Callable[[CaseContext, P], Verdict]]:
    """Register a criterion function under ``name`` with its parameter model.

    ``shareable=False`` marks a criterion that reads the planner's state rather than only the
    case (``option_not_excluded``: an option's status is provisionally "pass" while it is
    being worked out): its copies stay separate nodes, each evaluated when first asked.
    """

    def register(fn: Callable[[CaseContext, P], Verdict]) -> Callable[[CaseContext, P], Verdict]:
        if name in REGISTRY:
            raise RuntimeError(f"criterion {name!r} registered twice")
        REGISTRY[name] = CriterionDef(
            name, params or NoParams, fn, (fn.__doc__ or "").strip().split("\n")[0], shareable
        )
        return fn

    return register


class CriterionSpecError(ValueError):
    """A criterion written in a data file cannot be compiled (unknown name, bad params)."""


class Node(Protocol):
    """A compiled criterion tree."""

    def evaluate(self, ctx: CaseContext) -> Verdict: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class _Leaf:
    definition: CriterionDef
    params: Params
    spec: object
    label: str = ""

    def evaluate(self, ctx: CaseContext) -> Verdict:
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key]
        found = memo[key] = self.definition.fn(ctx, self.params).named(self.label)
        return found

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

    def evaluate(self, ctx: CaseContext) -> Verdict:
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key]
        verdicts = [c.evaluate(ctx) for c in self.children]
        if self.kind == "all_of":
            found = all_of(verdicts)
        elif self.kind == "any_of":
            found = any_of(verdicts)
        else:
            found = negate(verdicts[0])
        memo[key] = found
        return found

    def describe(self) -> str:
        inner = ", ".join(c.describe() for c in self.children)
        return f"{self.kind}({inner})"


@dataclass(frozen=True)
class _Definition:
    name: str
    body: Node

    def evaluate(self, ctx: CaseContext) -> Verdict:
        memo = ctx.memo
        key = id(self)
        if key in memo:
            return memo[key]
        inner = self.body.evaluate(ctx)
        found = Verdict(inner.outcome, inner.message, self.name, inner.facts, (), (inner,))
        memo[key] = found
        return found

    def describe(self) -> str:
        return self.name


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
    return _shared(pool, key, _Combinator(kind, tuple(children)))


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
    if not definition.shareable:
        return leaf
    # The parameters exactly as written (repr tells 10 from 10.0 and "1" from 1).
    return _shared(pool, ("leaf", name, repr(arg)), leaf)
