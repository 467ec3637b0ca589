"""What changed between two plans of the same case (a re-run under newer knowledge).

Pure function of the two plan documents; the sentences name options by their plan names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["PlanChange", "plan_changes"]

ChangeKind = Literal[
    "option_added",
    "option_removed",
    "option_moved",
    "option_tier",
    "option_reasons",
    "avoid_added",
    "avoid_removed",
    "missing_added",
    "missing_settled",
    "surveillance",
    "at_progression",
    "tests",
]


@dataclass(frozen=True)
class PlanChange:
    """One difference: its kind, the option or field it concerns, and a sentence."""

    kind: ChangeKind
    subject: str
    text: str


def _names(plan: Mapping[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for key in ("options", "avoid"):
        for item in plan.get(key, []):
            names[item["id"]] = item.get("name") or item["id"]
    for oid, name in zip(
        plan.get("at_progression", []), plan.get("at_progression_names", []), strict=False
    ):
        names.setdefault(oid, name)
    return names


def plan_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[PlanChange]:
    """The differences from ``old`` to ``new`` (both ``netnav-plan/1``), in plan order."""
    names = {**_names(old), **_names(new)}
    changes: list[PlanChange] = []
    before = {o["id"]: o for o in old.get("options", [])}
    after = {o["id"]: o for o in new.get("options", [])}
    for oid, o in after.items():
        name = names.get(oid, oid)
        if oid not in before:
            changes.append(
                PlanChange(
                    "option_added",
                    oid,
                    f"{name}: new in the plan at rank {o['rank']} ({o['tier']})",
                )
            )
            continue
        b = before[oid]
        if b["rank"] != o["rank"]:
            changes.append(
                PlanChange("option_moved", oid, f"{name}: rank {b['rank']} → {o['rank']}")
            )
        if b["tier"] != o["tier"]:
            changes.append(PlanChange("option_tier", oid, f"{name}: {b['tier']} → {o['tier']}"))
        if b.get("rationale") != o.get("rationale") or b.get("cautions") != o.get("cautions"):
            changes.append(
                PlanChange("option_reasons", oid, f"{name}: reasons or cautions reworded")
            )
    for oid, b in before.items():
        if oid not in after:
            changes.append(
                PlanChange(
                    "option_removed",
                    oid,
                    f"{names.get(oid, oid)}: no longer in the plan (was rank {b['rank']})",
                )
            )
    avoid_before = {a["id"] for a in old.get("avoid", [])}
    avoid_after = {a["id"]: a for a in new.get("avoid", [])}
    for oid, a in avoid_after.items():
        if oid not in avoid_before:
            reason = a["reasons"][0] if a.get("reasons") else ""
            changes.append(
                PlanChange("avoid_added", oid, f"{names.get(oid, oid)}: now to avoid. {reason}")
            )
    for oid in sorted(avoid_before - set(avoid_after)):
        changes.append(
            PlanChange("avoid_removed", oid, f"{names.get(oid, oid)}: no longer to avoid")
        )
    missing_before = {m["field"] for m in old.get("missing_information", [])}
    missing_after = {m["field"]: m for m in new.get("missing_information", [])}
    for field, m in missing_after.items():
        if field not in missing_before:
            label = m.get("label") or field
            changes.append(PlanChange("missing_added", field, f"now asked for: {label}"))
    for field in sorted(missing_before - set(missing_after)):
        changes.append(PlanChange("missing_settled", field, f"no longer asked for: {field}"))
    s_old, s_new = old.get("surveillance") or {}, new.get("surveillance") or {}
    if s_old != s_new:
        changes.append(
            PlanChange(
                "surveillance",
                "surveillance",
                "follow-up: "
                f"{s_old.get('situation', 'none')} ({s_old.get('interval', '—')}) → "
                f"{s_new.get('situation', 'none')} ({s_new.get('interval', '—')})",
            )
        )
    if old.get("at_progression") != new.get("at_progression"):
        shown = ", ".join(new.get("at_progression_names") or new.get("at_progression") or [])
        changes.append(
            PlanChange(
                "at_progression", "at_progression", f"next lines at progression: {shown or 'none'}"
            )
        )
    if old.get("tests") != new.get("tests"):
        added = [t for t in new.get("tests", []) if t not in old.get("tests", [])]
        dropped = [t for t in old.get("tests", []) if t not in new.get("tests", [])]
        parts = []
        if added:
            parts.append("added " + ", ".join(t.replace("_", " ") for t in added))
        if dropped:
            parts.append("dropped " + ", ".join(t.replace("_", " ") for t in dropped))
        changes.append(
            PlanChange("tests", "tests", "tests to request: " + "; ".join(parts or ["reordered"]))
        )
    return changes
