"""Cohort scaling benchmark: cases per second per core, peak memory, ratio to the parse floor.

Usage (``make bench-cohort``, or directly)::

    python -m benchmarks.cohort_scaling [--sizes 10000 100000 1000000] [--jobs 2]

For each size it writes a synthetic cohort (``netnav cohort synth``, seed 7, cached under
``test-artifacts/cohort/``), then runs, as separate processes of the real command line,

1. the parse floor: ``netnav cohort run --check-only`` (reads, decodes and validates every
   case, plans nothing);
2. the full run: ``netnav cohort run --out DIR`` (plans, Parquet + JSON Lines, errors,
   concordance report).

Peak memory is the largest sum of resident memory of the command and its worker processes,
sampled every 0.2 s (forked workers share pages, so the sum overstates it), and the peak
proportional set size (shared pages divided among their sharers: the memory really used). Results go to
``test-artifacts/cohort/scaling.json`` and a Markdown table on standard output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "cohort"
NETNAV = [sys.executable, "-m", "netnav.cli"]
SEED = 7


def _measure(command: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak resident bytes and peak proportional set size (PSS: shared pages
    divided among the processes sharing them) of ``command`` and its workers."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(proc.pid)
    peak = peak_pss = 0
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            pss = sum(p.memory_full_info().pss for p in tree if p.is_running())
            peak_pss = max(peak_pss, pss)
        except psutil.Error:
            pass
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {err[-2000:]}")
    return seconds, peak, peak_pss


def _cohort(size: int) -> Path:
    path = ARTIFACTS / f"synthetic-{size}-seed{SEED}.jsonl"
    if not path.exists():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*NETNAV, "cohort", "synth", str(size), "--seed", str(SEED), "--out", str(path), "-q"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def run(sizes: list[int], jobs: int) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        cohort = _cohort(size)
        out = ARTIFACTS / f"run-{size}"
        shutil.rmtree(out, ignore_errors=True)
        common = ["-q", "--jobs", str(jobs)]
        floor_s, _, _ = _measure([*NETNAV, "cohort", "run", str(cohort), "--check-only", *common])
        full_s, full_mem, full_pss = _measure(
            [*NETNAV, "cohort", "run", str(cohort), "--out", str(out), *common]
        )
        row = {
            "cases": size,
            "jobs": jobs,
            "parse_floor_s": round(floor_s, 2),
            "full_run_s": round(full_s, 2),
            "cases_per_s": round(size / full_s, 1),
            "cases_per_s_per_core": round(size / full_s / jobs, 1),
            "ratio_to_floor": round(full_s / floor_s, 2),
            "peak_memory_mb": round(full_mem / 2**20),
            "peak_pss_mb": round(full_pss / 2**20),
            "input_mb": round(cohort.stat().st_size / 2**20),
            "output_mb": round(
                sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
            ),
        }
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        if size >= 1_000_000:
            shutil.rmtree(out, ignore_errors=True)  # gigabytes of plans: keep only the figures
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    results = run(args.sizes, args.jobs)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    print(
        "| cases | jobs | parse floor s | full run s | cases/s | cases/s/core | ratio to floor "
        "| peak RSS MB | peak PSS MB | input MB | output MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['cases']:,} | {r['jobs']} | {r['parse_floor_s']} | {r['full_run_s']} "
            f"| {r['cases_per_s']:,} | {r['cases_per_s_per_core']:,} | {r['ratio_to_floor']} "
            f"| {r['peak_memory_mb']:,} | {r['peak_pss_mb']:,} | {r['input_mb']:,} "
            f"| {r['output_mb']:,} |"
        )


if __name__ == "__main__":
    main()
