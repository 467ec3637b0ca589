"""The treatment actually given, as a cohort row records it, and how it compares with the plan.

A case carries it under ``extensions.actual_treatment`` (outside the decision fields: the
engine never reads ``extensions``)::

    "extensions": {"actual_treatment": {"option": "lanreotide", "date": "2024-03-01"}}

``option`` is an option id of ../shared/spec/options.md, an option group (``ssa``, ``prrt``,
``embolization`` ...: :data:`netnav.vocabulary.GROUPS`) or one of the unspecific history ids
that name a group (``ssa_unspecified`` → ``ssa``). ``date`` (optional) is ``YYYY-MM-DD``.

Comparison (:func:`actual_status`): a group counts as in the plan when any of its members is;
``in_preferred`` before ``in_options`` before ``in_avoid`` (a group such as ``ssa`` whose one
member is offered is read as the offered one), else ``not_in_plan``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from netnav.errors import CaseProblem
from netnav.vocabulary import GROUPS, OPTION_IDS, members

__all__ = ["ACTUAL_KEY", "ActualTreatment", "actual_status", "read_actual_treatment"]

ACTUAL_KEY: Final = "actual_treatment"
_PATH: Final = f"extensions.{ACTUAL_KEY}"

# Unspecific ids a record may carry (options.md "history only") that still name a group.
_HISTORY_GROUPS: Final[dict[str, str]] = {
    "ssa_unspecified": "ssa",
    "prrt_other": "prrt",
    "embolization_unspecified": "embolization",
}
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


def actual_status(
    actual: ActualTreatment | None,
    preferred: Sequence[str],
    options: Sequence[str],
    avoid: Sequence[str],
) -> str:
    """One of :data:`netnav.cohort.records.ACTUAL_STATUSES` for the plan's lists of ids."""
    if actual is None:
        return "not_recorded"
    if actual.ids.intersection(preferred):
        return "in_preferred"
    if actual.ids.intersection(options):
        return "in_options"
    if actual.ids.intersection(avoid):
        return "in_avoid"
    return "not_in_plan"
