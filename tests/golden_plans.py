"""Golden plans: the committed plan of every vignette, example and clinical case.

A knowledge or engine change that changes any of these plans fails ``make test`` with a
summary of what changed (options, tiers, ranks, avoid, missing facts), so the change is
reviewed; ``make golden`` regenerates the files after review, and the commit shows the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netnav.api import recommend
from netnav.case import case_from_mapping
from netnav.plan import plan_json

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
SOURCES = ("vignettes", "examples", "clinical")

__all__ = ["GOLDEN", "case_files", "golden_path", "plan_text", "summarise_change"]


def case_files() -> list[Path]:
    return [p for folder in SOURCES for p in sorted((DATA / folder).glob("*.json"))]


def golden_path(case_file: Path) -> Path:
    return GOLDEN / f"{case_file.parent.name}--{case_file.stem}.plan.json"


def plan_text(case_file: Path) -> str:
    doc = json.loads(case_file.read_text("utf-8"))
    case = doc["case"] if "case" in doc and "format" not in doc else doc
    return plan_json(recommend(case_from_mapping(case)))


def _shape(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "options": [(o["id"], o["tier"], o["rank"]) for o in plan["options"]],
        "avoid": sorted(a["id"] for a in plan["avoid"]),
        "missing": [m["field"] for m in plan["missing_information"]],
        "derived": {k: v["value"] for k, v in plan["derived"].items()},
        "at_progression": plan["at_progression"],
    }


def summarise_change(old: str, new: str) -> str:
    """What changed between two plans: decisions first; wording-only changes said apart."""
    a, b = _shape(json.loads(old)), _shape(json.loads(new))
    lines = [f"  {k}: {a[k]} -> {b[k]}" for k in a if a[k] != b[k]]
    return "\n".join(lines) if lines else "  wording or evidence text only"


def regenerate() -> int:
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.plan.json"):
        old.unlink()
    files = case_files()
    for f in files:
        golden_path(f).write_text(plan_text(f), "utf-8")
    return len(files)


if __name__ == "__main__":
    print(f"wrote {regenerate()} golden plans to {GOLDEN}")
