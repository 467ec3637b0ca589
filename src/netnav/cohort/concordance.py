"""Concordance figures of a cohort run: how the care actually given compares with the plans.

:func:`concordance_figures` streams the summary columns of ``plans/part-*.parquet`` (every
column of :data:`netnav.cohort.records.PLAN_SCHEMA` but ``plan``: :data:`SUMMARY_COLUMNS`)
batch by batch. Each batch is reduced with pyarrow compute kernels (value counts, group-by
counts, filters) into small counters that are added up, so memory stays bounded by the
number of distinct values (sites, grades, fields, options), not by the number of cases; only
the potential-harm list grows with the cases it names.

Shares are of the patients with an actual treatment recorded (``actual_status`` other than
``not_recorded``), each with its Wilson score 95 % interval: in options (in preferred among
them), in avoid, undecided (a rule that would offer the treatment waits on a missing fact)
and not in plan. docs/cohort-report.md defines every figure.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from netnav.cohort.records import ACTUAL_STATUSES, PLAN_SCHEMA

__all__ = [
    "GROUPINGS",
    "NOT_RECORDED",
    "SHARES",
    "SUMMARY_COLUMNS",
    "concordance_figures",
    "share",
    "summary_batches",
    "wilson_interval",
]

SUMMARY_COLUMNS: Final[list[str]] = [name for name in PLAN_SCHEMA.names if name != "plan"]
"""The columns the figures read (``columns=`` of the Parquet reader): all but ``plan``."""

NOT_RECORDED: Final = "not recorded"
"""The group of the cases whose grouping value is null."""

NO_WHO_GRADE: Final = "no WHO grade"
"""The grade group of plans without a derived WHO grade: Ki-67 and mitoses not recorded, or a
lung/thymic tumour (graded by histotype: typical/atypical carcinoid, not G1–G3)."""

GROUPINGS: Final[tuple[tuple[str, str], ...]] = (
    ("by_site", "site"),
    ("by_grade", "grade"),
    ("by_extent", "extent"),
    ("by_line_of_therapy", "line_of_therapy"),
)
"""Figure key and the column it groups the cases by."""

SHARES: Final[dict[str, tuple[str, ...]]] = {
    "in_options": ("in_options", "in_preferred"),
    "in_preferred": ("in_preferred",),
    "in_avoid": ("in_avoid",),
    "undecided": ("undecided",),
    "not_in_plan": ("not_in_plan",),
}
"""Each share and the statuses it counts (a preferred option is also one of the options).
``in_options``, ``in_avoid``, ``undecided`` and ``not_in_plan`` add up to all the patients
with a treatment recorded; ``undecided`` counts the treatments the plan could not decide on
because a fact was missing (not offered, but not shown to be outside the plan either)."""

_Z95: Final = 1.959963984540054
"""The 0.975 quantile of the standard normal distribution."""

_HARM_COLUMNS: Final = ("row", "case_id", "actual_option", "actual_date", "actual_avoid_reason")


def wilson_interval(k: int, n: int) -> list[float] | None:
    """The Wilson score 95 % interval of ``k`` successes in ``n`` trials, rounded to 4
    places (None when ``n`` is 0)."""
    if n == 0:
        return None
    p = k / n
    z2 = _Z95 * _Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def share(k: int, n: int) -> dict[str, Any]:
    """``{"n": k, "of": n, "share": k/n, "ci95": [lo, hi]}``, share and bounds rounded to 4
    places; share and interval are null when ``n`` is 0."""
    return {
        "n": k,
        "of": n,
        "share": round(k / n, 4) if n else None,
        "ci95": wilson_interval(k, n),
    }


def _shares(statuses: Mapping[str, int]) -> dict[str, Any]:
    cases = sum(statuses.values())
    recorded = cases - statuses.get("not_recorded", 0)
    out: dict[str, Any] = {"cases": cases, "actual_recorded": recorded}
    for key, counted in SHARES.items():
        out[key] = share(sum(statuses.get(s, 0) for s in counted), recorded)
    return out


def _value_counts(array: pa.Array | pa.ChunkedArray) -> Iterator[tuple[Any, int]]:
    counts = pc.value_counts(array)
    yield from zip(
        counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
    )


def _cases_per_value(column: pa.Array | pa.ChunkedArray) -> Iterator[tuple[str, int]]:
    """How many rows name each value of a list<string> column (a value listed twice in one
    row counts once)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = pc.list_flatten(column)
    if len(flat) == 0:
        return
    pairs = pa.table({"row": pc.list_parent_indices(column), "value": flat})
    distinct = pairs.group_by(["row", "value"]).aggregate([])
    for value, count in _value_counts(distinct["value"]):
        if value is not None:
            yield value, count


def _field_labels() -> dict[str, str]:
    from netnav.knowledge.load import default_knowledge

    return {field: entry.label for field, entry in default_knowledge().facts.items() if entry.label}


def _group_order(item: tuple[Any, Counter[str]]) -> tuple[int, bool, Any]:
    value, statuses = item
    return (-sum(statuses.values()), value is None, "" if value is None else value)


def concordance_figures(
    batches: Iterable[pa.RecordBatch], *, errors: int, run: Mapping[str, Any]
) -> dict[str, Any]:
    """The concordance figures of the plan rows in ``batches`` (JSON-ready, keys and lists
    in a fixed order). ``errors`` is the number of input rows refused (errors.jsonl);
    ``run`` the run's metadata, passed through as given.

    Raises ValueError when a batch lacks a summary column or has an ``actual_status``
    outside :data:`ACTUAL_STATUSES`.
    """
    statuses: Counter[str] = Counter()
    groups: dict[str, dict[Any, Counter[str]]] = {key: {} for key, _ in GROUPINGS}
    missing: Counter[str] = Counter()
    blocking: Counter[str] = Counter()
    first: Counter[str] = Counter()
    outside: Counter[str] = Counter()  # treatments given that the plan neither offers nor avoids
    without_options = 0
    harm: list[dict[str, Any]] = []
    plans = 0

    for batch in batches:
        absent = [c for c in SUMMARY_COLUMNS if c not in batch.schema.names]
        if absent:
            raise ValueError(f"plan rows lack the column(s) {', '.join(absent)}")
        if batch.num_rows == 0:
            continue
        plans += batch.num_rows
        status = batch.column("actual_status")
        counted = dict(_value_counts(status))
        unknown = sorted(str(s) for s in counted if s not in ACTUAL_STATUSES)
        if unknown:
            raise ValueError(
                f"actual_status {', '.join(unknown)} is not one of {', '.join(ACTUAL_STATUSES)}"
            )
        statuses.update(counted)

        for key, column in GROUPINGS:
            table = pa.Table.from_batches([batch.select([column, "actual_status"])])
            counts = table.group_by([column, "actual_status"]).aggregate([([], "count_all")])
            target = groups[key]
            for value, s, n in zip(
                counts[column].to_pylist(),
                counts["actual_status"].to_pylist(),
                counts["count_all"].to_pylist(),
                strict=True,
            ):
                target.setdefault(value, Counter())[s] += n

        missing.update(dict(_cases_per_value(batch.column("missing"))))
        blocking.update(dict(_cases_per_value(batch.column("blocking"))))

        options = batch.column("options")
        first.update(
            {v: n for v, n in _value_counts(pc.list_flatten(pc.list_slice(options, 0, 1))) if v}
        )
        lengths = pc.fill_null(pc.list_value_length(options), 0)
        without_options += pc.sum(pc.equal(lengths, 0)).as_py() or 0

        if counted.get("not_in_plan"):
            given = batch.filter(pc.equal(status, "not_in_plan")).column("actual_option")
            outside.update(dict(_value_counts(given)))

        if counted.get("in_avoid"):
            avoided = batch.filter(pc.equal(status, "in_avoid")).select(list(_HARM_COLUMNS))
            harm.extend(
                {
                    "row": r["row"],
                    "case_id": r["case_id"],
                    "actual_option": r["actual_option"],
                    "actual_date": r["actual_date"],
                    "reason": r["actual_avoid_reason"],
                }
                for r in avoided.to_pylist()
            )

    harm.sort(key=lambda h: (h["row"] is None, h["row"] or 0))
    labels = _field_labels()
    recorded = plans - statuses.get("not_recorded", 0)
    figures: dict[str, Any] = {
        "run": dict(run),
        "counts": {
            "cases_in": plans + errors,
            "plans": plans,
            "errors": errors,
            "actual_recorded": recorded,
        },
        "overall": _shares(statuses),
    }
    for key, _column in GROUPINGS:
        empty = NO_WHO_GRADE if key == "by_grade" else NOT_RECORDED
        figures[key] = [
            {"group": empty if value is None else str(value), **_shares(counter)}
            for value, counter in sorted(groups[key].items(), key=_group_order)
        ]
    figures["potential_harm"] = harm
    figures["missing_facts"] = [
        {
            "field": field,
            "label": labels.get(field),
            "cases_missing": missing[field],
            "cases_blocked": blocking[field],
        }
        for field in sorted(set(missing) | set(blocking), key=lambda f: (-blocking[f], f))
    ]
    figures["not_in_plan_treatments"] = [
        {"option": option, "cases": n}
        for option, n in sorted(outside.items(), key=lambda item: (-item[1], str(item[0])))
    ]
    figures["first_options"] = {
        "plans_without_options": without_options,
        "options": [
            {"option": option, "plans": n, "share": round(n / plans, 4)}
            for option, n in sorted(first.items(), key=lambda item: (-item[1], item[0]))
        ],
    }
    return figures


def summary_batches(
    plans_dir: Path, *, batch_size: int = 65_536, parts: Sequence[Path] | None = None
) -> Iterator[pa.RecordBatch]:
    """The summary columns of every ``part-*.parquet`` in ``plans_dir`` (in name order, or
    of ``parts`` when given), batch by batch: the input of :func:`concordance_figures`."""
    import pyarrow.parquet as pq

    for path in parts if parts is not None else sorted(plans_dir.glob("part-*.parquet")):
        with pq.ParquetFile(path) as part:
            yield from part.iter_batches(batch_size=batch_size, columns=SUMMARY_COLUMNS)
