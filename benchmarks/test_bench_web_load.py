"""Load of the web API (`make bench`): 50 plans per second for 30 s on loopback.

The real server (uvicorn, one worker, SQLite in a temporary folder) gets an open-loop
schedule of POST /v1/plans with the repository's real cases (see benchmarks/web_load.py);
every plan is then read back. Targets: p99 ≤ 200 ms, no errors, no plan lost, the plan
list's total equal to the plans accepted. Figures: test-artifacts/web/load.json.

pytest-benchmark times the whole run once (rounds=1); the latency figures are in its
extra_info and in the JSON file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.web_load import failures, run_load, summary, write_figures
from tests.web_server import running_server

RATE = 50.0
DURATION_S = 30.0


def test_web_load_post_plans(benchmark: Any, tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path / 'plans.db'}") as base_url:
        figures = benchmark.pedantic(
            run_load,
            args=(base_url,),
            kwargs={"rate": RATE, "duration": DURATION_S},
            rounds=1,
            iterations=1,
        )
    path = write_figures(figures)
    benchmark.extra_info.update(
        {
            "p50_ms": figures["latency_ms"]["p50"],
            "p95_ms": figures["latency_ms"]["p95"],
            "p99_ms": figures["latency_ms"]["p99"],
            "max_ms": figures["latency_ms"]["max"],
            "errors": figures["errors"],
            "lost": figures["lost"],
            "achieved_rate_per_s": figures["achieved_send_rate_per_s"],
        }
    )
    print(f"\n{summary(figures)}\nfigures: {path}")
    assert figures["requests"] == round(RATE * DURATION_S)
    assert not failures(figures), failures(figures)
