"""Typed models of the knowledge-base data files (validated once, at load).

Files under ``netnav/knowledge/data``:

- ``manifest.yaml``: knowledge version, release and review date.
- ``therapies.yaml``: the therapy catalogue, one entry per option id of options.md.
- ``evidence.yaml``: the evidence registry (trials, guidelines, labels), with the brief's
  verification status ``V`` / ``V2`` / ``UNVERIFIED``.
- ``facts.yaml``: the case fields the engine reads, with the test that settles each.
- ``checks.yaml``: contraindication and caution checks by option (brief §4).
- ``rules_*.yaml``: decision rules by pathway (brief §2).
- ``surveillance.yaml``: follow-up schedules (brief §3).

Every model forbids unknown keys so that a typo in a data file fails at load.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AvoidStatement",
    "Check",
    "Definition",
    "EvidenceEntry",
    "EvidenceStatus",
    "FactEntry",
    "Manifest",
    "Recommendation",
    "RepeatFamily",
    "Rule",
    "SurveillanceSchedule",
    "Therapy",
    "Tier",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceStatus(StrEnum):
    """Verification status of a statement, as tagged in the clinical brief (§0)."""

    V = "V"  # checked against a primary source
    V2 = "V2"  # checked against a secondary source only
    UNVERIFIED = "UNVERIFIED"  # from general knowledge; primary text not retrieved

    @property
    def rank(self) -> int:
        return {"V": 0, "V2": 1, "UNVERIFIED": 2}[self.value]

    @property
    def plain(self) -> str:
        return {
            "V": "checked against the primary source",
            "V2": "checked against a secondary summary only",
            "UNVERIFIED": "not verified against a primary source",
        }[self.value]


class Tier(StrEnum):
    """Strength of a recommendation in the plan (plan-format.md)."""

    PREFERRED = "preferred"
    ALTERNATIVE = "alternative"
    CONSIDER = "consider"

    @property
    def rank(self) -> int:
        return {"preferred": 0, "alternative": 1, "consider": 2}[self.value]


TherapyClass = Literal[
    "strategy",
    "endoscopy",
    "surgery",
    "liver_directed",
    "radiotherapy",
    "ssa",
    "prrt",
    "mtor_inhibitor",
    "tyrosine_kinase_inhibitor",
    "chemotherapy",
    "temozolomide_based",
    "fluoropyrimidine",
    "streptozocin",
    "platinum",
    "irinotecan",
    "taxane",
    "immunotherapy",
    "interferon",
    "serotonin_synthesis_inhibitor",
    "syndrome_control",
    "supportive",
    "trial",
    "genetics",
    "referral",
    "other",
]

Goal = Literal["cure", "control_growth", "relieve_symptoms", "prevent_complications", "inform"]


class Therapy(_Strict):
    """One option of the vocabulary (options.md) with what a clinician and patient need."""

    id: str
    name: str
    classes: list[TherapyClass] = Field(min_length=1)
    """First entry is the class used for line-of-therapy counting (brief §1.7)."""
    anti_tumour: bool
    """Counts as a line of anti-tumour therapy for advanced disease (brief §1.7)."""
    recommendable: bool = True
    """False for history-only ids (``ssa_unspecified`` ...) and never-offered ones."""
    route: str
    schedule: str
    plain_language: str
    goals: list[Goal] = Field(default_factory=list)
    side_effects: list[str] = Field(default_factory=list)
    report_promptly: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    notes: str = ""


class EvidenceEntry(_Strict):
    """A trial, guideline, label or study the knowledge base cites."""

    id: str
    kind: Literal["trial", "guideline", "label", "study", "review", "convention"]
    title: str
    citation: str
    year: int | None = None
    population: str = ""
    intervention: str = ""
    key_result: str = ""
    status: EvidenceStatus
    brief_rules: list[str] = Field(default_factory=list)
    source: str = ""
    """Where the brief's authors read it (brief §8), or what a later check found."""
    last_reviewed: str = "2026-11-29"


class FactEntry(_Strict):
    """A case field the engine reads: plain label, why it matters and the settling test."""

    field: str
    label: str
    why: str
    test: str | None = None


class Manifest(_Strict):
    """Version of the knowledge base; stamped into every plan."""

    version: str
    released: str
    brief_revision: str
    last_reviewed: str
    notes: str = ""


# --- rules and checks -------------------------------------------------------------------

CriterionSpec = dict[str, Any] | str
"""A criterion as written in YAML: a bare name (``advanced_disease``) or a one-key mapping
from the criterion name to its parameters (``ki67_at_most: {percent: 10}``), or a combinator
(``all_of: [...]``, ``any_of: [...]``, ``not: ...``)."""


class Recommendation(_Strict):
    """One option a rule recommends, with its tier and place in the rule's order."""

    option: str
    tier: Tier
    priority: int = Field(ge=1, le=99)
    """Lower first; ties between options of equal standing are broken by option id."""
    because: str
    evidence: list[str] = Field(min_length=1)
    when: CriterionSpec | None = None
    """Extra conditions for this option only (undetermined -> not offered, fact missing)."""
    allow_after_failure: bool = False
    """Re-treatment is reasonable even though this option (or its family) failed before."""
    disagreement: str = ""
    """Where guidelines disagree on this option (brief §2.12): who holds which view."""


class AvoidStatement(_Strict):
    """An option a rule says is wrong in its situation (goes to the plan's ``avoid``)."""

    option: str
    reason: str
    evidence: list[str] = Field(min_length=1)
    when: CriterionSpec | None = None
    """Only when this also holds (e.g. everolimus is wrong for syndrome control alone)."""


class Rule(_Strict):
    """A decision rule of the brief (§2): conditions over the case -> recommendations."""

    id: str
    brief_rule: str
    title: str
    scope: CriterionSpec | None = None
    """Checked before ``when``: a rule outside its scope is skipped, and when the scope itself
    is unknown only the facts deciding the scope are reported missing (e.g. carcinoid heart
    disease matters only once a carcinoid syndrome is known)."""
    when: CriterionSpec
    recommend: list[Recommendation] = Field(default_factory=list)
    avoid: list[AvoidStatement] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    """Case fields to name as missing when absent while the rule holds."""
    surveillance: str | None = None
    at_progression: list[str] = Field(default_factory=list)
    status: EvidenceStatus = EvidenceStatus.V
    note: str = ""


class Check(_Strict):
    """A contraindication or caution check of the brief's §4 for some options.

    ``require`` is a criterion that must hold for the option to be safe/indicated. When it
    fails: ``effect`` avoid -> the option moves to ``avoid`` with ``reason``; caution -> the
    option keeps its place with ``reason`` as a caution. When it is undetermined: a check of
    ``kind`` indication makes the option not offered (the fact goes to missing information);
    a safety check keeps the option with a "confirm ... before starting" caution.
    """

    id: str
    brief_rule: str
    options: list[str] = Field(min_length=1)
    require: CriterionSpec
    effect: Literal["avoid", "caution"]
    kind: Literal["indication", "safety"] = "safety"
    reason: str
    evidence: list[str] = Field(min_length=1)
    applies_when: CriterionSpec | None = None
    """The check is evaluated only when this holds (e.g. carcinoid syndrome present)."""


class Definition(_Strict):
    """A named composite criterion (e.g. ``watch_and_wait_eligible``) used by rules."""

    name: str
    brief_rule: str
    description: str
    when: CriterionSpec


class RepeatFamily(_Strict):
    """Options that count as the same treatment when deciding what has already failed."""

    name: str
    members: list[str] = Field(min_length=2)
    reason: str
    evidence: list[str] = Field(min_length=1)


class SurveillanceSchedule(_Strict):
    """A follow-up schedule of the brief's §3."""

    id: str
    brief_rule: str
    situation: str
    imaging: str
    markers: str = ""
    interval: str
    duration: str
    watchful_waiting: bool = False
    rebiopsy: str = ""
    for_options: list[str] = Field(default_factory=list)
    """Follow-up on these treatments only: the plan uses the schedule when one of them is
    offered or under way (a PRRT schedule is no schedule for a patient who declines PRRT)."""
    evidence: list[str] = Field(min_length=1)
    status: EvidenceStatus
