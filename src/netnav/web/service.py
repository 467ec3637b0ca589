"""Plan a case and keep the plan: what the API and the pages both do.

Planning is :func:`netnav.api.recommend` (pure); saving is :class:`PlanStore`. A re-run under
the same knowledge version would give the same plan byte for byte, so it returns the saved
plan instead of a copy; under another version it saves a new plan linked to the old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netnav.api import recommend
from netnav.case.load import case_from_mapping
from netnav.case.model import Case
from netnav.knowledge.load import Knowledge
from netnav.web.store import PLAN_ID, PlanStore, SavedPlan

__all__ = ["Rerun", "WebContext", "find_plan", "plan_and_save", "rerun"]


@dataclass(frozen=True)
class WebContext:
    """What every request handler needs: the knowledge base in force and the plan store."""

    knowledge: Knowledge
    store: PlanStore


def find_plan(ctx: WebContext, plan_id: str) -> SavedPlan | None:
    """The saved plan of ``plan_id``; None, without asking the database, for a malformed id
    (a URL segment that is not 32 hex digits: a case id typed by mistake, ``%00``)."""
    return ctx.store.get(plan_id) if PLAN_ID.fullmatch(plan_id) else None


def plan_and_save(
    ctx: WebContext,
    case: Case,
    case_doc: Mapping[str, Any],
    *,
    previous_plan_id: str | None = None,
) -> SavedPlan:
    """Plan ``case`` under the current knowledge and save case, plan and version."""
    plan = recommend(case, ctx.knowledge)
    return ctx.store.save(case_doc, plan, ctx.knowledge.version, previous_plan_id=previous_plan_id)


@dataclass(frozen=True)
class Rerun:
    """The outcome of re-running a saved plan: the plan now in force and whether it is new."""

    plan: SavedPlan
    created: bool


def rerun(ctx: WebContext, saved: SavedPlan) -> Rerun:
    """Re-plan a saved case under the knowledge in force.

    Same knowledge version: the saved plan (nothing new is saved); already re-planned under
    the current version: that plan. Otherwise a new plan whose ``previous_plan_id`` is the
    saved one. A case the current case model refuses raises
    :class:`~netnav.errors.CaseError` (the format may have tightened since it was saved).
    """
    if saved.knowledge_version == ctx.knowledge.version:
        return Rerun(saved, created=False)
    # Already re-planned under this version (a second click, the back button): that plan.
    for later in ctx.store.reruns_of(saved.id):
        if later.knowledge_version == ctx.knowledge.version:
            return Rerun(later, created=False)
    case = case_from_mapping(saved.case)
    return Rerun(plan_and_save(ctx, case, saved.case, previous_plan_id=saved.id), created=True)
