"""The plan document (``netnav-plan/1``, ../shared/spec/plan-format.md).

:func:`plan_document` turns the planner's result into the JSON-ready plan whose keys are a
contract: ``format``, ``case_id``, ``knowledge_version``, ``derived``, ``options``, ``avoid``,
``missing_information``, ``tests``, ``surveillance``, ``at_progression``. Keys beyond those
(``warnings``, ``disagreements``, option ``name``/``schedule``/``basis``) are netnav's own.
"""

from __future__ import annotations

import json
from typing import Any

from netnav.engine.planner import PlanResult
from netnav.knowledge.load import Knowledge
from netnav.knowledge.schema import EvidenceStatus

__all__ = ["PLAN_FORMAT", "plan_document", "plan_json"]

PLAN_FORMAT = "netnav-plan/1"


# EvidenceStatus.rank builds its table on every call; a plan reads it once per evidence id.
_RANK = {status: status.rank for status in EvidenceStatus}


def _evidence_item(kb: Knowledge, eid: str) -> dict[str, Any]:
    # A fresh copy of the knowledge base's ready-made item: the caller owns the plan.
    return dict(kb.evidence_items[eid])


def _weakest(kb: Knowledge, ids: list[str]) -> str:
    statuses = [kb.evidence[i].status for i in ids]
    if not statuses:
        return EvidenceStatus.UNVERIFIED.value
    return max(statuses, key=_RANK.__getitem__).value


def plan_document(result: PlanResult, kb: Knowledge) -> dict[str, Any]:
    """The ``netnav-plan/1`` document for a planner result (deterministic key order)."""
    rule_status = kb.rule_status
    options = []
    disagreements: list[dict[str, str]] = []
    for rank, o in enumerate(result.options, start=1):
        therapy = kb.therapies[o.id]
        options.append(
            {
                "id": o.id,
                "name": therapy.name,
                "tier": o.tier.value,
                "rank": rank,
                "rationale": list(o.rationale),
                "evidence": [_evidence_item(kb, e) for e in o.evidence],
                "cautions": list(o.cautions),
                "schedule": therapy.schedule,
                "basis": {
                    "rules": list(o.rules),
                    "weakest_evidence_status": _weakest(kb, o.evidence),
                    # The rule's own tag in the brief: V2 or UNVERIFIED means the rule
                    # itself still needs primary-source or expert confirmation.
                    "weakest_rule_status": max(
                        (rule_status[r] for r in o.rules), key=_RANK.__getitem__
                    ).value,
                },
            }
        )
        for d in o.disagreements:
            disagreements.append({"option": o.id, "positions": d})
    schedule = (
        kb.surveillance[result.surveillance_id] if result.surveillance_id is not None else None
    )
    surveillance = (
        {
            "id": schedule.id,
            "situation": schedule.situation,
            "imaging": schedule.imaging,
            "markers": schedule.markers,
            "interval": schedule.interval,
            "duration": schedule.duration,
            "watchful_waiting": schedule.watchful_waiting,
            "rebiopsy": schedule.rebiopsy or None,
            "evidence": [_evidence_item(kb, e) for e in schedule.evidence],
            "status": schedule.status.value,
        }
        if schedule is not None
        else None
    )
    return {
        "format": PLAN_FORMAT,
        "case_id": result.case.id,
        "knowledge_version": result.knowledge_version,
        "knowledge_reviewed": kb.manifest.last_reviewed,
        "derived": result.derived.as_plan_section(),
        "options": options,
        "avoid": [
            {
                "id": a.id,
                "name": kb.therapies[a.id].name,
                "reasons": list(a.reasons),
                "evidence": [_evidence_item(kb, e) for e in a.evidence],
            }
            for a in result.avoid
        ],
        "missing_information": [
            {
                "field": m.field,
                "label": kb.facts[m.field].label if m.field in kb.facts else m.field,
                "why": m.why,
                "test": m.test,
            }
            for m in result.missing
        ],
        "tests": list(result.tests),
        "surveillance": surveillance,
        "at_progression": list(result.at_progression),
        "at_progression_names": [kb.therapies[o].name for o in result.at_progression],
        "warnings": list(result.warnings),
        "disagreements": disagreements,
    }


def plan_json(document: dict[str, Any]) -> str:
    """Serialise a plan document the same way every time (byte-for-byte determinism)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
