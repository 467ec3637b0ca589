"""Cohort input: find the rows of a JSON Lines file or a flat table and cut them into chunks.

Three inputs are read (by file name):

- ``*.jsonl`` / ``*.ndjson``: one case document (or wrapper ``{"case": {...}}``) per line;
  the row number is the line number (from 1); blank lines are not cases and are skipped.
- ``*.csv`` (UTF-8, header line, comma separated) with a column mapping: every cell is read as
  text; the row number is the data row (1 = the first row under the header).
- ``*.parquet`` or a directory of ``*.parquet`` parts (read in name order) with a column
  mapping; row numbers run on across parts.

A chunk is ``chunk_size`` consecutive rows. JSON Lines chunks are byte ranges of the input
itself; tables are first copied to a staging Parquet file in the output directory with one row
group per chunk (cells as given, plus the row number and, for a CSV row with the wrong number
of cells, why it cannot be read), so that every worker, local or on a Dask cluster, reads just
its own chunk. The input is fingerprinted (size and SHA-256) in the same pass, so that a rerun
can tell whether it is the same input.

Errors: :class:`CohortInputError` (unreadable file, unknown kind, missing mapping) with the
path and what is allowed; the CLI exits 2 on it.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from netnav.errors import NetnavError

__all__ = [
    "ROW_COLUMN",
    "ROW_PROBLEM_COLUMN",
    "ChunkTask",
    "CohortInputError",
    "InputKind",
    "PreparedInput",
    "input_kind",
    "prepare_input",
]

InputKind = Literal["jsonl", "csv", "parquet"]

ROW_COLUMN: Final = "__netnav_row"
ROW_PROBLEM_COLUMN: Final = "__netnav_row_problem"
_BLOCK: Final = 1 << 24  # 16 MiB read blocks: hashing and line counting run at disk speed
_SUFFIXES: Final[dict[str, InputKind]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}


class CohortInputError(NetnavError):
    """The cohort input (or its mapping, or the output directory) cannot be used as given."""


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of the input: what a worker reads and where its output goes.

    ``source`` is the JSON Lines input (``start``/``end`` = byte range, whole lines) or the
    staging Parquet file (``row_group`` = the chunk's row group). ``first_row`` is the row
    number of the chunk's first row (JSON Lines: line number, counting blank lines).
    """

    index: int
    kind: InputKind
    source: str
    first_row: int
    start: int = 0
    end: int = 0
    row_group: int = -1
    span: int = 0
    """Input rows (JSON Lines: lines) the chunk covers."""


@dataclass(frozen=True)
class PreparedInput:
    """The input's fingerprint and its chunks."""

    kind: InputKind
    name: str
    size: int
    sha256: str
    rows: int
    """Rows read: JSON Lines lines (blank ones included) or table rows."""
    tasks: tuple[ChunkTask, ...]
    columns: tuple[str, ...] = ()
    """Table inputs: the column names of the input (for checking the mapping)."""


def input_kind(path: Path) -> InputKind:
    """The kind of input by its name; raises :class:`CohortInputError` for anything else."""
    if path.is_dir():
        if not any(path.glob("*.parquet")):
            raise CohortInputError(
                f"{path}: a directory input must hold Parquet parts (*.parquet); none found"
            )
        return "parquet"
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise CohortInputError(
            f"{path}: unknown input kind {path.suffix or '(no suffix)'!r}; allowed: "
            ".jsonl or .ndjson (cases), .csv or .parquet or a directory of Parquet parts "
            "(with --mapping)"
        )
    if not path.is_file():
        raise CohortInputError(f"{path}: no such file")
    return kind


ColumnsNeeded = Callable[[Sequence[str]], Collection[str]]
"""Given a table's column names, the columns to read (raises when the mapping needs one the
table lacks)."""


def prepare_input(
    path: Path, chunk_size: int, staging: Path, needed: ColumnsNeeded | None = None
) -> PreparedInput:
    """Fingerprint ``path`` and cut it into chunks of ``chunk_size`` rows.

    Tables are copied to ``staging`` (a Parquet file, one row group per chunk), keeping the
    columns ``needed`` names (all when None). There is always at least one chunk (an empty
    input gives one empty chunk, so that the output has its datasets). Raises
    :class:`CohortInputError` when the file cannot be read; the staging file is then not
    left behind.
    """
    if chunk_size < 1:
        raise CohortInputError(f"--chunk-size must be at least 1, got {chunk_size}")
    kind = input_kind(path)
    try:
        if kind == "jsonl":
            return _prepare_jsonl(path, chunk_size)
        if kind == "csv":
            return _prepare_csv(path, chunk_size, staging, needed)
        return _prepare_parquet(path, chunk_size, staging, needed)
    except UnicodeDecodeError as exc:
        raise CohortInputError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position "
            f"{exc.start}); save or export the file as UTF-8"
        ) from None
    except (OSError, pa.ArrowException, csv.Error) as exc:
        raise CohortInputError(f"{path}: cannot be read: {exc}") from None
    finally:
        _StagingWriter.discard(staging)


# --- JSON Lines: byte ranges of every chunk_size lines ----------------------------------------


def _refuse_json_that_is_not_lines(path: Path) -> None:
    """A JSON array, or one document spread over many lines, is not JSON Lines: say so
    instead of refusing every line as a broken case."""
    with path.open("rb") as f:
        head = f.read(1 << 16).lstrip(b"\xef\xbb\xbf \t\r\n")
    first_line = head.split(b"\n", 1)[0].strip()
    if head.startswith(b"["):
        raise CohortInputError(
            f"{path}: a JSON array, not JSON Lines; write one case object per line "
            "(e.g. jq -c '.[]' cases.json > cases.jsonl)"
        )
    if first_line == b"{":
        raise CohortInputError(
            f"{path}: JSON spread over several lines, not JSON Lines; write each case on one "
            "line (e.g. jq -c . case.json)"
        )


def _prepare_jsonl(path: Path, chunk_size: int) -> PreparedInput:
    _refuse_json_that_is_not_lines(path)
    digest = hashlib.sha256()
    starts = [0]  # byte offset of the first line of each chunk
    lines = 0
    offset = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            count = block.count(b"\n")
            # Only blocks in which a chunk boundary falls are searched line by line.
            boundary = (lines // chunk_size + 1) * chunk_size
            if lines + count >= boundary:
                pos = -1
                seen = lines
                while True:
                    pos = block.find(b"\n", pos + 1)
                    if pos < 0:
                        break
                    seen += 1
                    if seen % chunk_size == 0:
                        starts.append(offset + pos + 1)
            lines += count
            offset += len(block)
            last = block[-1:]
    size = offset
    if size and last != b"\n":
        lines += 1  # a last line without a newline
    if starts[-1] >= size and len(starts) > 1:
        starts.pop()  # the file ends exactly at a chunk boundary
    tasks = tuple(
        ChunkTask(
            index=i,
            kind="jsonl",
            source=str(path),
            first_row=i * chunk_size + 1,
            start=start,
            end=starts[i + 1] if i + 1 < len(starts) else size,
            span=max(0, min(chunk_size, lines - i * chunk_size)),
        )
        for i, start in enumerate(starts)
    )
    return PreparedInput("jsonl", path.name, size, digest.hexdigest(), lines, tasks)


def read_jsonl_chunk(task: ChunkTask) -> Iterator[tuple[int, bytes]]:
    """``(row number, line)`` of every non-blank line of a JSON Lines chunk."""
    with open(task.source, "rb") as f:
        f.seek(task.start)
        data = f.read(task.end - task.start)
    for number, line in enumerate(data.split(b"\n"), start=task.first_row):
        if line.strip():
            yield number, line


# --- tables: staged as Parquet, one row group per chunk ---------------------------------------


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _staging_schema(columns: list[str], types: list[pa.DataType]) -> pa.Schema:
    return pa.schema(
        [
            (ROW_COLUMN, pa.int64()),
            (ROW_PROBLEM_COLUMN, pa.string()),
            *zip(columns, types, strict=True),
        ]
    )


# The csv module refuses cells over 128 KB by default and stops the file there; a case is at
# most 1 MB, so a larger cell is read and left to the row's own checks.
_CSV_CELL_LIMIT: Final = 1 << 24


def _prepare_csv(
    path: Path, chunk_size: int, staging: Path, needed: ColumnsNeeded | None
) -> PreparedInput:
    size, sha = _hash_file(path)
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_CELL_LIMIT))
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise CohortInputError(f"{path}: empty CSV file (a header line is needed)")
        names = [h.strip() for h in header]
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            raise CohortInputError(
                f"{path}: the header is one column {names[0][:60]!r}: netnav reads "
                "comma-separated CSV; export the table with commas as separators"
            )
        keep = _kept_columns(path, names, needed)
        positions = [names.index(n) for n in keep]
        writer = _StagingWriter(
            staging, _staging_schema(keep, [pa.string()] * len(keep)), chunk_size
        )
        number = 0
        for record in reader:
            number += 1
            if not any(cell.strip() for cell in record):
                continue  # a blank line (or a row of empty cells) is not a case
            problem = None
            if len(record) != len(names):
                problem = (
                    f"CSV line {reader.line_num} has {len(record)} cells; the header has "
                    f"{len(names)} (an unclosed quote joins lines: check the line above too)"
                )
                record = [""] * len(names)
            cells = [record[i] for i in positions]
            writer.add(number, problem, [cell if cell.strip() else None for cell in cells])
        writer.close()
    return PreparedInput(
        "csv", path.name, size, sha, writer.rows, writer.tasks("csv", staging), tuple(names)
    )


def _kept_columns(path: Path, names: list[str], needed: ColumnsNeeded | None) -> list[str]:
    """The columns to stage, in table order; a repeated name is an error only if needed."""
    wanted = set(needed(names)) if needed is not None else set(names)
    repeated = sorted({n for n in names if names.count(n) > 1 and n in wanted})
    if repeated:
        raise CohortInputError(
            f"{path}: column names the mapping reads are repeated in the header: {repeated}"
        )
    keep: list[str] = []
    for name in names:
        if name in wanted and name not in keep:
            keep.append(name)
    return keep


def _parquet_parts(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def _prepare_parquet(
    path: Path, chunk_size: int, staging: Path, needed: ColumnsNeeded | None
) -> PreparedInput:
    parts = _parquet_parts(path)
    digest = hashlib.sha256()
    size = 0
    schema: pa.Schema | None = None
    for part in parts:
        part_size, part_sha = _hash_file(part)
        size += part_size
        digest.update(f"{part.name}\0{part_sha}\n".encode())
        part_schema = pq.read_schema(part)
        if schema is None:
            schema = part_schema
        elif not part_schema.equals(schema):
            raise CohortInputError(f"{part}: its columns differ from those of {parts[0].name}")
    assert schema is not None
    names = list(schema.names)
    keep = _kept_columns(path, names, needed)
    types = [schema.field(n).type for n in keep]
    writer = _StagingWriter(staging, _staging_schema(keep, types), chunk_size)
    rows = 0
    for part in parts:
        for batch in pq.ParquetFile(part).iter_batches(batch_size=chunk_size, columns=keep):
            for record in batch.to_pylist():
                rows += 1
                writer.add(rows, None, [record[n] for n in keep])
    writer.close()
    return PreparedInput(
        "parquet",
        path.name,
        size,
        digest.hexdigest(),
        rows,
        writer.tasks("parquet", staging),
        tuple(names),
    )


class _StagingWriter:
    """Writes table rows to the staging Parquet file, one row group per chunk."""

    def __init__(self, path: Path, schema: pa.Schema, chunk_size: int) -> None:
        self.path = path
        self.schema = schema
        self.chunk_size = chunk_size
        self.groups = 0
        self.rows = 0
        self._pending: list[list[object]] = [[] for _ in schema.names]
        self._tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")

    def add(self, row: int, problem: str | None, cells: list[object]) -> None:
        self.rows += 1
        self._pending[0].append(row)
        self._pending[1].append(problem)
        for column, cell in zip(self._pending[2:], cells, strict=True):
            column.append(cell)
        if len(self._pending[0]) >= self.chunk_size:
            self._flush()

    def _flush(self) -> None:
        if not self._pending[0]:
            return
        table = pa.Table.from_arrays(
            [
                pa.array(col, type=t)
                for col, t in zip(self._pending, self.schema.types, strict=True)
            ],
            schema=self.schema,
        )
        self._writer.write_table(table, row_group_size=self.chunk_size)
        self.groups += 1
        self._pending = [[] for _ in self.schema.names]

    def close(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)

    @staticmethod
    def discard(path: Path) -> None:
        """Remove a half-written staging file (a failed or interrupted read)."""
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)

    def tasks(self, kind: InputKind, staging: Path) -> tuple[ChunkTask, ...]:
        return tuple(
            ChunkTask(
                index=i,
                kind=kind,
                source=str(staging),
                first_row=i * self.chunk_size + 1,
                row_group=i,
                span=min(self.chunk_size, self.rows - i * self.chunk_size),
            )
            for i in range(max(1, self.groups))  # an empty table: one empty chunk
        )


def read_table_chunk(task: ChunkTask) -> Iterator[tuple[int, str | None, dict[str, object]]]:
    """``(row number, why the row cannot be read or None, cells by column)`` of a chunk."""
    staged = pq.ParquetFile(task.source)
    if task.row_group >= staged.num_row_groups:
        return  # the one chunk of an empty table
    table = staged.read_row_group(task.row_group)
    names = [n for n in table.column_names if n not in (ROW_COLUMN, ROW_PROBLEM_COLUMN)]
    rows = table.column(ROW_COLUMN).to_pylist()
    problems = table.column(ROW_PROBLEM_COLUMN).to_pylist()
    cells = table.select(names).to_pylist()
    yield from zip(rows, problems, cells, strict=True)
