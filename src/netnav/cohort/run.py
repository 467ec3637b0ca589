"""A cohort run from input to report: prepare, plan the chunks not done yet, finish.

Output directory (``--out DIR``)::

    run.json               what this run is (input fingerprint, mapping, chunk size,
                           knowledge and netnav versions): a rerun must match it
    mapping.yaml           the run's copy of the column mapping (tables)
    .staging/input.parquet the table input, one row group per chunk (tables)
    plans/part-NNNNN.parquet       the plans and their summary columns (a Parquet dataset)
    plans-jsonl/part-NNNNN.jsonl   the plans as JSON Lines
    errors/part-NNNNN.jsonl                            refused rows, chunk by chunk
    chunks/NNNNN.json      written last for each chunk: the chunk is done
    errors.jsonl           every refused row's problems, in row order
    concordance.json, concordance.html                 the concordance report

Resume: a run stopped part-way (Ctrl-C, a lost machine) is continued by the same command; the
chunks with a marker are kept, the others planned again. A finished run run again writes the
same bytes. A directory holding another run (other input, mapping, chunk size or knowledge)
is refused unless ``overwrite`` is given; a non-empty directory that is not a netnav run is
never written into.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from netnav import __version__
from netnav.atomic import replace_atomically
from netnav.cohort.engines import EngineName, check_scheduler, run_chunks
from netnav.cohort.source import (
    CohortInputError,
    ColumnsNeeded,
    PreparedInput,
    input_kind,
    prepare_input,
)
from netnav.cohort.worker import ChunkDone, RunSettings, chunk_paths
from netnav.knowledge.load import default_knowledge

if TYPE_CHECKING:
    from netnav.cohort.mapping import ColumnMapping

__all__ = ["RUN_FORMAT", "CohortResult", "run_cohort"]

RUN_FORMAT: Final = "netnav-cohort-run/1"
DEFAULT_CHUNK_SIZE: Final = 5000
_OWNED: Final = (
    "run.json",
    "mapping.yaml",
    ".staging",
    "plans",
    "plans-jsonl",
    "errors",
    "chunks",
    "errors.jsonl",
    "concordance.json",
    "concordance.html",
)


@dataclass(frozen=True)
class CohortResult:
    """What a run did: counts, the chunks it planned now and the files it wrote."""

    rows: int
    """Cases read (JSON Lines: non-blank lines; tables: rows)."""
    rows_now: int
    """Cases of the chunks planned by this command (not kept from an earlier, stopped run)."""
    plans: int
    refused: int
    chunks: int
    chunks_resumed: int
    out_dir: Path
    report: Path | None


def run_cohort(
    input_path: Path,
    out_dir: Path,
    *,
    mapping: Path | None = None,
    engine: EngineName = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    check_only: bool = False,
    overwrite: bool = False,
    on_start: Callable[[int, int], None] = lambda total, done: None,
    on_chunk: Callable[[ChunkDone], None] = lambda done: None,
) -> CohortResult:
    """Plan every case of ``input_path`` into ``out_dir`` and write the concordance report.

    ``on_start(rows, rows already done)`` is called once the input is read and
    ``on_chunk`` as each chunk finishes (progress display). With ``check_only`` the rows are
    read and validated only and nothing is written to ``out_dir`` (the counts come back).

    Raises :class:`CohortInputError` (input, mapping or output directory unusable).
    """
    kind = input_kind(input_path)
    if kind == "jsonl" and mapping is not None:
        raise CohortInputError("--mapping is for CSV and Parquet input; JSON Lines hold cases")
    if kind != "jsonl" and mapping is None:
        raise CohortInputError(
            f"{input_path}: a {kind.upper()} table needs --mapping FILE (column → case field; "
            "see docs/cohort-mapping.md)"
        )
    # Everything is checked before --out is touched: the mapping (named as the user gave it),
    # the input and its header; a refused run writes nothing and never harms an earlier run.
    mapping_text, column_mapping = _read_mapping(mapping) if mapping else (None, None)
    needed = _columns_needed(column_mapping, mapping) if column_mapping and mapping else None
    if check_only:
        # Nothing of a check lands in --out: its staging copy lives in a temporary directory.
        with tempfile.TemporaryDirectory(prefix="netnav-check-") as work:
            prepared = prepare_input(input_path, chunk_size, Path(work) / "input.parquet", needed)
            settings = RunSettings(work, column_mapping, check_only=True)
            checked = _check_rows(prepared, settings, engine, jobs, scheduler, on_start, on_chunk)
            return dataclasses.replace(checked, out_dir=out_dir)
    _check_out_dir(out_dir)
    if engine == "dask" and scheduler is not None:
        check_scheduler(scheduler)
    created = not out_dir.exists()
    incoming = out_dir / ".staging" / "incoming.parquet"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        prepared = prepare_input(input_path, chunk_size, incoming, needed)
        kb = default_knowledge()
        identity = _identity(prepared, mapping_text, chunk_size, kb.version)
        _match_identity(out_dir, identity, overwrite)
    except BaseException:
        incoming.unlink(missing_ok=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    if overwrite:
        _clear(out_dir)
    prepared = _settle_staging(prepared, incoming)
    _remove_leftovers(out_dir)
    if mapping_text is not None:
        _write_atomic(out_dir / "mapping.yaml", mapping_text)
    _write_atomic(out_dir / "run.json", _identity_text(identity).encode())
    settings = RunSettings(str(out_dir), column_mapping)
    done = {d.index: d for d in _finished_chunks(out_dir, prepared)}
    pending = [t for t in prepared.tasks if t.index not in done]
    on_start(prepared.rows, sum(d.span for d in done.values()))

    def finished(chunk: ChunkDone) -> None:
        if chunk.knowledge_version != kb.version:
            raise CohortInputError(
                f"a worker planned with knowledge {chunk.knowledge_version}, this run uses "
                f"{kb.version}: install the same netnav on every worker"
            )
        on_chunk(chunk)

    for chunk in run_chunks(
        pending, settings, engine=engine, jobs=jobs, scheduler=scheduler, on_done=finished
    ):
        done[chunk.index] = chunk
    refused = sum(d.refused for d in done.values())
    _join_errors(out_dir, len(prepared.tasks))
    report = _write_concordance(out_dir, prepared, identity, refused)
    return CohortResult(
        rows=sum(d.rows for d in done.values()),
        rows_now=sum(done[t.index].rows for t in pending),
        plans=sum(d.plans for d in done.values()),
        refused=refused,
        chunks=len(prepared.tasks),
        chunks_resumed=len(prepared.tasks) - len(pending),
        out_dir=out_dir,
        report=report,
    )


def _read_mapping(path: Path) -> tuple[bytes, ColumnMapping]:
    """The mapping file's bytes (kept with the run) and the checked mapping; errors name the
    file as the user gave it."""
    from netnav.cohort.mapping import load_mapping

    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CohortInputError(f"--mapping {path}: cannot be read: {exc.strerror}") from None
    return text, load_mapping(path)


def _columns_needed(mapping: ColumnMapping, path: Path) -> ColumnsNeeded:
    from netnav.cohort.mapping import MappingError

    def needed(names: Sequence[str]) -> Collection[str]:
        try:
            mapping.check_columns(names)
        except MappingError as exc:
            raise CohortInputError(f"--mapping {path}: {exc}") from None
        return {*mapping.columns, *([mapping.id_column] if mapping.id_column else [])}

    return needed


# --- the output directory ------------------------------------------------------------------------


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an ``out_dir`` that is a file, or a directory holding files netnav did not write
    (nothing is written here)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CohortInputError(f"--out {out_dir}: exists and is not a directory")
    if not out_dir.exists():
        return
    # Hidden names are netnav's temporary files (and a desktop's own, such as .DS_Store).
    entries = {p.name for p in out_dir.iterdir() if not p.name.startswith(".")}
    foreign = sorted(entries - set(_OWNED))
    if foreign:
        raise CohortInputError(
            f"--out {out_dir}: not empty and not a netnav cohort run (holds "
            f"{', '.join(foreign[:5])}); choose an empty or new directory"
        )


def _clear(out_dir: Path) -> None:
    """Remove an earlier run's files (``--overwrite``), keeping the new staging file."""
    for name in _OWNED:
        target = out_dir / name
        if target.is_dir() and name != ".staging":
            shutil.rmtree(target)
        elif target.is_file():
            target.unlink()
    (out_dir / ".staging" / "input.parquet").unlink(missing_ok=True)


def _settle_staging(prepared: PreparedInput, incoming: Path) -> PreparedInput:
    """Put the accepted input's staging file in place and point the chunks at it."""
    if not incoming.exists():
        return prepared  # JSON Lines: no staging
    final = incoming.with_name("input.parquet")
    os.replace(incoming, final)
    tasks = tuple(dataclasses.replace(t, source=str(final)) for t in prepared.tasks)
    return dataclasses.replace(prepared, tasks=tasks)


def _remove_leftovers(out_dir: Path) -> None:
    """Temporary files of a run killed while writing (``.<name>.<random>.tmp``, see
    :mod:`netnav.atomic`; they never count as output)."""
    for folder in (out_dir, *(out_dir / d for d in ("plans", "plans-jsonl", "errors", "chunks"))):
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                if leftover.is_file():
                    leftover.unlink()


def _write_atomic(path: Path, data: bytes) -> None:
    replace_atomically(path, lambda tmp: tmp.write_bytes(data))


def _identity(
    prepared: PreparedInput, mapping: bytes | None, chunk_size: int, knowledge: str
) -> dict[str, Any]:
    return {
        "format": RUN_FORMAT,
        "input": {
            "name": prepared.name,
            "kind": prepared.kind,
            "size": prepared.size,
            "sha256": prepared.sha256,
            "rows": prepared.rows,
        },
        "mapping_sha256": hashlib.sha256(mapping).hexdigest() if mapping is not None else None,
        "chunk_size": chunk_size,
        "chunks": len(prepared.tasks),
        "knowledge_version": knowledge,
        "netnav_version": __version__,
    }


def _identity_text(identity: dict[str, Any]) -> str:
    return json.dumps(identity, indent=2) + "\n"


# How run.json's keys are named in a refusal.
_IDENTITY_WORDS: Final = {
    "input": "input file",
    "mapping_sha256": "mapping",
    "chunk_size": "--chunk-size",
    "knowledge_version": "knowledge version",
    "netnav_version": "netnav version",
}


def _match_identity(out_dir: Path, identity: dict[str, Any], overwrite: bool) -> None:
    """Refuse to mix runs: ``out_dir`` may hold this run or none (or any with ``overwrite``)."""
    path = out_dir / "run.json"
    if overwrite or not path.exists():
        return
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = None
    if before != identity:
        raise CohortInputError(
            f"--out {out_dir} holds another run ({_differences(before, identity)}); use a new "
            "directory, or --overwrite to replace it"
        )


def _differences(before: object, now: dict[str, Any]) -> str:
    if not isinstance(before, dict):
        return "its run.json is unreadable"
    keys = [_IDENTITY_WORDS[k] for k in _IDENTITY_WORDS if before.get(k) != now.get(k)]
    return "different " + ", ".join(keys) if keys else "a different run"


def _finished_chunks(out_dir: Path, prepared: PreparedInput) -> Iterator[ChunkDone]:
    """Chunks whose marker and files are all there (a resumed run keeps them)."""
    for task in prepared.tasks:
        paths = chunk_paths(out_dir, task.index)
        if not all(p.exists() for p in paths.values()):
            continue
        try:
            marker = json.loads(paths["marker"].read_text(encoding="utf-8"))
            yield ChunkDone(
                marker["index"],
                marker["rows"],
                marker["plans"],
                marker["refused"],
                marker["knowledge_version"],
                marker.get("span", task.span),
            )
        except (OSError, ValueError, KeyError):
            continue  # a damaged marker: plan the chunk again


def _join_errors(out_dir: Path, chunks: int) -> None:
    def join(tmp: Path) -> None:
        with tmp.open("wb") as joined:
            for index in range(chunks):
                with chunk_paths(out_dir, index)["errors"].open("rb") as part:
                    shutil.copyfileobj(part, joined)

    replace_atomically(out_dir / "errors.jsonl", join)


def _write_concordance(
    out_dir: Path, prepared: PreparedInput, identity: dict[str, Any], refused: int
) -> Path:
    from netnav.cohort.concordance import SUMMARY_COLUMNS, concordance_figures
    from netnav.cohort.report import write_report

    def batches() -> Iterator[pa.RecordBatch]:
        for task in prepared.tasks:
            part = pq.ParquetFile(chunk_paths(out_dir, task.index)["parquet"])
            yield from part.iter_batches(columns=list(SUMMARY_COLUMNS))

    run = {
        "input": prepared.name,
        "input_sha256": prepared.sha256,
        "knowledge_version": identity["knowledge_version"],
        "netnav_version": identity["netnav_version"],
        "chunk_size": identity["chunk_size"],
    }
    figures = concordance_figures(batches(), errors=refused, run=run)
    _, html = write_report(figures, out_dir)
    return html


def _check_rows(
    prepared: PreparedInput,
    settings: RunSettings,
    engine: EngineName,
    jobs: int | None,
    scheduler: str | None,
    on_start: Callable[[int, int], None],
    on_chunk: Callable[[ChunkDone], None],
) -> CohortResult:
    on_start(prepared.rows, 0)
    done = run_chunks(
        prepared.tasks, settings, engine=engine, jobs=jobs, scheduler=scheduler, on_done=on_chunk
    )
    return CohortResult(
        rows=sum(d.rows for d in done),
        rows_now=sum(d.rows for d in done),
        plans=0,
        refused=sum(d.refused for d in done),
        chunks=len(prepared.tasks),
        chunks_resumed=0,
        out_dir=Path(settings.out_dir),
        report=None,
    )
