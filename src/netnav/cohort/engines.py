"""Where the chunks of a cohort run are planned: local worker processes or a Dask cluster.

Both engines run the same :func:`netnav.cohort.worker.plan_chunk` on the same chunks and so
write the same files; they differ only in who runs them.

- ``local``: ``jobs`` forked worker processes (default: one per CPU). The parent loads the
  knowledge base and freezes its heap before forking, so the workers share it read-only.
  Measured on the 2-core benchmark machine, processes beat a columnar (Arrow) path because
  the work is the rule engine in Python, not column arithmetic. ``jobs=1`` plans in-process.
- ``dask``: Dask's distributed scheduler (``distributed.Client``): a ``LocalCluster`` of
  ``jobs`` single-threaded worker processes, or an existing cluster at ``scheduler``
  (``tcp://host:8786``). Workers need netnav installed at the same version and the output
  directory (and a JSON Lines input) on a file system they share with this machine.
"""

from __future__ import annotations

import functools
import gc
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

from netnav.cohort.source import ChunkTask, CohortInputError
from netnav.cohort.worker import ChunkDone, RunSettings, plan_chunk
from netnav.knowledge.load import default_knowledge

__all__ = ["EngineName", "check_scheduler", "default_jobs", "run_chunks"]

EngineName = Literal["local", "dask"]


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_chunks(
    tasks: Sequence[ChunkTask],
    settings: RunSettings,
    *,
    engine: EngineName = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[ChunkDone], None] = lambda done: None,
) -> list[ChunkDone]:
    """Plan ``tasks`` on ``engine``; ``on_done`` is called as each chunk finishes (any order).

    Returns the finished chunks in task order. Exceptions of a worker (other than a bad row,
    which a chunk records) propagate.
    """
    workers = jobs or default_jobs()
    if engine == "dask":
        done = _run_dask(tasks, settings, workers, scheduler, on_done)
    else:
        done = _run_local(tasks, settings, workers, on_done)
    return sorted(done, key=lambda d: d.index)


def check_scheduler(address: str) -> None:
    """Connect to the Dask scheduler at ``address`` and disconnect: a run that cannot reach
    its cluster is refused before it writes anything. Raises :class:`CohortInputError`."""
    from distributed import Client

    _connect(Client, address).close()


def _connect(client_type: Any, address: str) -> Any:
    try:
        return client_type(address, timeout="15s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise CohortInputError(
            f"--scheduler {address}: cannot reach a Dask scheduler there "
            f"({type(exc).__name__}: {exc}); give its address as tcp://host:8786"
        ) from None


def _warm_worker() -> None:
    default_knowledge()
    gc.freeze()


def _run_local(
    tasks: Sequence[ChunkTask],
    settings: RunSettings,
    jobs: int,
    on_done: Callable[[ChunkDone], None],
) -> list[ChunkDone]:
    finished: list[ChunkDone] = []
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            finished.append(plan_chunk(task, settings))
            on_done(finished[-1])
        return finished
    # Load the knowledge once in the parent and freeze it out of the collector's sight: the
    # forked workers then share those pages instead of copying them on the first collection.
    default_knowledge()
    gc.freeze()
    context = multiprocessing.get_context("fork")
    with context.Pool(min(jobs, len(tasks)), initializer=_warm_worker) as pool:
        work = functools.partial(plan_chunk, settings=settings)
        for done in pool.imap_unordered(work, tasks):
            finished.append(done)
            on_done(done)
    return finished


def _run_dask(
    tasks: Sequence[ChunkTask],
    settings: RunSettings,
    jobs: int,
    scheduler: str | None,
    on_done: Callable[[ChunkDone], None],
) -> list[ChunkDone]:
    # Imported here: local runs do not pay for importing distributed.
    from distributed import Client, LocalCluster, as_completed

    finished: list[ChunkDone] = []
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: 8787 may be taken
            # Only errors: an interrupted run would otherwise print pages of worker warnings.
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        cluster = None
        client = _connect(Client, scheduler)
    try:
        futures = client.map(plan_chunk, list(tasks), settings=settings, pure=False)
        for future in as_completed(futures):
            done = future.result()
            finished.append(done)
            on_done(done)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return finished
