"""The safety case in docs/safety stays true: every hazard names tests that exist, every
rule of the brief is implemented, and plans carry the knowledge version and review date."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from netnav.api import recommend
from netnav.case import case_from_mapping
from netnav.knowledge.coverage import coverage
from netnav.knowledge.load import default_knowledge

ROOT = Path(__file__).resolve().parent.parent
HAZARDS = yaml.safe_load((ROOT / "docs" / "safety" / "hazards.yaml").read_text("utf-8"))["hazards"]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("hazard", HAZARDS, ids=[h["id"] for h in HAZARDS])
def test_every_hazard_names_tests_that_exist(hazard: dict[str, object]) -> None:
    tests = hazard["tests"]
    assert isinstance(tests, list) and tests, f"{hazard['id']} names no test"
    for ref in tests:
        file, _, name = str(ref).partition("::")
        path = ROOT / file
        assert path.exists(), f"{hazard['id']}: {file} does not exist"
        assert name in _test_names(path), f"{hazard['id']}: {ref} does not exist"


def test_every_hazard_has_a_cause_and_a_mitigation() -> None:
    for h in HAZARDS:
        assert h["hazard"] and h["cause"] and h["mitigation"], h["id"]


def test_every_rule_of_the_brief_is_implemented() -> None:
    rows = coverage(default_knowledge())
    assert len(rows) == 61
    missing = [r.rule.id for r in rows if not r.covered]
    assert not missing, f"rules of the brief without an implementing entry: {missing}"


def test_every_plan_names_the_knowledge_version_and_review_date() -> None:
    doc = json.loads((ROOT / "examples" / "EX27-small-intestine-multifocal-g1.json").read_text())
    plan = recommend(case_from_mapping(doc))
    kb = default_knowledge()
    assert plan["knowledge_version"] == kb.version
    assert plan["knowledge_reviewed"] == kb.manifest.last_reviewed
