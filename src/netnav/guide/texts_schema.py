"""Schema of the patient-language texts of the knowledge base (``knowledge/data/patient/<lang>``).

Everything a patient reads in a guide is data here, one folder per language, reviewable by
a clinician who reads no Python:

- ``options.yaml``: for every option id of options.md, what it is, how it is given and how
  often, what it aims to do, common side effects, what to report, why it may not suit
  someone (used when the plan lists it under ``avoid``) and the events it puts on the
  timeline picture.
- ``rules.yaml``: for every decision rule of ``rules_*.yaml``, the situation it covers, in
  words addressed to the patient ("Your tumour ..."): the guide's "why this may suit you".
- ``avoid.yaml``: for every avoid statement of a rule and every avoid check, why the option
  is not right for the patient, in words that are true whenever it fires.
- ``surveillance.yaml``: every follow-up schedule in plain words, with its timeline.
- ``missing.yaml``: for every case field the engine reads, why it matters if it is missing.
- ``guide.yaml``: the guide's fixed wording (section titles and introductions, disclaimer),
  the explanations of the patient's tumour, the tailored questions, the glossary and the
  texts on trials, specialist care and watchful waiting. Each conditional text carries a
  ``when`` over the guide facts (see :mod:`netnav.guide.facts`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GlossaryTerm",
    "GuideTexts",
    "Passage",
    "PatientAvoid",
    "PatientMissing",
    "PatientOption",
    "PatientRule",
    "PatientSurveillance",
    "TimelineEvent",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Lane = Literal["treatment", "scan", "visit", "test"]


class TimelineEvent(_Strict):
    """One row of marks on the timeline picture (weeks from the start of the plan).

    ``every_weeks`` None: a single event (or one bar of ``duration_weeks``). ``count`` None:
    repeats to the end of the picture (two years). A course of daily treatment (radiotherapy)
    is one event with ``duration_weeks``.
    """

    label: str = Field(min_length=1, max_length=40)
    lane: Lane
    start_week: float = Field(default=0, ge=0, le=104)
    every_weeks: float | None = Field(default=None, gt=0, le=104)
    count: int | None = Field(default=None, ge=1, le=200)
    duration_weeks: float = Field(default=0, ge=0, le=104)
    unless_avoided: list[str] = Field(default_factory=list)
    """Option ids this event stands for (e.g. the SSA injections between PRRT cycles): the
    event is left out when the plan avoids every one of them."""


class PatientOption(_Strict):
    """Patient-language description of one option id."""

    id: str
    name: str
    """Plain name shown as the heading (drug names kept, jargon explained)."""
    what_it_is: str
    how_given: str
    """How it is given and how often, in plain words."""
    aims: str
    """What it aims to do (cure, control growth, relieve symptoms), in plain words."""
    side_effects: list[str] = Field(default_factory=list)
    report: list[str] = Field(default_factory=list)
    """What to tell the care team about promptly."""
    why_not: str
    """Gentle, general reason this option may not suit someone (shown under "why not")."""
    timeline: list[TimelineEvent] = Field(default_factory=list)


class PatientAvoid(_Strict):
    """Why an option is not right for this patient, for one source that can put it in
    ``avoid``: a rule's avoid statement (``source`` = rule id, ``option`` = its option) or an
    avoid check (``source`` = check id, ``option`` = ``"*"`` for all its options, or one id).
    The text must be true of every patient for whom that source avoids the option."""

    source: str
    option: str
    text: str


class PatientRule(_Strict):
    """The situation a decision rule covers, addressed to the patient."""

    id: str
    why: str
    options: dict[str, str] = Field(default_factory=dict)
    """Option id -> "why" for that option where the rule's general ``why`` speaks of
    another of its options (a rule proposing valve surgery and telotristat, say)."""


class PatientSurveillance(_Strict):
    """A follow-up schedule of ``surveillance*.yaml`` in the patient's words, with the
    visits, scans and tests it puts on the timeline."""

    id: str
    text: str
    timeline: list[TimelineEvent] = Field(default_factory=list)


class PatientMissing(_Strict):
    """Why one case field the plan lists as missing matters, in the patient's words."""

    field: str
    text: str


When = dict[str, Any]
"""Guide facts -> allowed values, all of which must match (see netnav.guide.facts)."""


class Passage(_Strict):
    """A text shown when every condition of its ``when`` holds and none of its ``unless``.

    ``{placeholders}`` are filled from the guide facts' display values (``{ki67}``,
    ``{size}``, ``{site}`` ...); the loader refuses an unknown placeholder.
    """

    id: str
    text: str
    when: When = Field(default_factory=dict)
    unless: When = Field(default_factory=dict)
    when_all: When = Field(default_factory=dict)
    """Set facts that must contain every listed value (``options: [octreotide_lar,
    lanreotide]``: both offered)."""


class GlossaryTerm(_Strict):
    """A medical term and its plain meaning; explained where it is first used."""

    term: str
    meaning: str
    match: list[str] = Field(default_factory=list)
    """Other spellings that count as a use of the term (case-insensitive)."""


class GuideTexts(_Strict):
    """The fixed and conditional wording of ``guide.yaml``."""

    language: str
    titles: dict[str, str]
    """Section id -> heading."""
    intros: dict[str, str] = Field(default_factory=dict)
    """Section id -> first paragraph (may use placeholders)."""
    disclaimer: str
    title: list[Passage] = Field(default_factory=list)
    """The guide's title where ``titles.guide`` would not fit (first match wins)."""
    tumour: list[Passage]
    options_notes: list[Passage] = Field(default_factory=list)
    """Shown under the options' introduction (e.g. two forms of one medicine offered)."""
    urgent: list[Passage]
    waiting: list[Passage]
    followup: list[Passage] = Field(default_factory=list)
    next_steps: list[Passage]
    questions: list[Passage]
    trials: list[Passage]
    specialist: list[Passage]
    missing: list[Passage] = Field(default_factory=list)
    avoid_declined: str
    avoid_stopped: str
    glossary: list[GlossaryTerm] = Field(default_factory=list)
    names: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Plain names of vocabulary values by kind: ``site``, ``grade``, ``metastasis``,
    ``syndrome``, ``tier``, ``test``, ``lane``."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Small fixed words (``"side_effects": "Common side effects"`` ...)."""
