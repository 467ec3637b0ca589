"""Load and cross-check the patient-language texts of one language.

:func:`load_texts` reads ``knowledge/data/patient/<language>/{options,rules,guide}.yaml``,
validates them against :mod:`netnav.guide.texts_schema` and checks them against the
knowledge base: one text for every option id and every decision rule, conditions that name
known guide facts and option ids, and placeholders the guide can fill. The first problem
raises :class:`netnav.errors.KnowledgeError` naming the file and the entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from netnav.errors import KnowledgeError
from netnav.guide.facts import FACT_NAMES, PLACEHOLDERS
from netnav.guide.texts_schema import (
    GuideTexts,
    Passage,
    PatientAvoid,
    PatientMissing,
    PatientOption,
    PatientRule,
    PatientSurveillance,
)
from netnav.knowledge.load import DATA_DIR, Knowledge, M, _load_yaml, _read, _unique, _validate
from netnav.vocabulary import OPTION_IDS

__all__ = ["PATIENT_DIR", "PatientTexts", "available_languages", "load_texts", "patient_texts"]

PATIENT_DIR = DATA_DIR / "patient"
_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
_OPTION_FACTS = frozenset({"options", "first_choice", "avoid", "next_steps", "ongoing"})


@dataclass(frozen=True)
class PatientTexts:
    """Every patient-language text of one language, validated."""

    language: str
    options: Mapping[str, PatientOption]
    rules: Mapping[str, PatientRule]
    guide: GuideTexts
    avoid: Mapping[tuple[str, str], PatientAvoid]
    """(source id, option id or ``*``) -> text."""
    surveillance: Mapping[str, PatientSurveillance]
    missing: Mapping[str, PatientMissing]
    """Case field -> why it matters."""
    option_classes: Mapping[str, tuple[str, ...]]
    """Option id -> therapy classes of the knowledge base (first: the main class)."""

    def why(self, rule_id: str, option: str) -> str:
        """The "why this may suit you" of ``rule_id`` for ``option``."""
        rule = self.rules[rule_id]
        return rule.options.get(option, rule.why)

    def why_not(self, source: str, option: str) -> str | None:
        """The patient text for ``option`` avoided by ``source`` (a rule or check id)."""
        entry = self.avoid.get((source, option)) or self.avoid.get((source, "*"))
        return entry.text if entry is not None else None


def available_languages() -> tuple[str, ...]:
    """Languages with a complete folder of patient texts (``("en",)`` today)."""
    return tuple(sorted(p.name for p in PATIENT_DIR.iterdir() if (p / "guide.yaml").exists()))


def _models(path: Path, key: str, model: type[M]) -> list[M]:
    """The entries under ``key`` of ``path``, validated (the knowledge loader's readers)."""
    return _validate(model, _read(path, key), path.name)


def _check_placeholders(text: str, file: str, entry: str) -> None:
    for name in _PLACEHOLDER.findall(text):
        if name not in PLACEHOLDERS:
            raise KnowledgeError(
                file, entry, f"unknown placeholder {{{name}}}; allowed: {sorted(PLACEHOLDERS)}"
            )


def _check_condition(cond: Mapping[str, Any], file: str, entry: str) -> None:
    for name, allowed in cond.items():
        if name not in FACT_NAMES:
            raise KnowledgeError(
                file, entry, f"unknown guide fact {name!r}; allowed: {sorted(FACT_NAMES)}"
            )
        values = allowed if isinstance(allowed, list) else [allowed]
        if name in _OPTION_FACTS:
            for v in values:
                if v not in OPTION_IDS and v != "none":
                    raise KnowledgeError(file, entry, f"{name}: {v!r} is not an option id")


def _check_passages(passages: Iterable[Passage], file: str, section: str) -> None:
    seen: set[str] = set()
    for p in passages:
        entry = f"{section}/{p.id}"
        if p.id in seen:
            raise KnowledgeError(file, entry, "id appears twice in the section")
        seen.add(p.id)
        _check_placeholders(p.text, file, entry)
        _check_condition(p.when, file, entry)
        _check_condition(p.unless, file, entry)
        _check_condition(p.when_all, file, entry)


def load_texts(language: str, kb: Knowledge, root: Path = PATIENT_DIR) -> PatientTexts:
    """The patient texts of ``language``, checked against ``kb``.

    Raises :class:`KnowledgeError` for a missing language folder, a file that does not
    match the schema, or a text that does not fit the knowledge base.
    """
    folder = root / language
    if not (folder / "guide.yaml").exists():
        raise KnowledgeError(f"patient/{language}", "-", "no patient texts for this language")
    options = _unique(
        _models(folder / "options.yaml", "options", PatientOption), "id", "options.yaml"
    )
    rules = _unique(_models(folder / "rules.yaml", "rules", PatientRule), "id", "rules.yaml")
    for oid in OPTION_IDS:
        if oid not in options:
            raise KnowledgeError("options.yaml", oid, "no patient text for this option")
    for oid in options:
        if oid not in OPTION_IDS:
            raise KnowledgeError("options.yaml", oid, "not an option id of options.md")
    rule_ids = {r.spec.id for r in kb.rules}
    for rid in sorted(rule_ids - set(rules)):
        raise KnowledgeError("rules.yaml", rid, "no patient text for this decision rule")
    for rid in sorted(set(rules) - rule_ids):
        raise KnowledgeError("rules.yaml", rid, "not a decision rule of the knowledge base")
    avoid = _load_avoid(folder / "avoid.yaml", kb)
    surveillance = _unique(
        _models(folder / "surveillance.yaml", "surveillance", PatientSurveillance),
        "id",
        "surveillance.yaml",
    )
    for sid in sorted(set(kb.surveillance) - set(surveillance)):
        raise KnowledgeError("surveillance.yaml", sid, "no patient text for this schedule")
    for sid in sorted(set(surveillance) - set(kb.surveillance)):
        raise KnowledgeError("surveillance.yaml", sid, "not a schedule of surveillance*.yaml")
    missing: dict[str, PatientMissing] = {}
    for item in _models(folder / "missing.yaml", "missing", PatientMissing):
        if item.field in missing:
            raise KnowledgeError("missing.yaml", item.field, "appears twice")
        if item.field not in kb.facts:
            raise KnowledgeError("missing.yaml", item.field, "not a case field of facts.yaml")
        missing[item.field] = item
    for fld in sorted(set(kb.facts) - set(missing)):
        raise KnowledgeError("missing.yaml", fld, "no patient text for this case field")
    for rule in rules.values():
        proposed = {
            rec.option for rec in next(r for r in kb.rules if r.spec.id == rule.id).spec.recommend
        }
        for oid in sorted(set(rule.options) - proposed):
            raise KnowledgeError(
                "rules.yaml", rule.id, f"options: {oid!r} is not proposed by this rule"
            )
    doc = _load_yaml(folder / "guide.yaml")
    try:
        guide = GuideTexts.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise KnowledgeError("guide.yaml", where, first["msg"]) from None
    for section in (
        "tumour",
        "waiting",
        "next_steps",
        "questions",
        "trials",
        "specialist",
        "missing",
    ):
        _check_passages(getattr(guide, section), "guide.yaml", section)
    for key, text in guide.intros.items():
        _check_placeholders(text, "guide.yaml", f"intros/{key}")
    for option in options.values():
        for event in option.timeline:
            for oid in event.unless_avoided:
                if oid not in OPTION_IDS:
                    raise KnowledgeError(
                        "options.yaml", option.id, f"unless_avoided: {oid!r} is not an option id"
                    )
    return PatientTexts(
        language, options, rules, guide, avoid, surveillance, missing, kb.therapy_classes
    )


def _load_avoid(path: Path, kb: Knowledge) -> dict[tuple[str, str], PatientAvoid]:
    """The avoid texts, complete: one per avoid statement of a rule and per avoid check."""
    file = path.name
    entries: dict[tuple[str, str], PatientAvoid] = {}
    for item in _models(path, "avoid", PatientAvoid):
        key = (item.source, item.option)
        if key in entries:
            raise KnowledgeError(file, f"{item.source}/{item.option}", "appears twice")
        entries[key] = item
    needed: set[tuple[str, str]] = set()
    for rule in kb.rules:
        for statement in rule.spec.avoid:
            needed.add((rule.spec.id, statement.option))
    check_options = {c.spec.id: set(c.spec.options) for c in kb.checks if c.spec.effect == "avoid"}
    for source, option in sorted(entries):
        if (source, option) in needed:
            continue
        if source in check_options and (option == "*" or option in check_options[source]):
            continue
        raise KnowledgeError(
            file,
            f"{source}/{option}",
            "no rule avoid statement or avoid check with this source and option",
        )
    for source, option in sorted(needed):
        if (source, option) not in entries:
            raise KnowledgeError(
                file, f"{source}/{option}", "no patient text for this avoid statement"
            )
    for check_id, options in sorted(check_options.items()):
        if (check_id, "*") not in entries and not all((check_id, o) in entries for o in options):
            raise KnowledgeError(file, check_id, "no patient text for this avoid check")
    return entries


_LOADED: dict[tuple[str, str], PatientTexts] = {}


def patient_texts(language: str, kb: Knowledge) -> PatientTexts:
    """:func:`load_texts` for the packaged texts, read once per language and knowledge version."""
    key = (language, kb.version)
    if key not in _LOADED:
        _LOADED[key] = load_texts(language, kb)
    return _LOADED[key]
