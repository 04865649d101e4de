"""Throughput of one timed piece of work, printed the same way by every log benchmark."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator


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


def _cpu_ticks() -> tuple[int, int] | None:
    """Busy and idle ticks of every core since boot (Linux's /proc/stat; None elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(f) for f in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle, idle  # user nice system idle iowait irq softirq steal


@contextlib.contextmanager
def machine_busy(label: str) -> Iterator[None]:
    """Print how busy the machine's cores were during the block: every process counted,
    the database server's too, which a process's own CPU time leaves out. Idle cores
    during a parallel run mean groups of unequal cost; none idle, that the cores are
    the limit."""
    before = _cpu_ticks()
    yield
    after = _cpu_ticks()
    if before is None or after is None:
        return
    busy, idle = after[0] - before[0], after[1] - before[1]
    tick = os.sysconf("SC_CLK_TCK")
    print(
        f"  ({label}: the machine's {os.cpu_count()} cores busy {busy / tick:.1f} of"
        f" {(busy + idle) / tick:.1f} core-seconds, {busy / max(busy + idle, 1):.0%})",
        flush=True,
    )
