"""Four-valued verdicts with their explanation tree (after Hartwig Medical's ACTIN).

A criterion answers with one of four outcomes, ordered ``fail < warn < undetermined < pass``:

- ``pass``: the condition holds;
- ``warn``: it may or may not hold, or holds only under an assumption; a person must look;
- ``undetermined``: a fact it needs is unknown (never read as "no");
- ``fail``: the condition does not hold.

Verdicts are made only through the four constructors :func:`passed`, :func:`warned`,
:func:`undetermined` and :func:`failed`, each carrying one sentence saying why and the case
fields read. ``undetermined`` also names the missing fields with the test that would settle
each, which feeds the plan's ``missing_information``. Combinators keep every child, so that
``netnav explain`` can show the whole tree.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import IntEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any

__all__ = [
    "NEGATED",
    "DeferredVerdict",
    "MissingFact",
    "Outcome",
    "Verdict",
    "all_of",
    "and_outcome",
    "any_of",
    "failed",
    "negate",
    "or_outcome",
    "passed",
    "undetermined",
    "warned",
]


class Outcome(IntEnum):
    """Verdict outcome; the integer order is the order used by the combinators."""

    FAIL = 0
    WARN = 1
    UNDETERMINED = 2
    PASS = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# The members as module constants: the hot paths below compare with ``is`` many times a case.
_FAIL = Outcome.FAIL
_WARN = Outcome.WARN
_UNDETERMINED = Outcome.UNDETERMINED
_PASS = Outcome.PASS


@dataclass(frozen=True)
class MissingFact:
    """A case field whose absence left a verdict undetermined, and the test that settles it."""

    field: str
    test: str | None = None


class Verdict:
    """The answer of one criterion (or combinator) for one case.

    Fields: ``outcome``, ``message``, ``criterion`` (the label of what answered),
    ``facts`` (case fields read), ``missing`` (:class:`MissingFact`, undetermined only) and
    ``children`` (the verdicts a combinator combined).

    A verdict is a value: nothing assigns to one after it is made, and verdicts are shared
    (the memo of a case hands the same one to every rule that reads a definition). It is a
    plain slotted class rather than a frozen dataclass because a case makes hundreds of them
    and a frozen dataclass sets each field through ``object.__setattr__``, several times
    slower; equality, hashing and ``repr`` are those the dataclass had.
    """

    __slots__ = ("children", "criterion", "facts", "message", "missing", "outcome")

    outcome: Outcome
    message: str
    criterion: str
    facts: tuple[str, ...]
    missing: tuple[MissingFact, ...]
    children: tuple[Verdict, ...]

    def __init__(
        self,
        outcome: Outcome,
        message: str,
        criterion: str = "",
        facts: tuple[str, ...] = (),
        missing: tuple[MissingFact, ...] = (),
        children: tuple[Verdict, ...] = (),
    ) -> None:
        self.outcome = outcome
        self.message = message
        self.criterion = criterion
        self.facts = facts
        self.missing = missing
        self.children = children

    def _fields(self) -> tuple[object, ...]:
        return (
            self.outcome,
            self.message,
            self.criterion,
            self.facts,
            self.missing,
            self.children,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"Verdict(outcome={self.outcome!r}, message={self.message!r}, "
            f"criterion={self.criterion!r}, facts={self.facts!r}, missing={self.missing!r}, "
            f"children={self.children!r})"
        )

    @property
    def holds(self) -> bool:
        """True for pass and warn: the condition is taken to hold (warn flags a doubt)."""
        return self.outcome is _PASS or self.outcome is _WARN

    def named(self, criterion: str) -> Verdict:
        """The same verdict labelled with the criterion that produced it."""
        if criterion == self.criterion:
            return self  # already so labelled (a verdict is never changed, so share it)
        return Verdict(
            self.outcome, self.message, criterion, self.facts, self.missing, self.children
        )

    def all_missing(self) -> tuple[MissingFact, ...]:
        """Missing facts of this node and of every undetermined descendant, in tree order."""
        found: list[MissingFact] = []
        self._collect_missing(found)
        seen: set[tuple[str, str | None]] = set()
        unique = []
        for fact in found:
            key = (fact.field, fact.test)
            if key not in seen:
                seen.add(key)
                unique.append(fact)
        return tuple(unique)

    def _collect_missing(self, found: list[MissingFact]) -> None:
        found.extend(self.missing)
        for child in self.children:
            if child.outcome is _UNDETERMINED:
                child._collect_missing(found)

    def leaves(self, outcome: Outcome) -> list[Verdict]:
        """Leaf verdicts with the given outcome (the reasons behind a combinator)."""
        if not self.children:
            return [self] if self.outcome is outcome else []
        out: list[Verdict] = []
        for child in self.children:
            out.extend(child.leaves(outcome))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready tree: ``{"criterion", "verdict", "why", "facts", "missing", "children"}``."""
        node: dict[str, Any] = {
            "criterion": self.criterion,
            "verdict": self.outcome.label,
            "why": self.message,
            "facts": list(self.facts),
        }
        if self.missing:
            node["missing"] = [{"field": m.field, "test": m.test} for m in self.missing]
        if self.children:
            node["children"] = [c.to_dict() for c in self.children]
        return node


def passed(message: str, *facts: str) -> Verdict:
    return Verdict(_PASS, message, "", facts)


def warned(message: str, *facts: str) -> Verdict:
    return Verdict(_WARN, message, "", facts)


def failed(message: str, *facts: str) -> Verdict:
    return Verdict(_FAIL, message, "", facts)


_FIELD_OF = attrgetter("field")


def undetermined(message: str, missing: list[MissingFact], *facts: str) -> Verdict:
    return Verdict(
        _UNDETERMINED,
        message,
        "",
        facts or tuple(map(_FIELD_OF, missing)),
        tuple(missing),
    )


# Combination precedence. The display order of outcomes is fail < warn < undetermined < pass
# (plan-format.md), but combining by that order would let a warn (an assumption) mask an
# unknown fact: AND(warn, undetermined) would come out warn and fire a rule whose condition
# nobody knows. So AND lets a fail decide first, then an unknown, then a warn; OR lets a pass
# decide first, then a warn, then an unknown. Unknown is never read as yes or no.


def and_outcome(present: Collection[Outcome]) -> Outcome:
    """The outcome of AND over children with these outcomes (``present``: any collection,
    typically a set; empty gives pass)."""
    if _FAIL in present:
        return _FAIL
    if _UNDETERMINED in present:
        return _UNDETERMINED
    if _WARN in present:
        return _WARN
    return _PASS


def or_outcome(present: Collection[Outcome]) -> Outcome:
    """The outcome of OR over children with these outcomes (empty gives fail)."""
    if _PASS in present:
        return _PASS
    if _WARN in present:
        return _WARN
    if _UNDETERMINED in present:
        return _UNDETERMINED
    return _FAIL


def all_of(children: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """AND: any fail decides, then any unknown, then any warn; every child is evaluated (no
    short-circuit) so that the explanation tree is whole. The message joins the messages of
    the children that decided."""
    kids = tuple(children)
    if not kids:
        return Verdict(_PASS, "no condition", "all_of")
    outcome = and_outcome({c.outcome for c in kids})
    message = "; ".join([c.message for c in kids if c.outcome is outcome])
    return Verdict(outcome, message, "all_of", (), (), kids)


def any_of(children: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """OR: any pass decides, then any warn, then any unknown; else fail. The message joins
    the messages of the children that decided."""
    kids = tuple(children)
    if not kids:
        return Verdict(_FAIL, "no alternative given", "any_of")
    outcome = or_outcome({c.outcome for c in kids})
    message = "; ".join([c.message for c in kids if c.outcome is outcome])
    return Verdict(outcome, message, "any_of", (), (), kids)


# A warn means "holds, under an assumption a person must check"; its negation is therefore
# taken not to hold (under the same assumption). Keeping it a warn would fire a rule such as
# "NOT performance status ≤2" for a converted Karnofsky score that in fact meets ECOG ≤2.
NEGATED: Mapping[Outcome, Outcome] = MappingProxyType(
    {
        Outcome.PASS: Outcome.FAIL,
        Outcome.FAIL: Outcome.PASS,
        Outcome.WARN: Outcome.FAIL,
        Outcome.UNDETERMINED: Outcome.UNDETERMINED,
    }
)
"""The outcome of NOT for each outcome of its child."""


def negate(child: Verdict) -> Verdict:
    """NOT: pass and fail swap; warn (holds under an assumption) becomes fail; undetermined
    stays undetermined."""
    # The child's sentence states the fact found ("Bilio-enteric anastomosis: yes"), which is
    # the reason whichever way the negation goes; the tree shows the "not".
    return Verdict(NEGATED[child.outcome], child.message, "not", (), (), (child,))


class DeferredVerdict(Verdict):
    """A verdict whose outcome is known now and whose other fields are those of ``work(*args)``,
    called the first time one is read (never if none is).

    For the planner: most rules do not apply to a case, and only ``explain`` reads why; their
    outcome is found by short-circuit and the whole tree is worked out on demand. ``work``
    must be pure (the same verdict whenever it is called) and give exactly ``outcome``.

    Until worked out, the other fields are unset slots, so reading one falls through to
    ``__getattr__``; afterwards they read as in any verdict.
    """

    __slots__ = ("_args", "_work")

    def __init__(
        self, outcome: Outcome, work: Callable[..., Verdict], args: tuple[Any, ...] = ()
    ) -> None:
        # ``work(*args)`` rather than a partial: the planner makes one per rule that does not
        # apply (some eighty a case), and a tuple is cheaper to make than a partial.
        self.outcome = outcome
        self._work: Callable[..., Verdict] | None = work
        self._args = args

    def __getattr__(self, name: str) -> Any:
        work = self._work
        if work is None or name not in _FIELDS:
            raise AttributeError(name)
        full = work(*self._args)
        if full.outcome is not self.outcome:
            raise AssertionError(f"deferred verdict: {self.outcome!r} became {full.outcome!r}")
        self.message = full.message
        self.criterion = full.criterion
        self.facts = full.facts
        self.missing = full.missing
        self.children = full.children
        self._work = None
        self._args = ()
        return getattr(full, name)

    def __reduce__(self) -> tuple[type[Verdict], tuple[Any, ...]]:
        # Pickled (e.g. sent to another process) as the plain verdict it stands for.
        return (Verdict, self._fields())


_FIELDS = frozenset(("message", "criterion", "facts", "missing", "children"))
