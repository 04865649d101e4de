"""Throughput of one timed piece of work, printed the same way by every log benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable


def throughput(label: str, work: Callable[[], int | None], events: int | None = None) -> float:
    """Events per second of ``work``: ``events`` if given, else the count it returns."""
    started = time.perf_counter()
    counted = work()
    seconds = time.perf_counter() - started
    count = events if events is not None else counted
    assert count is not None, "give the number of events, or return it from the work"
    rate = count / seconds
    print(
        f"{label:16} {count:>10,} events in {seconds:8.2f} s  {rate:>10,.0f} events/s", flush=True
    )
    return rate
