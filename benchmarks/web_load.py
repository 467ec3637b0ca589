"""Open-loop load test of ``POST /v1/plans`` on loopback.

Standalone: ``python -m benchmarks.web_load --rate 50 --duration 30`` starts the real server
(uvicorn, one worker, SQLite in a temporary folder), sends ``rate × duration`` requests on a
fixed schedule (request *i* is sent at ``i / rate`` seconds, whether or not earlier answers
have come back: an open loop, so a slow server cannot slow the load down and hide its own
latency), then reads every accepted plan back. Under ``make bench`` the same run is
``benchmarks/test_bench_web_load.py``, which asserts the targets.

Cases: every real case of the repository (``tests/data/examples``, ``tests/data/clinical``,
``examples``), cycled; each request gets its own case id (``<id>-load-<n>``), so every plan
saved is a different document.

Figures (``test-artifacts/web/load.json``): latency from the moment a request is handed to
the client to its complete response (p50, p95, p99, max, in ms), the latency counted from
the request's *scheduled* time (which also includes any lag of the sender), errors (an
exception or any status but 201), the achieved send rate, and the read-back check: plans
lost (not readable, or not equal to what the POST returned) and the plan list's total.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx2

ROOT: Final = Path(__file__).resolve().parents[1]
CASE_DIRS: Final = (
    ROOT / "tests" / "data" / "examples",
    ROOT / "tests" / "data" / "clinical",
    ROOT / "examples",
)
ARTIFACT: Final = ROOT / "test-artifacts" / "web" / "load.json"
TARGET_P99_MS: Final = 200.0
REQUEST_TIMEOUT_S: Final = 10.0
READBACK_CONCURRENCY: Final = 16


def load_cases() -> list[dict[str, Any]]:
    """Every case document (``netnav-case/1``) of the repository, in file order."""
    cases = []
    for folder in CASE_DIRS:
        for path in sorted(folder.glob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            case = doc if "format" in doc else doc.get("case")
            if isinstance(case, dict) and case.get("format") == "netnav-case/1":
                cases.append(case)
    if not cases:
        raise RuntimeError(f"no case documents found in {', '.join(map(str, CASE_DIRS))}")
    return cases


def request_bodies(cases: Sequence[dict[str, Any]], count: int) -> list[bytes]:
    """``count`` JSON bodies cycling through ``cases``, each with its own case id."""
    bodies = []
    for n in range(count):
        case = copy.deepcopy(cases[n % len(cases)])
        case["id"] = f"{case.get('id') or 'case'}-load-{n:05d}"
        bodies.append(json.dumps(case).encode("utf-8"))
    return bodies


@dataclass
class Sample:
    """One request: when it was due, sent and answered (monotonic seconds), its outcome."""

    index: int
    scheduled: float
    sent: float = math.nan
    done: float = math.nan
    status: int | None = None
    error: str | None = None
    body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 201 and self.body is not None


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def _send(client: httpx2.AsyncClient, sample: Sample, body: bytes) -> None:
    sample.sent = time.perf_counter()
    try:
        response = await client.post(
            "/v1/plans", content=body, headers={"Content-Type": "application/json"}
        )
        sample.done = time.perf_counter()
        sample.status = response.status_code
        if response.status_code == 201:
            sample.body = response.json()
        else:
            sample.error = f"status {response.status_code}: {response.text[:200]}"
    except Exception as exc:  # any failure counts as an error of the run
        sample.done = time.perf_counter()
        sample.error = f"{type(exc).__name__}: {exc}"[:300]


async def _open_loop(base_url: str, bodies: Sequence[bytes], rate: float) -> list[Sample]:
    limits = httpx2.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx2.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False
    ) as client:
        # One warm-up request outside the figures (first-use imports and caches).
        await client.post(
            "/v1/plans", content=bodies[0], headers={"Content-Type": "application/json"}
        )
        start = time.perf_counter() + 0.1
        samples = [Sample(i, start + i / rate) for i in range(len(bodies))]
        tasks = []
        for sample, body in zip(samples, bodies, strict=True):
            delay = sample.scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(client, sample, body)))
        await asyncio.gather(*tasks)
    return samples


async def _read_back(base_url: str, accepted: Sequence[Sample]) -> dict[str, Any]:
    """GET every accepted plan and the plan list; count what is missing or different."""
    lost: list[str] = []
    semaphore = asyncio.Semaphore(READBACK_CONCURRENCY)
    async with httpx2.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False
    ) as client:

        async def check(sample: Sample) -> None:
            assert sample.body is not None
            posted = sample.body
            async with semaphore:
                try:
                    response = await client.get(f"/v1/plans/{posted['id']}")
                except Exception as exc:
                    lost.append(f"{posted['id']}: {type(exc).__name__}")
                    return
            if response.status_code != 200:
                lost.append(f"{posted['id']}: status {response.status_code}")
                return
            got = response.json()
            got.pop("case", None)
            if got != posted:
                lost.append(f"{posted['id']}: differs from what POST returned")

        await asyncio.gather(*(check(s) for s in accepted))
        listing = await client.get("/v1/plans", params={"limit": 1})
        listed_total = listing.json().get("total") if listing.status_code == 200 else None
    return {"lost": lost, "listed_total": listed_total}


def run_load(base_url: str, *, rate: float, duration: float) -> dict[str, Any]:
    """Run the open-loop load against ``base_url`` (a fresh plan store) and read back.

    Returns the figures (see the module documentation); the warm-up request is one more
    plan in the store, so the list's total is expected to be ``accepted + 1``.
    """
    count = round(rate * duration)
    bodies = request_bodies(load_cases(), count)
    began = time.perf_counter()
    samples = asyncio.run(_open_loop(base_url, bodies, rate))
    elapsed = time.perf_counter() - began
    accepted = [s for s in samples if s.ok]
    errors = [s for s in samples if not s.ok]
    check = asyncio.run(_read_back(base_url, accepted))

    latencies = [(s.done - s.sent) * 1000 for s in samples if s.ok]
    from_schedule = [(s.done - s.scheduled) * 1000 for s in samples if s.ok]
    send_lag = [(s.sent - s.scheduled) * 1000 for s in samples]
    sends = [s.sent for s in samples]
    send_span = max(sends) - min(sends)
    ids = [s.body["id"] for s in accepted if s.body]

    def ms(values: Sequence[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(values, 50), 2),
            "p95": round(percentile(values, 95), 2),
            "p99": round(percentile(values, 99), 2),
            "max": round(max(values), 2) if values else math.nan,
            "mean": round(sum(values) / len(values), 2) if values else math.nan,
        }

    return {
        "endpoint": "POST /v1/plans",
        "server": "uvicorn, 1 worker, SQLite, 127.0.0.1",
        "schedule": "open loop",
        "target_rate_per_s": rate,
        "duration_s": duration,
        "requests": count,
        "distinct_cases": len({json.loads(b)["id"] for b in bodies}),
        "achieved_send_rate_per_s": round((count - 1) / send_span, 2) if send_span else math.nan,
        "achieved_completion_rate_per_s": round(len(accepted) / elapsed, 2),
        "wall_time_s": round(elapsed, 2),
        "latency_ms": ms(latencies),
        "latency_from_schedule_ms": ms(from_schedule),
        "max_send_lag_ms": round(max(send_lag), 2),
        "accepted": len(accepted),
        "errors": len(errors),
        "error_examples": sorted({s.error or "" for s in errors})[:5],
        "status_counts": _status_counts(samples),
        "duplicate_ids": len(ids) - len(set(ids)),
        "read_back": len(accepted) - len(check["lost"]),
        "lost": len(check["lost"]),
        "lost_examples": check["lost"][:5],
        "listed_total": check["listed_total"],
        "expected_total": len(accepted) + 1,  # + the warm-up plan
        "targets": {"p99_ms": TARGET_P99_MS, "errors": 0, "lost": 0},
    }


def _status_counts(samples: Sequence[Sample]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in samples:
        key = str(s.status) if s.status is not None else "exception"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def failures(figures: dict[str, Any]) -> list[str]:
    """The targets the run missed (empty when it met them all)."""
    out = []
    p99 = figures["latency_ms"]["p99"]
    if not p99 <= TARGET_P99_MS:
        out.append(f"p99 {p99} ms > {TARGET_P99_MS} ms")
    if figures["errors"]:
        out.append(f"{figures['errors']} errors: {figures['error_examples']}")
    if figures["lost"]:
        out.append(f"{figures['lost']} plans lost: {figures['lost_examples']}")
    if figures["duplicate_ids"]:
        out.append(f"{figures['duplicate_ids']} duplicate plan ids")
    if figures["listed_total"] != figures["expected_total"]:
        out.append(
            f"plan list total {figures['listed_total']} != {figures['expected_total']} "
            "(accepted + warm-up)"
        )
    return out


def write_figures(figures: dict[str, Any], path: Path = ARTIFACT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return path


def summary(figures: dict[str, Any]) -> str:
    lat = figures["latency_ms"]
    sched = figures["latency_from_schedule_ms"]
    return (
        f"{figures['endpoint']}: {figures['requests']} requests at "
        f"{figures['target_rate_per_s']:g}/s for {figures['duration_s']:g} s "
        f"(sent at {figures['achieved_send_rate_per_s']}/s)\n"
        f"  latency ms  p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}\n"
        f"  from schedule ms  p99 {sched['p99']}  max {sched['max']}"
        f"  (max send lag {figures['max_send_lag_ms']} ms)\n"
        f"  accepted {figures['accepted']}  errors {figures['errors']}  "
        f"lost {figures['lost']}  listed {figures['listed_total']} "
        f"(expected {figures['expected_total']})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web_load", description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--url", help="an already running server (its plan store must be empty)")
    parser.add_argument("--out", type=Path, default=ARTIFACT, help="figures (JSON)")
    args = parser.parse_args(argv)
    if args.url:
        figures = run_load(args.url.rstrip("/"), rate=args.rate, duration=args.duration)
    else:
        from tests.web_server import running_server

        with (
            tempfile.TemporaryDirectory(prefix="netnav-load-") as tmp,
            running_server(f"sqlite:///{tmp}/plans.db") as base_url,
        ):
            figures = run_load(base_url, rate=args.rate, duration=args.duration)
    path = write_figures(figures, args.out)
    print(summary(figures))
    print(f"figures: {path}")
    missed = failures(figures)
    for line in missed:
        print(f"MISSED: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
