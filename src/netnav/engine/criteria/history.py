"""Criteria about treatment history and line of therapy (brief §1.4, §1.7).

A case without ``treatments`` is read as "none recorded": the plan states that assumption
(derived ``line_of_therapy``), because a report that lists no treatment usually means none.
"""

from __future__ import annotations

from pydantic import Field

from netnav.engine.criteria.base import CaseContext, Params, criterion
from netnav.engine.verdict import Verdict, failed, passed, undetermined

__all__: list[str] = []


def _listed(classes: list[str]) -> str:
    return ", ".join(c.replace("_", " ") for c in classes)


class Line(Params):
    line: int = Field(ge=1)


@criterion("line_of_therapy_at_least", Line)
def line_of_therapy_at_least(ctx: CaseContext, p: Line) -> Verdict:
    """The current line of therapy for advanced disease is at least ``line``."""
    fact = ctx.derived.line_of_therapy
    if fact.value >= p.line:
        return passed(f"line {fact.value} of therapy ({fact.how})", "treatments")
    return failed(f"line {fact.value} of therapy ({fact.how})", "treatments")


@criterion("first_line")
def first_line(ctx: CaseContext, p: Params) -> Verdict:
    """No anti-tumour line for advanced disease has ended or failed yet."""
    fact = ctx.derived.line_of_therapy
    if fact.value == 1:
        return passed(f"first line ({fact.how})", "treatments")
    return failed(f"line {fact.value}, not first line ({fact.how})", "treatments")


class Classes(Params):
    classes: list[str] = Field(min_length=1)


@criterion("progressed_on_class", Classes)
def progressed_on_class(ctx: CaseContext, p: Classes) -> Verdict:
    """Disease progressed on (or after) a therapy of one of these classes."""
    h = ctx.derived.history
    hit = sorted(h.failed_classes & set(p.classes))
    if hit:
        ids = sorted(t for t in h.failed if _in_classes(ctx, t, p.classes))
        return passed(
            f"progressed on {_listed(hit)} ({', '.join(i.replace('_', ' ') for i in ids)})",
            "treatments",
        )
    if not h.recorded:
        return failed(
            f"no treatments recorded: no progression on {_listed(p.classes)}", "treatments"
        )
    return failed(f"no progression recorded on {_listed(p.classes)}", "treatments")


def _membership(held: frozenset[str], wanted: list[str], yes: str, no: str) -> Verdict:
    """Pass naming what of ``wanted`` is in ``held`` (``yes`` prefix), else fail with ``no``
    (a format string taking the listed ``wanted``). Shared by the history criteria below."""
    hit = sorted(held & set(wanted))
    if hit:
        return passed(f"{yes} {_listed(hit)}", "treatments")
    return failed(no.format(_listed(wanted)), "treatments")


@criterion("given_class", Classes)
def given_class(ctx: CaseContext, p: Classes) -> Verdict:
    """A therapy of one of these classes has been given (at any time)."""
    h = ctx.derived.history
    return _membership(h.given_classes, p.classes, "already given:", "no {} given so far")


@criterion("on_class_now", Classes)
def on_class_now(ctx: CaseContext, p: Classes) -> Verdict:
    """A therapy of one of these classes is being given now (ongoing)."""
    h = ctx.derived.history
    return _membership(h.ongoing_classes, p.classes, "currently on", "not currently on {}")


class Benefit(Params):
    classes: list[str] = Field(min_length=1)
    months: float = Field(gt=0)


@criterion("prior_benefit_at_least", Benefit)
def prior_benefit_at_least(ctx: CaseContext, p: Benefit) -> Verdict:
    """An earlier therapy of these classes controlled the disease for at least ``months``."""
    h = ctx.derived.history
    earlier = [t for t in h.given if _in_classes(ctx, t, p.classes)]
    if not earlier:
        return failed(f"no earlier {_listed(p.classes)}", "treatments")
    months = [h.months_to_progression[t] for t in earlier if t in h.months_to_progression]
    if not months:
        return undetermined(
            f"how long the earlier {_listed(p.classes)} controlled the disease is not recorded",
            ctx.missing("treatments"),
        )
    best = max(months)
    if best >= p.months:
        return passed(
            f"earlier {_listed(p.classes)} controlled the disease for {best:g} months "
            f"(at least {p.months:g})",
            "treatments",
        )
    return failed(
        f"earlier {_listed(p.classes)} controlled the disease for only {best:g} months "
        f"(less than {p.months:g})",
        "treatments",
    )


def _in_classes(ctx: CaseContext, therapy: str, classes: list[str]) -> bool:
    return bool(set(ctx.therapy_classes.get(therapy, ())) & set(classes))


class Options(Params):
    options: list[str] = Field(min_length=1)


@criterion("on_therapy_now", Options)
def on_therapy_now(ctx: CaseContext, p: Options) -> Verdict:
    """One of these options is being given now (``ongoing``), e.g. a long-acting SSA."""
    h = ctx.derived.history
    return _membership(h.ongoing, p.options, "currently on", "not currently on {}")


@criterion("given_therapy", Options)
def given_therapy(ctx: CaseContext, p: Options) -> Verdict:
    """One of these options has been given at any time (e.g. a completed hemicolectomy)."""
    h = ctx.derived.history
    return _membership(h.given, p.options, "already given:", "not given: {}")
