"""Cohort worker throughput on one core (pytest-benchmark; `make bench`). No timing assertions.

One chunk of 1,000 synthetic cases (seed 7) planned by :func:`netnav.cohort.worker.plan_chunk`
in this process, against the parse floor (the same chunk read and validated, not planned).
``extra_info`` carries milliseconds per case and the ratio to the floor. The scaling run over
10k/100k/1M cases with both cores is ``make bench-cohort`` (benchmarks/cohort_scaling.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netnav.cohort.source import ChunkTask, prepare_input
from netnav.cohort.synth import write_synthetic_cohort
from netnav.cohort.worker import RunSettings, plan_chunk
from netnav.knowledge.load import default_knowledge

CASES = 1000


@pytest.fixture(scope="module")
def chunk(tmp_path_factory: pytest.TempPathFactory) -> ChunkTask:
    folder = tmp_path_factory.mktemp("cohort-bench")
    cohort = folder / "cohort.jsonl"
    write_synthetic_cohort(cohort, CASES, 7)
    default_knowledge()
    (task,) = prepare_input(cohort, CASES, folder / "staging.parquet").tasks
    return task


@pytest.mark.benchmark(group="cohort")
def test_cohort_parse_floor(
    benchmark: Any, medians: dict[str, float], chunk: ChunkTask, tmp_path: Path
) -> None:
    settings = RunSettings(str(tmp_path), None, check_only=True)
    done = benchmark.pedantic(plan_chunk, args=(chunk, settings), rounds=3, iterations=1)
    assert done.rows == CASES
    median = float(benchmark.stats.stats.median)
    medians["cohort_floor"] = median
    benchmark.extra_info["ms_per_case"] = round(median / CASES * 1000, 4)


@pytest.mark.benchmark(group="cohort")
def test_cohort_plan_chunk(
    benchmark: Any, medians: dict[str, float], chunk: ChunkTask, tmp_path: Path
) -> None:
    settings = RunSettings(str(tmp_path), None)
    done = benchmark.pedantic(plan_chunk, args=(chunk, settings), rounds=3, iterations=1)
    assert done.plans == CASES
    median = float(benchmark.stats.stats.median)
    benchmark.extra_info["ms_per_case"] = round(median / CASES * 1000, 4)
    benchmark.extra_info["cases_per_second_per_core"] = round(CASES / median, 1)
    if "cohort_floor" in medians:
        benchmark.extra_info["ratio_to_parse_floor"] = round(median / medians["cohort_floor"], 2)
