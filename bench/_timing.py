"""Throughput of one timed piece of work, printed the same way by every log benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable


def throughput(label: str, work: Callable[[], int | None], events: int | None = None) -> float:
    """Events per second of ``work``: ``events`` if given, else the count it returns."""
    started, cpu_started = time.perf_counter(), time.process_time()
    counted = work()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    count = events if events is not None else counted
    assert count is not None, "give the number of events, or return it from the work"
    rate = count / seconds
    # This process's CPU time too: on a machine others load, it moves far less than the
    # wall clock (a database server's own work, PostgreSQL's, is not in it).
    print(
        f"{label:16} {count:>10,} events in {seconds:8.2f} s  {rate:>10,.0f} events/s"
        f"  (CPU {cpu:7.2f} s, {count / max(cpu, 1e-9):>8,.0f} events/CPU-s)",
        flush=True,
    )
    return rate
