"""What a patient guide says: sections of plain-language prose built from one plan.

:func:`build_patient_guide` turns a case, its planner result and plan document into a
:class:`PatientGuide` — a tree of sections, blocks and prose — that the HTML renderer only
lays out. Every sentence comes from the patient texts of the knowledge base
(``knowledge/data/patient/<lang>``): texts about the tumour and the questions are chosen by
their ``when`` conditions over the guide facts; each option of the plan gets its patient
description and the "why this may suit you" of every rule that proposed it; avoided options
get a gentle reason. Medical terms of the glossary are explained at their first use.

Pure and deterministic: the same inputs give the same guide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from netnav import __version__
from netnav.case.model import Case
from netnav.engine.planner import PlanResult
from netnav.guide.facts import (
    GuideFacts,
    guide_facts,
    matches,
    matches_all_values,
    matches_any,
)
from netnav.guide.settings import ClinicSettings
from netnav.guide.texts import PatientTexts
from netnav.guide.texts_schema import GlossaryTerm, Passage
from netnav.guide.timeline import Timeline, plan_timeline

__all__ = ["Block", "PatientGuide", "Section", "Segment", "build_patient_guide"]

_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
_EXPLAINED_HERE = re.compile(r"\s*(\(|,\s+(a|an|the|which|called)\b)")


@dataclass(frozen=True)
class Segment:
    """A run of text; ``meaning`` is set on a glossary term at its first use."""

    text: str
    meaning: str | None = None


Prose = tuple[Segment, ...]


@dataclass(frozen=True)
class Block:
    """A heading (optional), a note under it, paragraphs and labelled lists."""

    heading: str | None = None
    note: str | None = None
    paragraphs: tuple[Prose, ...] = ()
    lists: tuple[tuple[str, tuple[Prose, ...]], ...] = ()
    anchor: str | None = None
    names_only: bool = False
    """The lists hold option names (headings in effect): no glossary explanation in them."""


@dataclass(frozen=True)
class Section:
    """One section of the guide (``id`` is stable: tests and the web interface use it)."""

    id: str
    title: str
    blocks: tuple[Block, ...]
    timeline: Timeline | None = None


@dataclass(frozen=True)
class PatientGuide:
    """The whole guide for one patient, ready to lay out."""

    language: str
    title: str
    case_id: str | None
    as_of: str | None
    prepared_on: str
    prepared_by: str
    clinic: ClinicSettings
    netnav_version: str
    knowledge_version: str
    knowledge_reviewed: str
    disclaimer: str
    sections: tuple[Section, ...]
    labels: Mapping[str, str]
    skipped: tuple[str, ...] = field(default=())
    """Passages left out because a placeholder had no value (a data problem; tests assert
    it stays empty)."""

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)


def _p(text: str) -> Prose:
    return (Segment(" ".join(text.split())),)


class _Writer:
    def __init__(self, texts: PatientTexts, facts: GuideFacts) -> None:
        self.texts = texts
        self.facts = facts
        self.skipped: list[str] = []

    def fill(self, text: str, where: str) -> str | None:
        missing = [n for n in _PLACEHOLDER.findall(text) if not self.facts.display.get(n)]
        if missing:
            self.skipped.append(f"{where}: no value for {', '.join(missing)}")
            return None
        return _PLACEHOLDER.sub(lambda m: self.facts.display[m.group(1)], text)

    def passages(self, passages: Iterable[Passage], section: str) -> list[Prose]:
        out: list[Prose] = []
        for p in passages:
            if not matches(p.when, self.facts.values):
                continue
            if p.unless and matches_any(p.unless, self.facts.values):
                continue
            if p.when_all and not matches_all_values(p.when_all, self.facts.values):
                continue
            text = self.fill(p.text, f"{section}/{p.id}")
            if text is not None and _p(text) not in out:
                # The same words from two passages are said once.
                out.append(_p(text))
        return out

    def intro(self, key: str) -> list[Prose]:
        text = self.texts.guide.intros.get(key)
        if not text:
            return []
        filled = self.fill(text, f"intros/{key}")
        return [_p(filled)] if filled is not None else []

    def title(self, key: str) -> str:
        return self.texts.guide.titles[key]

    def label(self, key: str) -> str:
        return self.texts.guide.labels[key]


def _options_section(w: _Writer, plan: Mapping[str, Any], result: PlanResult) -> Section | None:
    texts = w.texts
    tier_names = texts.guide.names.get("tier", {})
    notes = w.passages(texts.guide.options_notes, "options_notes")
    blocks = [Block(paragraphs=(*w.intro("options"), *notes))]
    for option in plan["options"]:
        po = texts.options[option["id"]]
        whys: list[Prose] = []
        for rule_id in option["basis"]["rules"]:
            why = texts.why(rule_id, option["id"])
            if _p(why) not in whys:
                whys.append(_p(why))
        lists: list[tuple[str, tuple[Prose, ...]]] = []
        if whys:
            lists.append((w.label("why_suits"), tuple(whys)))
        if po.side_effects:
            lists.append((w.label("side_effects"), tuple(_p(s) for s in po.side_effects)))
        if po.report:
            lists.append((w.label("report"), tuple(_p(s) for s in po.report)))
        if option["cautions"]:
            # The plan's cautions are for the clinician; the patient learns that there are
            # checks to ask about, not a paraphrase that could lose a threshold.
            lists.append((w.label("before_start"), (_p(w.label("checks_first")),)))
        blocks.append(
            Block(
                heading=po.name,
                note=tier_names.get(option["tier"], option["tier"]),
                paragraphs=(_p(po.what_it_is), _p(po.how_given), _p(po.aims)),
                lists=tuple(lists),
                anchor=f"option-{option['id']}",
            )
        )
    if len(blocks) == 1:
        # Nothing to offer now (e.g. every option declined): say so rather than stay silent.
        blocks = [Block(paragraphs=tuple(w.intro("options_none")))]
    return Section("options", w.title("options"), tuple(blocks))


def _avoid_section(w: _Writer, result: PlanResult) -> Section | None:
    """Each avoided option with the patient text of what put it there (the patient's own
    refusal, earlier side effects, the rule or check), else the option's general reason."""
    blocks = []
    g = w.texts.guide
    for item in result.avoid:
        po = w.texts.options[item.id]
        reasons: list[str] = []
        for source in item.sources:
            if source == "preferences":
                text: str | None = g.avoid_declined
            elif source == "toxicity":
                text = g.avoid_stopped
            else:
                text = w.texts.why_not(source, item.id)
            if text is not None and text not in reasons:
                reasons.append(text)
        if not reasons:
            reasons.append(po.why_not)
        blocks.append(Block(heading=po.name, paragraphs=tuple(_p(r) for r in reasons)))
    if not blocks:
        return None
    return Section("avoid", w.title("avoid"), (Block(paragraphs=tuple(w.intro("avoid"))), *blocks))


def _next_steps_section(w: _Writer, plan: Mapping[str, Any]) -> Section | None:
    if not plan["at_progression"]:
        return None
    names = tuple(_p(w.texts.options[o].name) for o in plan["at_progression"])
    paragraphs = w.passages(w.texts.guide.next_steps, "next_steps")
    return Section(
        "next_steps",
        w.title("next_steps"),
        (
            Block(
                paragraphs=tuple(paragraphs),
                lists=((w.label("next_options"), names),),
                names_only=True,
            ),
        ),
    )


def _simple(w: _Writer, section: str, passages: Iterable[Passage]) -> Section | None:
    paragraphs = w.intro(section) + w.passages(passages, section)
    if not paragraphs:
        return None
    return Section(section, w.title(section), (Block(paragraphs=tuple(paragraphs)),))


def _followup_section(w: _Writer, plan: Mapping[str, Any]) -> Section | None:
    """Watchful waiting (tumour in place, plan watches) or check-ups after treatment, with
    the plan's own follow-up schedule in the patient's words."""
    facts = w.facts.values
    watching = bool(facts["watchful_waiting"]) and facts["after_removal"] is not True
    section = "waiting" if watching else "followup"
    passages = w.texts.guide.waiting if watching else w.texts.guide.followup
    paragraphs = w.passages(passages, section)
    schedule = plan.get("surveillance")
    if schedule:
        paragraphs.append(_p(w.texts.surveillance[schedule["id"]].text))
    elif not watching:
        return None
    if not paragraphs:
        return None
    return Section(section, w.title(section), (Block(paragraphs=tuple(paragraphs)),))


def _missing_section(w: _Writer, plan: Mapping[str, Any]) -> Section | None:
    """The plan's missing facts, each with why it matters, in the plan's order."""
    if not plan["missing_information"]:
        return None
    items: list[Prose] = []
    for m in plan["missing_information"]:
        entry = w.texts.missing.get(m["field"])
        if entry is not None and _p(entry.text) not in items:
            items.append(_p(entry.text))
    paragraphs = w.passages(w.texts.guide.missing, "missing")
    return Section(
        "missing",
        w.title("missing"),
        (Block(paragraphs=tuple(paragraphs), lists=(("", tuple(items)),)),),
    )


def _urgent_section(w: _Writer) -> Section | None:
    items = w.passages(w.texts.guide.urgent, "urgent")
    if not items:
        return None
    return Section(
        "urgent",
        w.title("urgent"),
        (Block(paragraphs=tuple(w.intro("urgent")), lists=(("", tuple(items)),)),),
    )


def _questions_section(w: _Writer) -> Section | None:
    items = w.passages(w.texts.guide.questions, "questions")
    if not items:
        return None
    return Section(
        "questions",
        w.title("questions"),
        (Block(paragraphs=tuple(w.intro("questions")), lists=(("", tuple(items)),)),),
    )


def _explain_terms(sections: list[Section], glossary: Iterable[GlossaryTerm]) -> list[Section]:
    """Mark the first use of each glossary term in the prose with its plain meaning."""
    pending = list(glossary)

    def mark(prose: Prose) -> Prose:
        out: list[Segment] = []
        for seg in prose:
            if seg.meaning is not None:
                out.append(seg)
                continue
            rest = seg.text
            while rest:
                best: tuple[int, int, GlossaryTerm] | None = None
                for term in pending:
                    for spelling in (term.term, *term.match):
                        m = re.search(
                            rf"(?<![\w-]){re.escape(spelling)}(?![\w-])", rest, re.IGNORECASE
                        )
                        if m and (best is None or m.start() < best[0]):
                            best = (m.start(), m.end(), term)
                if best is None:
                    out.append(Segment(rest))
                    break
                start, end, term = best
                pending.remove(term)
                if _EXPLAINED_HERE.match(rest[end:]) or rest[:start].rstrip().endswith("("):
                    # The text explains the term itself (in brackets, or "X, a scan that
                    # ..."): no second explanation.
                    out.append(Segment(rest[:end]))
                    rest = rest[end:]
                    continue
                if start:
                    out.append(Segment(rest[:start]))
                out.append(Segment(rest[start:end], term.meaning))
                rest = rest[end:]
        return tuple(out)

    def mark_block(b: Block) -> Block:
        return replace(
            b,
            paragraphs=tuple(mark(p) for p in b.paragraphs),
            lists=b.lists
            if b.names_only
            else tuple((label, tuple(mark(i) for i in items)) for label, items in b.lists),
        )

    return [replace(s, blocks=tuple(mark_block(b) for b in s.blocks)) for s in sections]


def build_patient_guide(
    case: Case,
    result: PlanResult,
    plan: Mapping[str, Any],
    texts: PatientTexts,
    clinic: ClinicSettings,
    prepared_on: str,
) -> PatientGuide:
    """The patient guide for one plan.

    ``plan`` is the ``netnav-plan/1`` document of ``result``; ``prepared_on`` is the date
    printed on the guide (ISO ``YYYY-MM-DD``; the caller decides it, so the guide stays a
    pure function of its inputs).
    """
    g = texts.guide
    facts = guide_facts(
        case,
        result,
        plan,
        g.names,
        clinic.name,
        texts.option_classes,
    )
    w = _Writer(texts, facts)
    timeline = plan_timeline(plan, texts)
    sections = [
        _simple(w, "about", ()),
        _simple(w, "tumour", g.tumour),
        _options_section(w, plan, result),
        _urgent_section(w),
        (
            Section(
                "timeline",
                w.title("timeline"),
                (Block(paragraphs=tuple(w.intro("timeline"))),),
                timeline,
            )
            if timeline is not None
            else None
        ),
        _followup_section(w, plan),
        _missing_section(w, plan),
        _avoid_section(w, result),
        _next_steps_section(w, plan),
        _questions_section(w),
        _simple(w, "trials", g.trials),
        _simple(w, "specialist", g.specialist),
    ]
    kept = _explain_terms([s for s in sections if s is not None], g.glossary)
    return PatientGuide(
        language=texts.language,
        title=next((p.text for p in g.title if matches(p.when, facts.values)), g.titles["guide"]),
        case_id=case.id,
        as_of=case.as_of,
        prepared_on=prepared_on,
        prepared_by=clinic.prepared_by,
        clinic=clinic,
        netnav_version=__version__,
        knowledge_version=plan["knowledge_version"],
        knowledge_reviewed=plan["knowledge_reviewed"],
        disclaimer=g.disclaimer,
        sections=tuple(kept),
        labels=g.labels,
        skipped=tuple(w.skipped),
    )
