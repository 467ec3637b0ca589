"""The synthetic cohort generator: valid cases, determinism, the documented mix, atomic files."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from netnav.case.load import parse_case_document
from netnav.cohort.synth import (
    ACTUAL_RECORDED_P,
    SITE_WEIGHTS,
    STAGES,
    expected_stage_mix,
    synthetic_cases,
    write_synthetic_cohort,
)
from netnav.vocabulary import GROUPS, OPTION_IDS


def _line(case: dict[str, Any]) -> str:
    return json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n"


def _stage(tumor: dict[str, Any]) -> str:
    """The extent a case shows, by the rule documented at ``STAGE_BY_SITE``."""
    metastases = tumor.get("metastases")
    if metastases is None:
        return "unknown"
    if metastases:
        return "distant"
    return "regional" if tumor.get("nodes") in ("n1", "n2") else "localized"


def _dates(case: dict[str, Any]) -> Iterable[str]:
    for treatment in case.get("treatments", []):
        yield from (treatment[key] for key in ("start", "end") if key in treatment)
    yield from (record["date"] for record in case["tumor"].get("ki67_history", []))


def _within(observed: int, total: int, expected: float) -> bool:
    """Observed share within 4 binomial standard errors (and 0.5 percentage points)."""
    tolerance = max(4 * math.sqrt(expected * (1 - expected) / total), 0.005)
    return abs(observed / total - expected) <= tolerance


@pytest.mark.parametrize("seed", [0, 1, 2026])
def test_every_case_is_valid_for_the_loader(seed: int) -> None:
    for k, case in enumerate(synthetic_cases(1000, seed), start=1):
        _, parsed = parse_case_document(_line(case))
        assert parsed["format"] == "netnav-case/1"
        assert parsed["id"] == f"SYN-{seed}-{k}"
        assert "2018-01-01" <= case["as_of"] <= "2026-12-31"


def test_actual_treatment_is_an_option_or_group_dated_after_every_other_date() -> None:
    known = set(OPTION_IDS) | set(GROUPS)
    cases = list(synthetic_cases(5000, 3))
    recorded = [case for case in cases if "actual_treatment" in case.get("extensions", {})]
    assert _within(len(recorded), len(cases), ACTUAL_RECORDED_P)
    options: Counter[str] = Counter()
    for case in recorded:
        actual = case["extensions"]["actual_treatment"]
        assert set(actual) == {"option", "date"}
        assert actual["option"] in known, actual
        assert actual["date"] <= case["as_of"]
        # history dates (YYYY-MM or YYYY-MM-DD) all come before the actual treatment
        assert all(date < actual["date"][: len(date)] for date in _dates(case)), case
        options[actual["option"]] += 1
    # a mixed practice, not one answer: groups and discordant choices both occur
    assert len(options) >= 25
    assert {"ssa", "platinum_etoposide", "surgical_resection", "active_surveillance"} <= set(
        options
    )


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_synthetic_cohort(first, 2000, 42) == 2000
    write_synthetic_cohort(second, 2000, 42)
    data = first.read_bytes()
    assert data == second.read_bytes()
    assert data.decode("utf-8") == "".join(_line(case) for case in synthetic_cases(2000, 42))
    assert data.count(b"\n") == 2000


def test_a_shorter_cohort_is_a_prefix_of_a_longer_one() -> None:
    short = list(synthetic_cases(300, 9))
    assert list(islice(synthetic_cases(1000, 9), 300)) == short
    assert list(synthetic_cases(0, 9)) == []


def test_different_seeds_give_different_cases() -> None:
    one = [_line(case).split(",", 2)[2] for case in synthetic_cases(200, 1)]  # without the id
    two = [_line(case).split(",", 2)[2] for case in synthetic_cases(200, 2)]
    assert sum(a != b for a, b in zip(one, two, strict=True)) > 190
    assert len(set(one)) == 200  # no two cases of one cohort alike


def test_site_and_stage_mix_match_the_documented_constants() -> None:
    n = 20_000
    sites: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for case in synthetic_cases(n, 5):
        sites[case["tumor"]["primary_site"]] += 1
        stages[_stage(case["tumor"])] += 1
    total_weight = sum(SITE_WEIGHTS.values())
    for site, weight in SITE_WEIGHTS.items():
        assert _within(sites[site], n, weight / total_weight), (site, sites[site])
    assert set(sites) == set(SITE_WEIGHTS)
    expected = expected_stage_mix()
    assert set(stages) == set(STAGES)
    for stage in STAGES:
        assert _within(stages[stage], n, expected[stage]), (stage, stages[stage])
    # the constants are those of the cited registry (Dasari 2017, SEER), not arbitrary
    cited = {
        "lung": (0.25, 0.32),
        "small_intestine": (0.15, 0.20),
        "rectum": (0.12, 0.17),
        "unknown_primary": (0.09, 0.11),
        "pancreas": (0.07, 0.10),
        "stomach": (0.05, 0.07),
        "colon": (0.05, 0.08),
        "appendix": (0.05, 0.06),
    }
    for site, (low, high) in cited.items():
        assert low - 1e-9 <= SITE_WEIGHTS[site] / total_weight <= high + 1e-9, site
    # and the documented overall mix is the registry's (Dasari 2017), within a few points
    assert abs(expected["localized"] - 0.50) < 0.03
    assert abs(expected["distant"] - 0.21) < 0.03


def test_registry_gaps_and_clinical_shares() -> None:
    cases = list(synthetic_cases(10_000, 8))
    tumors = [case["tumor"] for case in cases]
    no_ki67 = sum("ki67_percent" not in tumor and not tumor.get("goblet_cell") for tumor in tumors)
    assert 0.08 < no_ki67 / len(cases) < 0.16
    no_ecog = sum("ecog" not in case["patient"] for case in cases)
    assert 0.06 < no_ecog / len(cases) < 0.14
    advanced = [t for t in tumors if _stage(t) == "distant" and t.get("differentiation") == "well"]
    imaged = sum("sstr_imaging" in t for t in advanced) / len(advanced)
    assert 0.6 <= imaged <= 0.8
    si = [t for t in advanced if t["primary_site"] == "small_intestine"]
    syndrome = sum(t.get("functional_syndrome") == "carcinoid_syndrome" for t in si) / len(si)
    assert 0.2 <= syndrome <= 0.4
    females = sum(case["patient"]["sex"] == "female" for case in cases) / len(cases)
    assert 0.49 < females < 0.56
    ages = [case["patient"]["age_years"] for case in cases]
    assert 57 < sum(ages) / len(ages) < 62


@pytest.mark.parametrize(
    ("n", "seed"),
    [(-1, 0), (10, "7"), (10, 1.5), (10, None), (10, True), ("10", 0), (2.0, 0)],
)
def test_bad_arguments_raise_value_error(n: Any, seed: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"number of cases|seed"):
        synthetic_cases(n, seed)
    with pytest.raises(ValueError, match=r"number of cases|seed"):
        write_synthetic_cohort(tmp_path / "out.jsonl", n, seed)
    assert list(tmp_path.iterdir()) == []


def test_file_is_written_atomically_with_progress(tmp_path: Path) -> None:
    target = tmp_path / "cohort.jsonl"
    calls: list[int] = []
    assert write_synthetic_cohort(target, 25_000, 1, on_progress=calls.append) == 25_000
    assert calls == [10_000, 20_000, 25_000]
    assert [p.name for p in tmp_path.iterdir()] == ["cohort.jsonl"]  # no temp file left


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "cohort.jsonl"
    target.write_text("old\n", encoding="utf-8")

    def stop(done: int) -> None:
        raise RuntimeError(f"stopped after {done}")

    with pytest.raises(RuntimeError, match="stopped after 10000"):
        write_synthetic_cohort(target, 15_000, 1, on_progress=stop)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cohort.jsonl"]
