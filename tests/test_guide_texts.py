"""The patient texts of the knowledge base: complete, checked on load, plain (grade ≤ 8)."""

from __future__ import annotations

import shutil
import typing
from pathlib import Path

import pytest
import yaml

from netnav.case.model import FunctionalSyndrome, MetastasisSite, PrimarySite
from netnav.errors import KnowledgeError
from netnav.guide.texts import PATIENT_DIR, available_languages, load_texts
from netnav.guide.timeline import HORIZON_WEEKS
from netnav.vocabulary import OPTION_IDS
from tests.helpers import kb
from tests.readability import GRADE_LIMIT, _entries, fk_grade


def test_english_is_available_and_complete() -> None:
    assert available_languages() == ("en",)
    texts = load_texts("en", kb())
    assert set(texts.options) == set(OPTION_IDS)
    assert set(texts.rules) == {r.spec.id for r in kb().rules}


@pytest.mark.parametrize(("name", "text"), _entries(), ids=[n for n, _ in _entries()])
def test_every_patient_text_reads_at_or_below_grade_8(name: str, text: str) -> None:
    assert fk_grade(text) <= GRADE_LIMIT, f"{name}: grade {fk_grade(text):.1f}: {text}"


def test_plain_names_cover_the_case_vocabulary() -> None:
    names = load_texts("en", kb()).guide.names
    assert set(typing.get_args(PrimarySite)) <= set(names["site"])
    assert set(typing.get_args(MetastasisSite)) <= set(names["metastasis"])
    assert set(typing.get_args(FunctionalSyndrome)) - {"none"} <= set(names["syndrome"])
    assert set(names["tier"]) == {"preferred", "alternative", "consider"}


def test_timeline_events_fit_the_picture() -> None:
    for option in load_texts("en", kb()).options.values():
        for e in option.timeline:
            assert e.start_week <= HORIZON_WEEKS, option.id
            if e.count is not None:
                assert e.every_weeks is not None, f"{option.id}: count without an interval"


def test_strategies_without_treatment_put_no_treatment_on_the_timeline() -> None:
    texts = load_texts("en", kb())
    for oid in ("active_surveillance", "endoscopic_surveillance", "no_further_treatment"):
        assert all(e.lane != "treatment" for e in texts.options[oid].timeline), oid


# --- the loader refuses broken texts -----------------------------------------------------------


@pytest.fixture
def texts_copy(tmp_path: Path) -> Path:
    shutil.copytree(PATIENT_DIR, tmp_path / "patient")
    return tmp_path / "patient"


def _edit(path: Path, change: typing.Callable[[dict[str, typing.Any]], None]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "change", "words"),
    [
        (
            "guide.yaml",
            lambda d: d["tumour"][0].update(text="Your {tumor_size} tumour."),
            ["unknown placeholder {tumor_size}"],
        ),
        (
            "guide.yaml",
            lambda d: d["questions"][1].update(when={"sstr": ["unknown"]}),
            ["unknown guide fact 'sstr'"],
        ),
        (
            "guide.yaml",
            lambda d: d["questions"][0].update(when={"options": ["lutathera"]}),
            ["'lutathera' is not an option id"],
        ),
        ("guide.yaml", lambda d: d["tumour"].append(dict(d["tumour"][0])), ["appears twice"]),
        ("guide.yaml", lambda d: d.pop("disclaimer"), ["disclaimer", "Field required"]),
        ("options.yaml", lambda d: d["options"].pop(3), ["no patient text for this option"]),
        (
            "options.yaml",
            lambda d: d["options"][0].update(timeline=[{"label": "x", "lane": "party"}]),
            ["timeline"],
        ),
        ("avoid.yaml", lambda d: d["avoid"].pop(0), ["no patient text for this avoid statement"]),
        (
            "avoid.yaml",
            lambda d: d["avoid"].append({"source": "SI-03", "option": "everolimus", "text": "x"}),
            ["SI-03/everolimus", "no rule avoid statement or avoid check"],
        ),
        ("avoid.yaml", lambda d: d["avoid"].append(dict(d["avoid"][0])), ["appears twice"]),
        ("rules.yaml", lambda d: d["rules"].pop(0), ["no patient text for this decision rule"]),
        (
            "rules.yaml",
            lambda d: d["rules"].append({"id": "XX-99", "why": "x"}),
            ["XX-99", "not a decision rule"],
        ),
    ],
)
def test_loader_names_file_entry_and_reason(
    texts_copy: Path,
    file: str,
    change: typing.Callable[[dict[str, typing.Any]], None],
    words: list[str],
) -> None:
    _edit(texts_copy / "en" / file, change)
    with pytest.raises(KnowledgeError) as err:
        load_texts("en", kb(), root=texts_copy)
    message = str(err.value)
    assert file in message
    for w in words:
        assert w in message


def test_unknown_language_is_refused(texts_copy: Path) -> None:
    with pytest.raises(KnowledgeError, match="no patient texts for this language"):
        load_texts("xx", kb(), root=texts_copy)
