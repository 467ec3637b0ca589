"""Readability measure of the guide's prose: Flesch–Kincaid grade (textstat 0.7.8, pinned:
later releases download data at run time).

A list item without closing punctuation counts as a sentence of its own, as a reader takes
it. Run ``python -m tests.readability`` to see the grade of every patient text entry of the
knowledge base (options, rules, avoid reasons, guide passages), worst first.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

import textstat  # type: ignore[import-untyped]
import yaml

GRADE_LIMIT = 8.0
"""US school grade the issue sets for every prose section (Flesch–Kincaid)."""

PATIENT_DIR = Path(__file__).resolve().parents[1] / "src/netnav/knowledge/data/patient/en"


def as_prose(parts: Iterable[str]) -> str:
    """Join texts into prose, ending each with a full stop where it has no punctuation."""
    out = []
    for p in parts:
        p = " ".join(p.split())
        if not p:
            continue
        if not re.search(r"[.!?:]$", p):
            p += "."
        out.append(p)
    return " ".join(out)


def fk_grade(text: str) -> float:
    """Flesch–Kincaid grade of ``text`` (textstat)."""
    return float(textstat.flesch_kincaid_grade(text))


def _entries() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    opts = yaml.safe_load((PATIENT_DIR / "options.yaml").read_text(encoding="utf-8"))
    for o in opts.get("options", []):
        body = [
            o["what_it_is"],
            o["how_given"],
            o["aims"],
            *o.get("side_effects", []),
            *o.get("report", []),
        ]
        rows.append((f"options/{o['id']}", as_prose(body)))
        rows.append((f"options/{o['id']}/why_not", as_prose([o["why_not"]])))
    path = PATIENT_DIR / "rules.yaml"
    if path.exists():
        for r in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules", []):
            rows.append((f"rules/{r['id']}", as_prose([r["why"]])))
    path = PATIENT_DIR / "avoid.yaml"
    if path.exists():
        for a in yaml.safe_load(path.read_text(encoding="utf-8")).get("avoid", []):
            rows.append((f"avoid/{a['source']}/{a['option']}", as_prose([a["text"]])))
    path = PATIENT_DIR / "guide.yaml"
    if path.exists():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, value in doc.items():
            if isinstance(value, list):
                for p in value:
                    if isinstance(p, dict) and "text" in p:
                        rows.append((f"guide/{key}/{p['id']}", as_prose([p["text"]])))
    return rows


def main() -> int:
    rows = sorted(((fk_grade(t), name) for name, t in _entries()), reverse=True)
    for grade, name in rows:
        flag = "  OVER" if grade > GRADE_LIMIT else ""
        print(f"{grade:5.1f}  {name}{flag}")
    over = sum(1 for g, _ in rows if g > GRADE_LIMIT)
    print(f"{len(rows)} texts, {over} over grade {GRADE_LIMIT}")
    return 1 if over else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head: not an error
        sys.exit(0)
