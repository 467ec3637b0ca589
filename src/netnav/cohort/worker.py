"""Plan one chunk of a cohort and write its output files (the unit of work of every engine).

:func:`plan_chunk` is what a local worker process or a Dask worker runs: it reads its rows
(:mod:`netnav.cohort.source`), turns each into a case (JSON, or a table row through the
column mapping), plans it with the packaged knowledge base and writes, atomically,

- ``plans/part-NNNNN.parquet``: one row per planned case (:data:`records.PLAN_SCHEMA`);
- ``plans-jsonl/part-NNNNN.jsonl``: ``{"row": n, "plan": {netnav-plan/1 document}}`` per line;
- ``errors/part-NNNNN.jsonl``: one line per problem of a refused row
  (``row``, ``case_id``, ``path``, ``value``, ``reason``);
- ``chunks/NNNNN.json`` last: the chunk is done (rows, plans, refused rows).

A bad row never stops the chunk; anything unexpected while planning one case is recorded as
that row's error (``path`` = ``(plan)``) rather than losing the chunk. The same chunk of the
same input with the same knowledge gives the same bytes, whichever engine runs it.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from netnav.atomic import replace_atomically
from netnav.case.load import case_from_mapping, parse_case_document
from netnav.case.model import Case
from netnav.cohort.actual import (
    ActualTreatment,
    actual_status,
    follows_follow_up_plan,
    options_awaiting_facts,
    read_actual_treatment,
)
from netnav.cohort.mapping import ColumnMapping
from netnav.cohort.records import PLAN_SCHEMA
from netnav.cohort.source import ChunkTask, read_jsonl_chunk, read_table_chunk
from netnav.engine.planner import make_plan
from netnav.errors import CaseError, CaseProblem
from netnav.knowledge.load import Knowledge, default_knowledge
from netnav.plan import plan_document

__all__ = ["ChunkDone", "RunSettings", "chunk_paths", "plan_chunk"]

_ORJSON_OPTIONS: Final = orjson.OPT_NON_STR_KEYS
_COLLECT_EVERY: Final = 200
_VALUE_SHOWN: Final = 200  # characters of an offending value copied into errors.jsonl


@dataclass(frozen=True)
class RunSettings:
    """What every chunk of one run shares (picklable: it travels to Dask workers)."""

    out_dir: str
    mapping: ColumnMapping | None = None
    """The column mapping (tables only); it pickles as its checked document."""
    check_only: bool = False
    """Read and validate rows but do not plan (``--check-only``; the parse floor)."""


@dataclass(frozen=True)
class ChunkDone:
    """A finished chunk: its counts and the knowledge version that planned it."""

    index: int
    rows: int
    """Cases read (JSON Lines: non-blank lines)."""
    plans: int
    refused: int
    knowledge_version: str
    span: int = 0
    """Input rows the chunk covers (JSON Lines: lines, blank ones included)."""


def chunk_paths(out_dir: Path, index: int) -> dict[str, Path]:
    """The output files of chunk ``index``: parquet, jsonl, errors, marker."""
    part = f"part-{index:05d}"
    return {
        "parquet": out_dir / "plans" / f"{part}.parquet",
        "jsonl": out_dir / "plans-jsonl" / f"{part}.jsonl",
        "errors": out_dir / "errors" / f"{part}.jsonl",
        "marker": out_dir / "chunks" / f"{index:05d}.json",
    }


# --- reading rows as cases ---------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    case: Case | None
    document: dict[str, Any] | None
    problems: list[CaseProblem]


def _case_id(document: object) -> str | None:
    if isinstance(document, dict):
        inner = document.get("case") if "format" not in document else document
        if isinstance(inner, dict) and isinstance(inner.get("id"), str):
            return str(inner["id"])
    return None


def _rows(task: ChunkTask, settings: RunSettings) -> Iterator[_Row]:
    if task.kind == "jsonl":
        for number, line in read_jsonl_chunk(task):
            try:
                case, document = parse_case_document(line)
            except CaseError as exc:
                yield _Row(number, None, _loose_document(line), exc.problems)
                continue
            yield _Row(number, case, document, [])
        return
    mapping = settings.mapping
    if mapping is None:
        raise RuntimeError("a table input needs a column mapping")
    for number, unreadable, cells in read_table_chunk(task):
        if unreadable is not None:
            yield _Row(number, None, None, [CaseProblem("(row)", unreadable)])
            continue
        try:
            document, row_problems = mapping.case_from_row(cells)
        except Exception as exc:  # one row the mapping cannot read must not lose the chunk
            reason = f"netnav could not read this row ({type(exc).__name__})"
            yield _Row(number, None, None, [CaseProblem("(row)", reason)])
            continue
        if row_problems:
            problems = [CaseProblem(p.path, p.reason, p.value) for p in row_problems]
            yield _Row(number, None, document, problems)
            continue
        try:
            yield _Row(number, case_from_mapping(document), document, [])
        except CaseError as exc:
            yield _Row(number, None, document, exc.problems)


def _loose_document(line: bytes) -> dict[str, Any] | None:
    """The line as JSON if it is an object at all (to name the case id of a refused row)."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:  # NaN, Infinity, 1e400 or lone surrogates: the standard parser still reads them
            value = json.loads(line)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


# --- planning ------------------------------------------------------------------------------------


class _ChunkOutput:
    """Column lists of the chunk's Parquet part, its JSON Lines and its error lines."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in PLAN_SCHEMA.names}
        self.lines: list[bytes] = []
        self.errors: list[bytes] = []
        self.refused = 0

    def refuse(self, number: int, case_id: str | None, problems: list[CaseProblem]) -> None:
        self.refused += 1
        for p in problems:
            reason = p.message + (f"; allowed: {p.allowed}" if p.allowed else "")
            path = p.path or "(document)"
            value = p.value
            if isinstance(value, str) and len(value) > _VALUE_SHOWN:
                value = f"{value[:_VALUE_SHOWN]}… ({len(value)} characters)"
            line = {"row": number, "case_id": case_id, "path": path, "value": value}
            line["reason"] = reason
            self.errors.append(orjson.dumps(line, default=str, option=_ORJSON_OPTIONS) + b"\n")

    def add(self, number: int, case: Case, actual: ActualTreatment | None, kb: Knowledge) -> None:
        result = make_plan(case, kb)
        document = plan_document(result, kb)
        plan = orjson.dumps(document)
        options = [o["id"] for o in document["options"]]
        preferred = [o["id"] for o in document["options"] if o["tier"] == "preferred"]
        avoid = [a["id"] for a in document["avoid"]]
        follow_up = follows_follow_up_plan(actual, document, kb)
        status = actual_status(
            actual,
            preferred,
            options,
            avoid,
            lambda: options_awaiting_facts(result, kb),
            follow_up,
        )
        derived = document["derived"]
        row: dict[str, Any] = {
            "row": number,
            "case_id": case.id,
            "site": case.tumor.primary_site,
            "grade": derived["grade"]["value"],
            "category": derived["category"]["value"],
            "extent": derived["extent"]["value"],
            "line_of_therapy": derived["line_of_therapy"]["value"],
            "options": options,
            "preferred": preferred,
            "avoid": avoid,
            "missing": [m.field for m in result.missing],
            "blocking": [m.field for m in result.missing if m.decides or m.offers],
            "actual_option": actual.option if actual else None,
            "actual_date": actual.date if actual else None,
            "actual_status": status,
            "actual_avoid_reason": _avoid_reason(document, actual)
            if status == "in_avoid"
            else None,
            "plan": plan.decode(),
        }
        for name, value in row.items():
            self.columns[name].append(value)
        self.lines.append(b'{"row":%d,"plan":%s}\n' % (number, plan))


def _avoid_reason(document: dict[str, Any], actual: ActualTreatment | None) -> str | None:
    assert actual is not None
    reasons = [r for a in document["avoid"] if a["id"] in actual.ids for r in a["reasons"]]
    return " ".join(reasons) or None


def _plan_row(row: _Row, settings: RunSettings, out: _ChunkOutput, kb: Knowledge) -> None:
    """Plan one row into ``out``, or record why it is refused."""
    if row.case is None:
        out.refuse(row.number, _case_id(row.document), row.problems)
        return
    actual, problems = read_actual_treatment(row.document or {})
    if problems:
        out.refuse(row.number, row.case.id, problems)
        return
    if settings.check_only:
        return
    try:
        out.add(row.number, row.case, actual, kb)
    except Exception as exc:  # one case's failure must not lose the chunk
        problem = CaseProblem("(plan)", f"netnav could not plan this case ({type(exc).__name__})")
        out.refuse(row.number, row.case.id, [problem])


def plan_chunk(task: ChunkTask, settings: RunSettings) -> ChunkDone:
    """Plan every row of ``task`` and write the chunk's files (see the module docstring).

    With ``settings.check_only`` rows are read and validated but neither planned nor
    written (only the count comes back): the parse floor of the benchmarks.
    """
    kb = default_knowledge()
    # Long-lived objects (the knowledge base, modules) out of the collector's sight: full
    # collections would otherwise walk them again and again (a Dask worker has no warm-up).
    gc.freeze()
    out = _ChunkOutput()
    rows = 0
    # The planner leaves some reference cycles per case; the cyclic collector, left to its
    # own thresholds, walks the young heap hundreds of times per chunk (about a third of
    # the planning time). Collecting once every _COLLECT_EVERY cases frees the same
    # garbage with memory bounded to a few tens of MB per worker.
    collector_was_on = gc.isenabled()
    gc.disable()
    try:
        for row in _rows(task, settings):
            rows += 1
            if rows % _COLLECT_EVERY == 0:
                gc.collect()
            _plan_row(row, settings, out, kb)
    finally:
        gc.collect()
        if collector_was_on:
            gc.enable()
    done = ChunkDone(task.index, rows, rows - out.refused, out.refused, kb.version, task.span)
    if settings.check_only:
        return done
    _write_chunk(Path(settings.out_dir), task.index, out, done)
    return done


def _write_chunk(out_dir: Path, index: int, out: _ChunkOutput, done: ChunkDone) -> None:
    paths = chunk_paths(out_dir, index)
    table = pa.Table.from_pydict(out.columns, schema=PLAN_SCHEMA)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(paths["parquet"], lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    replace_atomically(paths["jsonl"], lambda tmp: tmp.write_bytes(b"".join(out.lines)))
    replace_atomically(paths["errors"], lambda tmp: tmp.write_bytes(b"".join(out.errors)))
    marker = {
        "index": done.index,
        "rows": done.rows,
        "plans": done.plans,
        "refused": done.refused,
        "knowledge_version": done.knowledge_version,
        "span": done.span,
    }
    replace_atomically(paths["marker"], lambda tmp: tmp.write_bytes(orjson.dumps(marker) + b"\n"))
