"""The per-case record of a cohort run: one row of ``plans/part-NNNNN.parquet``.

Every column except ``plan`` is a summary the concordance report reads without decoding the
plan; ``plan`` is the case's whole ``netnav-plan/1`` document as compact JSON (the same
object as ``netnav recommend --format json``, on one line).

Columns (Arrow types):

- ``row`` int64: the case's row (line) number in the input, from 1;
- ``case_id`` string (null when the case has no id);
- ``site`` string: ``tumor.primary_site`` as given (null = not recorded);
- ``grade`` string: derived WHO grade ``g1``/``g2``/``g3`` (null = could not be derived);
- ``category`` string: derived ``net``/``nec``/``minen``/...;
- ``extent`` string: derived ``localized``/``locoregional``/``advanced``/``unknown``;
- ``line_of_therapy`` int32 (null when not derived);
- ``options`` list<string>: the plan's option ids, best first;
- ``preferred`` list<string>: the options of tier ``preferred``;
- ``avoid`` list<string>: the plan's avoid ids;
- ``missing`` list<string>: field paths of ``missing_information``;
- ``blocking`` list<string>: the missing fields that left a rule undecided or kept an
  option from being offered (the "missing fact blocked a decision" count);
- ``actual_option`` string: the treatment actually given (``extensions.actual_treatment``),
  an option id or option group of ../shared/spec/options.md (null = not recorded);
- ``actual_date`` string: its date (ISO, null = not recorded);
- ``actual_status`` string: see :data:`ACTUAL_STATUSES`;
- ``actual_avoid_reason`` string: the plan's avoid reasons when ``actual_status`` is
  ``in_avoid`` (joined with " "), else null;
- ``plan`` string: the plan document, compact JSON.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

__all__ = ["ACTUAL_STATUSES", "ERROR_COLUMNS", "PLAN_SCHEMA"]

ACTUAL_STATUSES: Final[tuple[str, ...]] = (
    "in_preferred",  # the actual treatment is one of the plan's preferred options
    "in_options",  # in the plan's options, not preferred
    "in_avoid",  # in the plan's avoid list: potential harm
    "undecided",  # not offered, but a rule that would offer it waits on a missing fact
    "not_in_plan",  # neither offered nor avoided, nor waiting on a missing fact
    "not_recorded",  # the case records no actual treatment
)

PLAN_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        ("row", pa.int64()),
        ("case_id", pa.string()),
        ("site", pa.string()),
        ("grade", pa.string()),
        ("category", pa.string()),
        ("extent", pa.string()),
        ("line_of_therapy", pa.int32()),
        ("options", pa.list_(pa.string())),
        ("preferred", pa.list_(pa.string())),
        ("avoid", pa.list_(pa.string())),
        ("missing", pa.list_(pa.string())),
        ("blocking", pa.list_(pa.string())),
        ("actual_option", pa.string()),
        ("actual_date", pa.string()),
        ("actual_status", pa.string()),
        ("actual_avoid_reason", pa.string()),
        ("plan", pa.string()),
    ]
)

# errors.jsonl: one object per refused row, keys in this order.
ERROR_COLUMNS: Final[tuple[str, ...]] = ("row", "case_id", "path", "value", "reason")
