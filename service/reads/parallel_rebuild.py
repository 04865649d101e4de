"""Rebuilding several read models on every core: the projections shared out among processes.

A rebuild folds the whole log into every read model, in Python, under one GIL. But each
projection keeps tables and a position of its own (projections/runner.py) and reads no
other projection's tables, so they need not share a runner: shared out in groups of
about equal cost, each group is caught up by a runner of its own, in a process of its
own (service/reads/rebuild_worker.py) that reads the log for itself. Each runner writes a
batch's rows and its projections' positions in one transaction, as any runner does: a
rebuild stopped midway (a process killed) leaves every projection exact at its position,
and the next runner goes on from there.

The caller holds the runner lock, so that no other runner applies these projections
meanwhile, and has reset them (``ProjectionRunner.reset``). On SQLite two processes are
the default (``default_jobs``): each runner folds its batches outside the write lock
(``FoldingRunner``), so that they can share the file. Below
``MIN_EVENTS`` events, starting processes costs more than it saves, and every group is
caught up here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO

from adapters.store import StoreSettings
from projections.folding_runner import FoldingRunner
from projections.runner import ProjectionRunner
from service.reads.read_side import ReadSide

# Each projection's share of a rebuild's time in percent, as bench/rebuild_projections.py
# prints it (PostgreSQL, 200,000 events, December 2026); any other counts for little.
COSTS = {
    "book": 26.0,
    "account_overview": 23.0,
    "audit_trail": 16.0,
    "billing_agenda": 5.0,
    "retention": 3.0,
}
OTHER_COST = 0.5
MIN_EVENTS = 20_000
MAX_JOBS = 8
SQLITE_JOBS = 2  # one writer at a time: more groups would wait for the lock
WORKER = [sys.executable, "-m", "service.reads.rebuild_worker"]


class GroupFailed(RuntimeError):
    """A group's process ended in error (its error is on stderr): its projections stopped
    at the last batch it committed, and the next runner goes on from there."""


def default_jobs(store: StoreSettings) -> int:
    """One process per core on PostgreSQL; two on SQLite (one on a single core), which
    lets one writer at a time into its file: each group folds its batches outside that
    lock and holds it only for its writes (``FoldingRunner``). Two were measured 1.4x
    faster than one on a quiet two-core machine (a million events: 172 s against 242 s,
    ADR 0032); more groups would queue for the one lock, not measured."""
    cores = os.cpu_count() or 1
    if store.postgres is None:
        return min(SQLITE_JOBS, cores)
    return max(1, min(MAX_JOBS, cores))


def groups(names: Sequence[str], jobs: int) -> list[list[str]]:
    """``names`` shared out among at most ``jobs`` groups of about equal cost: the
    costliest first, each into the group with the least so far."""
    count = max(1, min(jobs, len(names)))
    loads = [0.0] * count
    shared: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(names, key=lambda n: -COSTS.get(n, OTHER_COST)):
        least = loads.index(min(loads))
        shared[least].append(name)
        loads[least] += COSTS.get(name, OTHER_COST)
    return [group for group in shared if group]


def rebuild_in_parallel(
    read_side: ReadSide,
    names: Sequence[str],
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    min_events: int = MIN_EVENTS,
) -> int:
    """Catch the projections ``names`` (reset by the caller) up with the log, shared out
    among up to ``jobs`` processes (default: one per core), this one included. Returns
    how many processes ran; ``progress`` is told of every (event, projection) applied."""
    jobs = jobs or default_jobs(read_side.settings)
    head = read_side.ledger.head_position()
    cut = groups(names, jobs) if head >= min_events else [list(names)]
    lock = threading.Lock()

    def told(count: int) -> None:
        if progress is not None:
            with lock:  # the children's reports arrive on threads of their own
                progress(count)

    children = [
        subprocess.Popen(WORKER, stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in cut[1:]
    ]
    readers: list[threading.Thread] = []
    finished = False
    try:
        for child, group in zip(children, cut[1:], strict=True):
            assert child.stdin is not None and child.stdout is not None
            with contextlib.suppress(BrokenPipeError):  # it ended at once: its code says why
                child.stdin.write(pickle.dumps((read_side.settings, group)))
                child.stdin.close()
            reader = threading.Thread(target=_reports, args=(child.stdout, told), daemon=True)
            reader.start()
            readers.append(reader)
        here = [read_side.projection(name) for name in cut[0]]
        # Alone, the ordinary runner: one transaction per batch, not one per projection.
        kind = FoldingRunner if children else ProjectionRunner
        runner = kind(read_side.store, read_side.read_log, read_side.ledger.head_position, here)
        runner.catch_up(progress=told)
        codes = [child.wait() for child in children]
        finished = True
    finally:
        for child in children:
            if not finished:
                child.kill()  # interrupted: no group outlives the rebuild
            child.wait()
        for reader in readers:
            reader.join()
    failed = [name for code, group in zip(codes, cut[1:], strict=True) if code for name in group]
    if failed:
        raise GroupFailed(f"rebuilding {', '.join(failed)} stopped (see the error above)")
    return len(cut)


def _reports(out: IO[bytes], told: Callable[[int], None]) -> None:
    """A child's progress lines, ``+N`` for N (event, projection) pairs applied."""
    for line in out:
        if line.startswith(b"+"):
            told(int(line[1:]))
