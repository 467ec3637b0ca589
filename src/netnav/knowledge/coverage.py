"""Which knowledge-base entries implement each rule of the clinical brief.

``brief_rules.yaml`` lists every rule id of the brief (G-01 ... OT-01) with its section and
title; each rule, check, definition, surveillance schedule and sequencing family names the
brief rule(s) it implements in ``brief_rule`` (e.g. ``"PA-02; G3-01"``). :func:`coverage`
joins the two, so a reviewer can see at a glance that no rule of the brief is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from netnav.errors import KnowledgeError
from netnav.knowledge.load import DATA_DIR, Knowledge

__all__ = ["BriefRule", "RuleCoverage", "brief_rules", "coverage"]

_RULE_ID = re.compile(r"\b([A-Z][A-Z0-9]*-\d{2})\b")


class BriefRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    section: str
    title: str


@dataclass(frozen=True)
class RuleCoverage:
    rule: BriefRule
    entries: tuple[str, ...]
    """``kind:id`` of each knowledge-base entry that names the rule, e.g. ``rule:SI-05``."""

    @property
    def covered(self) -> bool:
        return bool(self.entries)


def brief_rules(data_dir: Path = DATA_DIR) -> list[BriefRule]:
    """The brief's rule ids (``brief_rules.yaml``)."""
    import yaml

    path = data_dir / "brief_rules.yaml"
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
        return [BriefRule.model_validate(r) for r in doc["rules"]]
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise KnowledgeError(path.name, "-", f"cannot read the brief's rule list: {exc}") from None


def coverage(kb: Knowledge, data_dir: Path = DATA_DIR) -> list[RuleCoverage]:
    """For every rule of the brief, the entries that implement it (in brief order)."""
    named: dict[str, list[str]] = {}

    def note(kind: str, ident: str, brief_rule: str) -> None:
        for rid in _RULE_ID.findall(brief_rule):
            named.setdefault(rid, []).append(f"{kind}:{ident}")

    for r in kb.rules:
        note("rule", r.spec.id, r.spec.brief_rule)
    for c in kb.checks:
        note("check", c.spec.id, c.spec.brief_rule)
    for name, (d, _) in kb.definitions.items():
        note("definition", name, d.brief_rule)
    for s in kb.surveillance.values():
        note("surveillance", s.id, s.brief_rule)
    # Evidence that merely cites a rule does not implement it, so only rules, checks,
    # definitions and schedules count.
    return [RuleCoverage(rule, tuple(named.get(rule.id, []))) for rule in brief_rules(data_dir)]
