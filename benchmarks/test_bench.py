"""Where the time of one plan goes (pytest-benchmark; `make bench`). No timing assertions.

(a) parse: JSON text of one case -> validated Case model (the floor of any request);
(b) plan: make_plan on the parsed case with a knowledge base loaded once, and recommend
    (plan + the netnav-plan/1 document);
(c) knowledge: load_knowledge() from the YAML files (not the cached default);
(d) process: the whole `netnav recommend ... --format json` command, and `python -c pass`
    as the floor of any Python process.

Ratios to the parse median go into each benchmark's ``extra_info``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netnav.api import recommend
from netnav.case import Case, parse_case
from netnav.engine.planner import make_plan
from netnav.knowledge import load as kb_load
from netnav.knowledge.load import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parents[1]
NETNAV = ROOT / ".venv" / "bin" / "netnav"
VIGNETTE = ROOT / "tests" / "data" / "vignettes" / "V01-si-metastatic-first-line.json"
PROCESS_ROUNDS = 10


def _record(benchmark: Any, medians: dict[str, float], name: str) -> float:
    median = float(benchmark.stats.stats.median)
    medians[name] = median
    benchmark.extra_info["median_ms"] = round(median * 1000, 4)
    return median


def _median_now(fn: Callable[[], object], runs: int = 200) -> float:
    """A quick median, when the reference benchmark did not run in this session."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _parse_median(medians: dict[str, float], case_text: str) -> float:
    if "parse" not in medians:
        medians["parse"] = _median_now(lambda: parse_case(case_text))
    return medians["parse"]


# --- (a) parse ----------------------------------------------------------------------------------


@pytest.mark.benchmark(group="in-process")
def test_parse_case(benchmark: Any, medians: dict[str, float], case_text: str) -> None:
    case = benchmark(parse_case, case_text)
    assert case.tumor.primary_site == "small_intestine"
    _record(benchmark, medians, "parse")
    benchmark.extra_info["document_bytes"] = len(case_text.encode("utf-8"))


# --- (b) plan -----------------------------------------------------------------------------------


@pytest.mark.benchmark(group="in-process")
def test_make_plan(
    benchmark: Any, medians: dict[str, float], case_text: str, case: Case, kb: Knowledge
) -> None:
    result = benchmark(make_plan, case, kb)
    assert result.options
    median = _record(benchmark, medians, "plan")
    benchmark.extra_info["plan_over_parse"] = round(median / _parse_median(medians, case_text), 2)


@pytest.mark.benchmark(group="in-process")
def test_recommend_document(
    benchmark: Any, medians: dict[str, float], case_text: str, case: Case, kb: Knowledge
) -> None:
    plan = benchmark(recommend, case, kb)
    assert plan["options"]
    median = _record(benchmark, medians, "recommend")
    parse = _parse_median(medians, case_text)
    benchmark.extra_info["recommend_over_parse"] = round(median / parse, 2)
    if "plan" in medians:
        benchmark.extra_info["plan_over_parse"] = round(medians["plan"] / parse, 2)


# --- (c) knowledge ------------------------------------------------------------------------------


@pytest.mark.benchmark(group="knowledge")
def test_load_knowledge(benchmark: Any, medians: dict[str, float], case_text: str) -> None:
    kb = benchmark.pedantic(load_knowledge, rounds=15, iterations=1, warmup_rounds=1)
    assert kb.rules and kb.evidence
    median = _record(benchmark, medians, "kb_load")
    benchmark.extra_info["over_parse"] = round(median / _parse_median(medians, case_text), 1)


@pytest.mark.benchmark(group="knowledge")
def test_load_knowledge_disk_cache(
    benchmark: Any, medians: dict[str, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled copy the CLI reuses between runs (warm cache in a private folder)."""
    cached = getattr(kb_load, "load_knowledge_cached", None)
    if cached is None:
        pytest.skip("no load_knowledge_cached in this version")
    monkeypatch.delenv("NETNAV_NO_CACHE", raising=False)
    monkeypatch.setenv("NETNAV_CACHE_DIR", str(tmp_path))
    cached()  # fill the cache outside the timing
    kb = benchmark.pedantic(cached, rounds=15, iterations=1, warmup_rounds=1)
    assert kb.rules
    median = _record(benchmark, medians, "kb_load_disk_cache")
    if "kb_load" in medians:
        benchmark.extra_info["speedup_over_yaml"] = round(medians["kb_load"] / median, 1)


# --- (d) whole processes ------------------------------------------------------------------------


def _process(args: list[str], env: dict[str, str] | None = None) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(args, cwd=ROOT, env=env, capture_output=True, check=True, timeout=60)

    return run


@pytest.mark.benchmark(group="process")
def test_cli_recommend_process(benchmark: Any, medians: dict[str, float], case_text: str) -> None:
    if not NETNAV.exists():
        pytest.skip(f"{NETNAV} missing: run `make setup`")
    cmd = [str(NETNAV), "recommend", str(VIGNETTE), "--format", "json"]
    benchmark.pedantic(_process(cmd), rounds=PROCESS_ROUNDS, iterations=1, warmup_rounds=1)
    median = _record(benchmark, medians, "cli")
    benchmark.extra_info["over_parse"] = round(median / _parse_median(medians, case_text), 1)
    if "python" in medians:
        benchmark.extra_info["over_python_c_pass"] = round(median / medians["python"], 1)


@pytest.mark.benchmark(group="process")
def test_cli_recommend_process_without_kb_cache(benchmark: Any, medians: dict[str, float]) -> None:
    """The same command with NETNAV_NO_CACHE=1: the knowledge base is read from YAML."""
    if not NETNAV.exists():
        pytest.skip(f"{NETNAV} missing: run `make setup`")
    cmd = [str(NETNAV), "recommend", str(VIGNETTE), "--format", "json"]
    env = {**os.environ, "NETNAV_NO_CACHE": "1"}
    benchmark.pedantic(_process(cmd, env), rounds=PROCESS_ROUNDS, iterations=1, warmup_rounds=1)
    median = _record(benchmark, medians, "cli_no_cache")
    if "cli" in medians:
        benchmark.extra_info["over_cached_cli"] = round(median / medians["cli"], 2)


@pytest.mark.benchmark(group="process")
def test_python_c_pass(benchmark: Any, medians: dict[str, float]) -> None:
    """The floor: starting and stopping the same interpreter, doing nothing."""
    cmd = [sys.executable, "-c", "pass"]
    benchmark.pedantic(_process(cmd), rounds=PROCESS_ROUNDS, iterations=1, warmup_rounds=1)
    median = _record(benchmark, medians, "python")
    if "cli" in medians:
        benchmark.extra_info["cli_over_this"] = round(medians["cli"] / median, 1)
