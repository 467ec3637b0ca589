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
    memo: dict[int, Verdict] = field(default_factory=dict, compare=False, repr=False)
    """Verdicts already worked out for this case, by compiled node: the same definition
    (e.g. ``well_differentiated_net``) is read by many rules; it is evaluated once."""

    def missing(self, *paths: str) -> list[MissingFact]:
        """Missing-fact records for ``paths`` with the settling test from facts.yaml."""
        return [MissingFact(p, self.fact_tests.get(p)) for p in paths]

    def label(self, path: str) -> str:
        """The clinic's name of a field (``Ki-67 index``), or the path itself."""
        return self.field_labels.get(path, path.rsplit(".", 1)[-1].replace("_", " "))


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class CriterionDef:
    name: str
    params: type[Params]
    fn: Callable[[CaseContext, Any], Verdict]
    doc: str


REGISTRY: dict[str, CriterionDef] = {}


def criterion(
    name: str, params: type[P] | None = None
) -> Callable[[Callable[[CaseContext, P], Verdict]], Callable[[CaseContext, P], Verdict]]:
    """Register a criterion function under ``name`` with its parameter model."""

    def register(fn: Callable[[CaseContext, P], Verdict]) -> Callable[[CaseContext, P], Verdict]:
        if name in REGISTRY:
            raise RuntimeError(f"criterion {name!r} registered twice")
        REGISTRY[name] = CriterionDef(
            name, params or NoParams, fn, (fn.__doc__ or "").strip().split("\n")[0]
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
        key = id(self)
        found = ctx.memo.get(key)
        if found is None:
            found = self.definition.fn(ctx, self.params).named(self.label)
            ctx.memo[key] = found
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
        key = id(self)
        found = ctx.memo.get(key)
        if found is None:
            verdicts = [c.evaluate(ctx) for c in self.children]
            if self.kind == "all_of":
                found = all_of(verdicts)
            elif self.kind == "any_of":
                found = any_of(verdicts)
            else:
                found = negate(verdicts[0])
            ctx.memo[key] = found
        return found

    def describe(self) -> str:
        inner = ", ".join(c.describe() for c in self.children)
        return f"{self.kind}({inner})"


@dataclass(frozen=True)
class _Definition:
    name: str
    body: Node

    def evaluate(self, ctx: CaseContext) -> Verdict:
        key = id(self)
        found = ctx.memo.get(key)
        if found is None:
            inner = self.body.evaluate(ctx)
            found = Verdict(inner.outcome, inner.message, self.name, inner.facts, (), (inner,))
            ctx.memo[key] = found
        return found

    def describe(self) -> str:
        return self.name


def compile_criterion(spec: object, definitions: Mapping[str, Node] | None = None) -> Node:
    """Compile a criterion as written in YAML into a tree of nodes.

    Raises :class:`CriterionSpecError` naming the unknown criterion or the bad parameter.
    """
    defs = definitions or {}
    if isinstance(spec, str):
        if spec in defs:
            return _Definition(spec, defs[spec])
        return _leaf(spec, None)
    if isinstance(spec, list):
        return _Combinator("all_of", tuple(compile_criterion(s, defs) for s in spec))
    if not isinstance(spec, dict) or len(spec) != 1:
        raise CriterionSpecError(
            f"a criterion is a name or a one-key mapping, got {type(spec).__name__} "
            f"{_short(list(spec)) if isinstance(spec, dict) else spec!r}"
        )
    ((name, arg),) = spec.items()
    if name in ("all_of", "any_of"):
        if not isinstance(arg, list) or not arg:
            raise CriterionSpecError(f"{name} takes a non-empty list of criteria")
        return _Combinator(name, tuple(compile_criterion(s, defs) for s in arg))
    if name == "not":
        return _Combinator("not", (compile_criterion(arg, defs),))
    return _leaf(name, arg)


def _leaf(name: str, arg: object) -> Node:
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
    return _Leaf(definition, params, arg, _label(definition, params))
