"""Shared helpers of the guide tests: every bundled case, rendered once per test session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bs4 import BeautifulSoup

from netnav.case import Case, case_from_mapping
from netnav.guide.write import GuideFiles, render_guide
from tests.readability import as_prose

DATA = Path(__file__).parent / "data"
CASE_FILES = (
    sorted((DATA / "vignettes").glob("*.json"))
    + sorted((DATA / "examples").glob("*.json"))
    + sorted((DATA / "clinical").glob("*.json"))
)
DATE = "2026-11-29"


def load(path: Path) -> Case:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return case_from_mapping(doc.get("case", doc) if "format" not in doc else doc)


@dataclass(frozen=True)
class Rendered:
    case: Case
    files: GuideFiles
    html: str
    soup: BeautifulSoup


@cache
def rendered(path: Path) -> Rendered:
    case = load(path)
    files = render_guide(case, output="html", prepared_on=DATE)
    html = next(v for k, v in files.files.items() if k.endswith(".html")).decode("utf-8")
    return Rendered(case, files, html, BeautifulSoup(html, "html.parser"))


def section_prose(soup: BeautifulSoup, section_id: str) -> str:
    """The text a reader reads in one section (paragraphs and list items)."""
    section = soup.find("section", id=section_id)
    if section is None:
        return ""
    parts = [" ".join(el.get_text("").split()) for el in section.find_all(["p", "li"])]
    return as_prose(parts)
