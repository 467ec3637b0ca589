"""The treatment actually given, as a cohort row records it, and how it compares with the plan.

A case carries it under ``extensions.actual_treatment`` (outside the decision fields: the
engine never reads ``extensions``)::

    "extensions": {"actual_treatment": {"option": "lanreotide", "date": "2024-03-01"}}

``option`` is an option id of ../shared/spec/options.md, an option group (``ssa``, ``prrt``,
``embolization`` ...: :data:`netnav.vocabulary.GROUPS`) or one of the unspecific history ids
that name a group (``ssa_unspecified`` → ``ssa``). ``date`` (optional) is ``YYYY-MM-DD``.

Comparison (:func:`actual_status`): a group counts as in the plan when any of its members is;
``in_preferred`` before ``in_options`` before ``in_avoid`` (a group such as ``ssa`` whose one
member is offered is read as the offered one), then ``undecided`` when the treatment is among
the options waiting on a missing fact (:func:`options_awaiting_facts`: a rule that would
offer it, or its indication check, could not be decided), else ``not_in_plan``. Without
``undecided`` a record that lacks the facts the rules need would read as discordant care.

Follow-up after treatment: a plan whose advice is follow-up (a surveillance schedule and no
treatment option) is followed by a record of follow-up only; which classes count is data,
``cohort/data/concordance.yaml`` (:func:`follows_follow_up_plan`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from netnav.engine.planner import PlanResult
from netnav.engine.verdict import Outcome
from netnav.errors import CaseProblem
from netnav.knowledge.load import Knowledge
from netnav.vocabulary import GROUPS, OPTION_IDS, members

__all__ = [
    "ACTUAL_KEY",
    "ACTUAL_OPTION_IDS",
    "ActualTreatment",
    "actual_status",
    "follows_follow_up_plan",
    "options_awaiting_facts",
    "read_actual_treatment",
]

ACTUAL_KEY: Final = "actual_treatment"
_PATH: Final = f"extensions.{ACTUAL_KEY}"

# Unspecific ids a record may carry (options.md "history only") that still name a group.
_HISTORY_GROUPS: Final[dict[str, str]] = {
    "ssa_unspecified": "ssa",
    "prrt_other": "prrt",
    "embolization_unspecified": "embolization",
}
ACTUAL_OPTION_IDS: Final[tuple[str, ...]] = (*OPTION_IDS, *GROUPS, *_HISTORY_GROUPS)
"""Every id a record of the treatment given may carry (options, groups, unspecific ids)."""

_ALLOWED: Final = (
    "an option id of options.md (see `netnav knowledge list therapies`), an option group ("
    + ", ".join(sorted(GROUPS))
    + ") or "
    + ", ".join(sorted(_HISTORY_GROUPS))
)


@dataclass(frozen=True)
class ActualTreatment:
    """The treatment given: the id as recorded, the option ids it stands for, its date."""

    option: str
    ids: frozenset[str]
    date: str | None


def read_actual_treatment(
    case: Mapping[str, Any],
) -> tuple[ActualTreatment | None, list[CaseProblem]]:
    """The actual treatment of a case document (``None`` when not recorded) and any problems
    (unknown option id, a date that is not ``YYYY-MM-DD``, unknown keys)."""
    extensions = case.get("extensions")
    if not isinstance(extensions, Mapping) or ACTUAL_KEY not in extensions:
        return None, []
    given = extensions[ACTUAL_KEY]
    if given is None:
        return None, []
    if not isinstance(given, Mapping):
        return None, [
            CaseProblem(_PATH, "must be an object", given, '{"option": ..., "date": ...}')
        ]
    problems: list[CaseProblem] = []
    unknown = sorted(set(given) - {"option", "date"})
    if unknown:
        problems.append(CaseProblem(f"{_PATH}.{unknown[0]}", "unknown key", None, "option, date"))
    option = given.get("option")
    ids: frozenset[str] = frozenset()
    if option is None:
        problems.append(CaseProblem(f"{_PATH}.option", "is required", None, _ALLOWED))
    elif not isinstance(option, str) or not _known(option):
        problems.append(CaseProblem(f"{_PATH}.option", "unknown option", option, _ALLOWED))
    else:
        ids = members(_HISTORY_GROUPS.get(option, option))
    date = given.get("date")
    if date is not None and not _iso_date(date):
        problems.append(CaseProblem(f"{_PATH}.date", "not a calendar date", date, "YYYY-MM-DD"))
    if problems:
        return None, problems
    assert isinstance(option, str)
    return ActualTreatment(option, ids, date), []


def _known(option: str) -> bool:
    return option in OPTION_IDS or option in GROUPS or option in _HISTORY_GROUPS


def _iso_date(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


class _FollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    actual_classes: tuple[str, ...]
    plan_option_classes: tuple[str, ...]
    status: Literal["in_preferred", "in_options"]


class _Concordance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["netnav-cohort-concordance/1"]
    follow_up: _FollowUp


@functools.cache
def _concordance_rules() -> _Concordance:
    text = resources.files("netnav.cohort").joinpath("data/concordance.yaml").read_text("utf-8")
    return _Concordance.model_validate(yaml.safe_load(text))


def follows_follow_up_plan(
    actual: ActualTreatment | None, plan: Mapping[str, Any], kb: Knowledge
) -> str | None:
    """The status of a follow-up-only record under a plan whose advice is follow-up, or None.

    ``plan`` is the plan document. Applies when every option the record names is of a
    follow-up class, the plan sets a surveillance schedule and every option it offers is of
    the classes allowed beside follow-up (``cohort/data/concordance.yaml``).
    """
    rules = _concordance_rules().follow_up
    if actual is None or plan.get("surveillance") is None:
        return None
    if not all(_first_class(kb, i) in rules.actual_classes for i in actual.ids):
        return None
    if not all(_first_class(kb, o["id"]) in rules.plan_option_classes for o in plan["options"]):
        return None
    return rules.status


def _first_class(kb: Knowledge, option: str) -> str | None:
    therapy = kb.therapies.get(option)
    return therapy.classes[0] if therapy is not None and therapy.classes else None


def actual_status(
    actual: ActualTreatment | None,
    preferred: Sequence[str],
    options: Sequence[str],
    avoid: Sequence[str],
    awaiting: Callable[[], Collection[str]] = tuple,
    follow_up: str | None = None,
) -> str:
    """One of :data:`netnav.cohort.records.ACTUAL_STATUSES` for the plan's lists of ids.

    ``awaiting`` gives the options waiting on a missing fact (:func:`options_awaiting_facts`;
    asked only when the treatment is neither offered nor avoided); ``follow_up`` is the
    status :func:`follows_follow_up_plan` gave, if any.
    """
    if actual is None:
        return "not_recorded"
    offered = actual.ids.intersection(options)
    if not offered and actual.ids.intersection(avoid):
        return "in_avoid"  # before the follow-up reading: a plan that avoids watching wins
    if not offered and follow_up is not None:
        return follow_up
    if actual.ids.intersection(preferred):
        return "in_preferred"
    if offered:
        return "in_options"
    if actual.ids.intersection(awaiting()):
        return "undecided"
    return "not_in_plan"


def options_awaiting_facts(result: PlanResult, kb: Knowledge) -> frozenset[str]:
    """Option ids the plan would have weighed had a missing fact been known.

    These are the options of rules whose situation (``scope`` or ``when``) is undetermined,
    options whose own condition within a firing rule is undetermined, and options held back
    because an indication check lacks a fact (the plan's ``missing_information`` names them
    under "offers").
    """
    waiting: set[str] = set()
    for rule_result in result.rule_results:
        if rule_result.verdict.outcome is Outcome.UNDETERMINED:
            waiting.update(rec.spec.option for rec in rule_result.rule.recommend)
        waiting.update(
            option
            for option, verdict in rule_result.option_verdicts.items()
            if verdict.outcome is Outcome.UNDETERMINED
        )
    # missing_information names the options it keeps back by their names.
    held_for_facts = {name for item in result.missing for name in item.offers}
    if held_for_facts:
        waiting.update(tid for tid, t in kb.therapies.items() if t.name in held_for_facts)
    return frozenset(waiting)
