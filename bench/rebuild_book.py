"""The book alone, rebuilt over a kept log: its own CPU seconds in ``apply``, and memory.

    nice -n 10 .venv/bin/python bench/rebuild_book.py --events 100000
    nice -n 10 .venv/bin/python bench/rebuild_book.py --events 100000 --module /tmp/book_before.py

The log is ``bench/rebuild_projections.py``'s (bench/_log.py, interleaved), written once
into ``--dir``/subledger-bench-book<events>.db and kept for the next run (delete it by
hand). The book (``projections/book.py``, or ``--module``: another copy of it, say an
older commit's from ``git show``, to compare in one sitting) is reset and rebuilt by a
``ProjectionRunner`` as ``subledger projections rebuild book`` does. Each batch is decoded
before the clock starts: in the full rebuild another projection pays for that. It prints
the book's CPU and wall seconds in ``apply_batch``, the process's resident memory before
and after (its timelines stay cached) and a digest of every row of the book's tables, so
that two versions can be shown to write the same book.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import importlib.util
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _log import START, catch_up, seed_worlds, write_copies
from _stores import store_for

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from projections.projection import LoggedEvent, reader_indexes
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.ledger.application import Ledger
from service.reads.many_aggregates import events_up_to
from service.reads.read_side import ReadSide


def resident_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


class Timed:
    """The book, with the CPU and wall time in its ``apply_batch`` added up."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.tables = inner.tables
        self.reader_indexes = reader_indexes(inner)  # made by the runner at the end
        self.cpu = self.wall = 0.0

    def create(self, sql: Sql) -> None:
        self.inner.create(sql)

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        for logged in batch:
            assert logged.event is not None  # decoded (and cached) before the clock starts
        wall, cpu = time.perf_counter(), time.process_time()
        self.inner.apply_batch(sql, batch)
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu

    def forget(self) -> None:
        self.inner.forget()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--module", help="another copy of projections/book.py to measure")
    parser.add_argument("--capacity", type=int, help="the book's timelines kept (its default)")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    book_module: Any = importlib.import_module("projections.book")
    if args.module:
        spec = importlib.util.spec_from_file_location("book_measured", args.module)
        assert spec is not None and spec.loader is not None
        book_module = importlib.util.module_from_spec(spec)
        sys.modules["book_measured"] = book_module  # dataclasses look their module up
        spec.loader.exec_module(book_module)
    with store_for(None, args.dir, f"book{args.events}") as settings:
        clock = ControllableClock(START)
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        if ledger.head_position() == 0:
            commands = seed_worlds(ledger, clock, 50)
            write_copies(ledger.recorder, commands, args.events - ledger.head_position(), True)
        events = ledger.head_position()
        side = ReadSide(settings, ledger)
        options = {} if args.capacity is None else {"capacity": args.capacity}
        book = Timed(
            book_module.Book(
                ledger.events, histories=lambda wanted: events_up_to(ledger, wanted), **options
            )
        )
        runner = ProjectionRunner(side.store, side.read_log, ledger.head_position, [book])
        runner.reset(book)
        before = resident_mb()
        profile = cProfile.Profile() if args.profile else None
        if profile is not None:
            profile.enable()
        catch_up(runner)
        if profile is not None:
            profile.disable()
        after = resident_mb()
        digest = hashlib.sha256()
        with side.readers.transaction() as sql:
            for table in book.tables:
                rows = sql.execute(f"SELECT * FROM {table}").fetchall()
                digest.update(repr(sorted(tuple(map(str, row)) for row in rows)).encode())
        print(
            f"{args.module or 'projections/book.py'} {options or ''} {events:,} events:"
            f" book apply {book.cpu:.1f} CPU s ({events / book.cpu:,.0f} events/CPU-s),"
            f" {book.wall:.1f} s wall; resident {before} -> {after} MB;"
            f" rows {digest.hexdigest()[:12]}",
            flush=True,
        )
        if profile is not None:
            stats = pstats.Stats(profile, stream=sys.stdout)
            stats.strip_dirs().sort_stats("tottime").print_stats(args.profile)
        side.stop()
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
