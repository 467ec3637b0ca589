"""``netnav cohort``: the cohort-audit commands (``run``, ``synth``).

Heavy modules (pyarrow, the engine, Dask) are imported inside the commands so that the rest
of the CLI starts as fast as before.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netnav.errors import NetnavError

if TYPE_CHECKING:
    from netnav.cohort.worker import ChunkDone

__all__ = ["cohort_app"]


class CohortOutputError(NetnavError):
    """An output file cannot be written (the CLI exits 2)."""


cohort_app = typer.Typer(
    help="Audit a cohort: plan many cases and compare them with the treatment given.",
    no_args_is_help=True,
)


class Engine(StrEnum):
    local = "local"
    dask = "dask"


@cohort_app.command("run")
def cohort_run(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="Cases as JSON Lines (.jsonl), or a registry table (.csv, .parquet or a "
            "directory of Parquet parts) with --mapping.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (new, empty, or this run's)."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="Column mapping (YAML) for a CSV or Parquet table."),
    ] = None,
    engine: Annotated[
        Engine, typer.Option(help="local (worker processes) or dask (distributed).")
    ] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address (tcp://host:8786); default: a local cluster."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: one per CPU)."),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Cases per chunk (the unit of output and of resume).")
    ] = 5000,
    check_only: Annotated[
        bool,
        typer.Option("--check-only", help="Read and validate every row; plan and write nothing."),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace another run found in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Plan every case of INPUT and write plans, errors and the concordance report to --out.

    Stopped part-way, the same command resumes where it stopped; run again on a finished run, it writes the same bytes.
    """
    from rich.console import Console

    from netnav.cohort.run import run_cohort
    from netnav.cohort.source import CohortInputError

    if scheduler is not None and engine is not Engine.dask:
        raise CohortInputError("--scheduler is for --engine dask")
    if out is None and not check_only:
        raise CohortInputError("--out DIR is needed (where the plans and the report go)")
    console = Console(stderr=True)
    progress = _Progress(console, quiet, "checking" if check_only else "planning")
    started = time.perf_counter()
    if not quiet and input_path.is_file():
        # Reading, fingerprinting (and staging a table) comes before the first chunk: say so.
        size = input_path.stat().st_size / 2**20
        console.print(f"reading {input_path.name} ({size:,.1f} MB) …")
    try:
        with progress:
            result = run_cohort(
                input_path,
                out or Path("."),
                mapping=mapping,
                engine=engine.value,
                jobs=jobs,
                scheduler=scheduler,
                chunk_size=chunk_size,
                check_only=check_only,
                overwrite=overwrite,
                on_start=progress.start,
                on_chunk=progress.advance,
            )
    except OSError as exc:
        # A full disk, a read-only or vanished directory: say which file and why.
        where = f" {exc.filename}" if exc.filename else ""
        raise CohortOutputError(f"cannot use{where}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        console.print(
            "netnav: interrupted; the chunks finished so far are kept: run the same command "
            "to resume"
        )
        raise typer.Exit(130) from None
    seconds = time.perf_counter() - started
    rate = result.rows_now / seconds if seconds > 0 else 0.0
    if check_only:
        typer.echo(
            f"{result.rows} rows read in {seconds:.1f} s ({rate:,.0f} per second): "
            f"{result.rows - result.refused} valid, {result.refused} refused "
            "(run without --check-only to write errors.jsonl with each problem)"
        )
        return
    resumed = (
        f"; {result.chunks_resumed} of {result.chunks} chunks kept from before"
        if (result.chunks_resumed)
        else ""
    )
    typer.echo(
        f"{result.rows} cases read: {result.plans} planned, {result.refused} refused (see "
        f"{result.out_dir / 'errors.jsonl'}); {result.rows_now} in {seconds:.1f} s by this run "
        f"({rate:,.0f} per second){resumed}\n"
        f"plans:  {result.out_dir / 'plans'} (Parquet), {result.out_dir / 'plans-jsonl'}\n"
        f"report: {result.report}"
    )


class _Progress:
    """A rich progress bar with cases per second (silent when ``quiet``)."""

    def __init__(self, console: object, quiet: bool, doing: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        assert isinstance(console, Console)
        self._bar = Progress(
            TextColumn(doing),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]} cases/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
            transient=False,
            # No refresh thread: the local engine forks worker processes, and a thread
            # writing to the terminal at that moment could leave a lock held in a child.
            auto_refresh=False,
        )
        self._task = self._bar.add_task("planning", total=None, rate="–")
        self._begun = 0.0
        self._counted = 0

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, total: int, already: int) -> None:
        self._bar.update(self._task, total=total, completed=already)
        self._bar.start()
        self._bar.refresh()
        self._begun = time.perf_counter()

    def advance(self, chunk: ChunkDone) -> None:
        self._counted += chunk.rows
        elapsed = time.perf_counter() - self._begun
        rate = f"{self._counted / elapsed:,.0f}" if elapsed > 0 else "–"
        self._bar.update(self._task, advance=chunk.span, rate=rate)
        self._bar.refresh()


@cohort_app.command("synth")
def cohort_synth(
    n: Annotated[int, typer.Argument(min=0, metavar="N", help="How many cases.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same file.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="JSON Lines file to write (replaced if present).")
    ] = Path("cohort.jsonl"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write N synthetic, clinically plausible cases (for benchmarks and tests; not patients).

    The site, grade, stage, syndrome and treatment mix and its sources are in docs/cohort-synthetic.md. Each case records a treatment given under extensions.actual_treatment, drawn from practice patterns, not from netnav's plan.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from netnav.cohort.synth import write_synthetic_cohort

    bar = Progress(
        TextColumn("writing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
    task = bar.add_task("writing", total=n)
    with bar:
        try:
            written = write_synthetic_cohort(
                out, n, seed, on_progress=lambda k: bar.update(task, completed=k)
            )
        except OSError as exc:
            raise CohortOutputError(f"cannot write --out {out}: {exc.strerror}") from None
        bar.update(task, completed=written)
    typer.echo(f"{written} synthetic cases (seed {seed}) written to {out}")
