"""Each knowledge-base rule has a case that fires it and a near-miss that does not.

The cases live in tests/data/rule_cases.yaml: a base case under tests/data plus a deep-merge
patch (mappings merge recursively, lists and scalars replace, null deletes the key). A
near-miss differs from its firing case by one clinical fact, named in its ``why``.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from netnav.api import plan_result
from netnav.case import case_from_mapping
from netnav.engine.verdict import Verdict
from netnav.knowledge.load import default_knowledge

DATA = Path(__file__).parent / "data"
CASES_FILE = DATA / "rule_cases.yaml"


def _entries() -> list[dict[str, Any]]:
    with CASES_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)["cases"]


def deep_merge(base: Any, patch: Any) -> Any:
    """``base`` overlaid with ``patch``: mappings merge, other values replace, None deletes."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@cache
def _base_case(name: str) -> dict[str, Any]:
    doc = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    # Vignettes and examples wrap the case under "case"; clinical cases are bare.
    return doc["case"] if isinstance(doc.get("case"), dict) else doc


def build_case(spec: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(_base_case(spec["base"]), spec.get("patch") or {})


def rule_verdict(rule_id: str, mapping: dict[str, Any]) -> Verdict:
    result = plan_result(case_from_mapping(mapping))
    verdicts = [rr.verdict for rr in result.rule_results if rr.rule.spec.id == rule_id]
    assert len(verdicts) == 1, f"rule {rule_id} evaluated {len(verdicts)} times"
    return verdicts[0]


def _params() -> list[Any]:
    params = []
    for entry in _entries():
        rule = entry["rule"]
        for kind, expect in (("fires", True), ("near_miss", False)):
            spec = entry[kind]
            marks = []
            if spec.get("xfail"):
                marks.append(pytest.mark.xfail(strict=True, reason=spec["xfail"]))
            label = kind.replace("_", "-")
            params.append(pytest.param(rule, spec, expect, id=f"{rule}-{label}", marks=marks))
    return params


@pytest.mark.parametrize(("rule_id", "spec", "expect_holds"), _params())
def test_rule_case(rule_id: str, spec: dict[str, Any], expect_holds: bool) -> None:
    verdict = rule_verdict(rule_id, build_case(spec))
    assert verdict.holds is expect_holds, (
        f"{rule_id}: expected holds={expect_holds}, got {verdict.outcome.label} "
        f"({verdict.criterion or 'when'}): {verdict.message}"
    )


def test_every_entry_is_well_formed() -> None:
    for entry in _entries():
        assert set(entry) == {"rule", "fires", "near_miss"}, entry.get("rule")
        for kind in ("fires", "near_miss"):
            assert (DATA / f"{entry[kind]['base']}.json").is_file(), (entry["rule"], kind)
        why = entry["near_miss"].get("why")
        assert isinstance(why, str) and why.strip(), f"{entry['rule']}: near-miss without why"


def test_rule_cases_cover_every_rule() -> None:
    ids = [entry["rule"] for entry in _entries()]
    assert len(ids) == len(set(ids)), "a rule appears twice in rule_cases.yaml"
    kb_ids = {rule.spec.id for rule in default_knowledge().rules}
    assert set(ids) == kb_ids, (
        f"rules without cases: {sorted(kb_ids - set(ids))}; "
        f"cases for unknown rules: {sorted(set(ids) - kb_ids)}"
    )


def test_deep_merge() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 2}
    patch = {"a": {"c": [3], "e": 4}, "d": None}
    assert deep_merge(base, patch) == {"a": {"b": 1, "c": [3], "e": 4}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 2}
