"""Generic criteria over one case field: comparisons, membership and flags.

The wording of every comparison comes from one table (:data:`_PHRASES`), so a rule written
``field_at_least`` never reads "below" in an explanation. The missing-fact branch comes
first: an absent field is undetermined, never a pass or a fail.
"""

from __future__ import annotations

import operator
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, field_validator

from netnav.case.model import Case
from netnav.engine.criteria.base import CaseContext, Params, criterion
from netnav.engine.verdict import Verdict, failed, passed, undetermined

__all__ = ["field_exists", "read_field"]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _annotation(path: str) -> Any:
    """The type annotation of the case field at ``path``; raises KeyError when unknown."""
    model: type[BaseModel] | None = Case
    annotation: Any = None
    for part in path.split("."):
        if model is None or part not in model.model_fields:
            raise KeyError(path)
        annotation = model.model_fields[part].annotation
        model = _model_in(annotation)
    return annotation


def field_exists(path: str) -> bool:
    """True when ``path`` (``patient.labs.egfr_ml_min``) names a field of the case format."""
    try:
        _annotation(path)
    except KeyError:
        return False
    return True


def _is_numeric(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(_is_numeric(a) for a in args)
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_numeric(typing.get_args(annotation)[0])
    return False


def read_field(case: Case, path: str) -> Any:
    """The value at ``path``, or None when it or any object above it is absent."""
    value: Any = case
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


class FieldParams(Params):
    field: str

    @field_validator("field")
    @classmethod
    def _known_field(cls, v: str) -> str:
        if not field_exists(v):
            raise ValueError(f"{v!r} is not a field of the case format")
        return v


class Threshold(FieldParams):
    value: float
    unit: str = ""

    @field_validator("field")
    @classmethod
    def _numeric_field(cls, v: str) -> str:
        if field_exists(v) and not _is_numeric(_annotation(v)):
            raise ValueError(f"{v!r} is not a numeric field: compare it with field_in")
        return v


class Members(FieldParams):
    values: list[str | int | bool]


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x).replace("_", " ")


_PHRASES: dict[str, tuple[Callable[[Any, Any], bool], str, str]] = {
    # name: (test, phrase when it holds, phrase when it does not)
    "at_least": (operator.ge, "is at least", "is below"),
    "at_most": (operator.le, "is at most", "is above"),
    "below": (operator.lt, "is below", "is at least"),
    "above": (operator.gt, "is above", "is at most"),
}


def _compare(ctx: CaseContext, p: Threshold, kind: str) -> Verdict:
    value = read_field(ctx.case, p.field)
    label = ctx.label(p.field)
    unit = f" {p.unit}" if p.unit else ""
    if value is None:
        return undetermined(f"{label} not known", ctx.missing(p.field))
    test, yes, no = _PHRASES[kind]
    shown = f"{label} {_fmt(float(value))}{unit}"
    limit = f"{_fmt(p.value)}{unit}"
    if test(float(value), p.value):
        return passed(f"{shown} {yes} {limit}", p.field)
    return failed(f"{shown} {no} {limit}", p.field)


@criterion("field_at_least", Threshold)
def field_at_least(ctx: CaseContext, p: Threshold) -> Verdict:
    """A numeric field is at least a value (the boundary meets it)."""
    return _compare(ctx, p, "at_least")


@criterion("field_at_most", Threshold)
def field_at_most(ctx: CaseContext, p: Threshold) -> Verdict:
    """A numeric field is at most a value (the boundary meets it)."""
    return _compare(ctx, p, "at_most")


@criterion("field_below", Threshold)
def field_below(ctx: CaseContext, p: Threshold) -> Verdict:
    """A numeric field is strictly below a value."""
    return _compare(ctx, p, "below")


@criterion("field_above", Threshold)
def field_above(ctx: CaseContext, p: Threshold) -> Verdict:
    """A numeric field is strictly above a value."""
    return _compare(ctx, p, "above")


@criterion("field_in", Members)
def field_in(ctx: CaseContext, p: Members) -> Verdict:
    """A field's value is one of the listed values."""
    value = read_field(ctx.case, p.field)
    label = ctx.label(p.field)
    if value is None:
        return undetermined(f"{label} not known", ctx.missing(p.field))
    if value in p.values:
        return passed(f"{label} is {_fmt(value)}", p.field)
    listed = ", ".join(_fmt(v) for v in p.values)
    return failed(f"{label} is {_fmt(value)}, not {listed}", p.field)


@criterion("field_true", FieldParams)
def field_true(ctx: CaseContext, p: FieldParams) -> Verdict:
    """A yes/no field is yes."""
    value = read_field(ctx.case, p.field)
    label = ctx.label(p.field)
    if value is None:
        return undetermined(f"{label}: not stated", ctx.missing(p.field))
    if value is True:
        return passed(f"{label}: yes", p.field)
    return failed(f"{label}: no", p.field)


@criterion("field_known", FieldParams)
def field_known(ctx: CaseContext, p: FieldParams) -> Verdict:
    """A field has been recorded (any value)."""
    value = read_field(ctx.case, p.field)
    label = ctx.label(p.field)
    if value is None:
        return undetermined(f"{label} not recorded", ctx.missing(p.field))
    return passed(f"{label} recorded", p.field)


@criterion("field_absent_or_in", Members)
def field_absent_or_in(ctx: CaseContext, p: Members) -> Verdict:
    """A field is not recorded, or has one of the listed values (e.g. germline status
    untested or unknown: the trigger for counselling, brief G-07)."""
    value = read_field(ctx.case, p.field)
    label = ctx.label(p.field)
    if value is None:
        return passed(f"{label} not recorded", p.field)
    if value in p.values:
        return passed(f"{label} is {_fmt(value)}", p.field)
    return failed(f"{label} is {_fmt(value)}", p.field)
