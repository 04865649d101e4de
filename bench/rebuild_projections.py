"""How fast the read models rebuild: events per second over a log of 1,000,000 events.

    .venv/bin/python bench/rebuild_projections.py                  # SQLite, 1,000,000 events
    .venv/bin/python bench/rebuild_projections.py --events 200000  # a quicker run
    .venv/bin/python bench/rebuild_projections.py --database-url postgresql://postgres@127.0.0.1/test

(Not ``bench/projections.py``: run as a script, that name would shadow the
``projections`` package for every import that follows.)

It writes a log of ``--events`` events into a fresh store (a SQLite file in a temporary
directory, or a PostgreSQL schema of its own, dropped at the end): 50 customers' real
commands run through the ``Ledger`` over a year, then copies of those commands with fresh
ids, in time order, each command followed by all its copies (bench/_log.py): as in a
real log, an aggregate's next command comes thousands of events after its last one, so
the projections' caches of recent aggregates miss as they would. It then times, over
the same log:

- read + decode (the baseline): the log read in pages of 500 (the runner's batch) and
  every event decoded into a domain event by the application's mapper, exactly as the
  runner reads it (``ReadSide.read_log``), with no projection work;
- rebuild: every projection that can be rebuilt (audit trail, account overview, book),
  from position 0 on empty tables, by one ``ProjectionRunner`` as on a fresh read store
  (each batch read once, then applied to each projection in a transaction of its own);
  ``subledger projections rebuild NAME`` does the same for one of them;
- rebuild, N processes (``--jobs``, default one per core on PostgreSQL, not run on
  SQLite): the same projections reset
  and rebuilt again as ``subledger projections rebuild --all`` does, shared out among N
  processes, this one included, each reading the log for itself
  (service/reads/parallel_rebuild.py; on SQLite each folds its batches outside the
  write lock, projections/folding_runner.py), the CPU of the other processes apart;
- alone (``--alone``): each projection reset and rebuilt by a runner of its own, which
  decodes only the events it reads, as ``subledger projections rebuild NAME`` does: what
  its group costs given a core of its own, so the slowest is the rebuild's time on a
  machine with a core for each group (and for the database);
- hash chain: the permanent projection (ADR 0012), never rebuilt, sealed once over the
  same log as the runner does on a fresh read store; timed apart, not in the rebuild.

It prints events per second for each, the rebuild's ratio to the baseline, and each
projection's share of the rebuild (the time inside its ``apply``). The rebuild decodes
each batch as it reads it (timed on its own line), before any projection sees it: were
it left to the first projection that asks for an event, that one would be charged for
the decode. The peak resident memory before and after the rebuild shows what the
projections' caches hold. ``--profile N``
runs the rebuild under cProfile and prints its N costliest functions (own time) after
the figures (the profiler slows it: its rate is then not comparable).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import pstats
import resource
import sys
import time
from collections.abc import Sequence

from _log import START, catch_up, seed_worlds, write_copies
from _stores import add_keep_argument, add_store_arguments, store_for
from _timing import machine_busy, throughput

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from projections.projection import LoggedEvent, Projection, is_permanent, reader_indexes
from projections.runner import ProjectionRunner, ReadLog
from projections.store import Sql
from service.config.collector import tune_for_long_running
from service.ledger.application import Ledger
from service.reads.parallel_rebuild import default_jobs, rebuild_in_parallel
from service.reads.read_side import ReadSide

WORLDS = 50  # template customers, opened evenly over a year


class Clocked:
    """A projection, with the time spent in its ``apply`` added up."""

    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.tables = inner.tables
        self.reader_indexes = reader_indexes(inner)  # made by the runner at the end
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # this thread's CPU time: what a shared machine's load spares

    def create(self, sql: Sql) -> None:
        self.inner.create(sql)

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        began, cpu = time.perf_counter(), time.thread_time()
        self.inner.apply(sql, logged)
        self.seconds += time.perf_counter() - began
        self.cpu_seconds += time.thread_time() - cpu

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        began, cpu = time.perf_counter(), time.thread_time()
        apply_batch = getattr(self.inner, "apply_batch", None)
        if apply_batch is not None:
            apply_batch(sql, batch)
        else:
            for logged in batch:
                self.inner.apply(sql, logged)
        self.seconds += time.perf_counter() - began
        self.cpu_seconds += time.thread_time() - cpu

    def forget(self) -> None:
        self.inner.forget()


class Decoding:
    """The runner's log reader, each event decoded as the batch is read, the time of
    both added up: so no projection pays for the decode of the events it reads first."""

    def __init__(self, read_log: ReadLog) -> None:
        self.read_log = read_log
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __call__(self, after: int, limit: int) -> Sequence[LoggedEvent]:
        began, cpu = time.perf_counter(), time.thread_time()
        page = self.read_log(after, limit)
        for logged in page:
            logged.event  # noqa: B018 (decoded now, kept by the cached property)
        self.seconds += time.perf_counter() - began
        self.cpu_seconds += time.thread_time() - cpu
        return page


def rss_mib() -> float:
    """The process's resident memory now, MiB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


class Collections:
    """The time the cyclic garbage collector takes, and how often it runs, per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # this thread's CPU time: what a shared machine's load spares
        self.runs = [0, 0, 0]
        self._began = 0.0
        self._began_cpu = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()
        else:
            self.seconds += time.perf_counter() - self._began
            self.cpu_seconds += time.thread_time() - self._began_cpu
            self.runs[info["generation"]] += 1

    def __enter__(self) -> Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def digests(read_side: ReadSide, tables: Sequence[str]) -> dict[str, str]:
    """Per table, a digest of its rows (as text, sorted): the same rows, the same digest."""
    found = {}
    with read_side.readers.transaction() as sql:
        for table in tables:
            rows = sql.execute(f"SELECT * FROM {table}").fetchall()
            text = repr(sorted(tuple(map(str, row)) for row in rows)).encode()
            found[table] = f"{hashlib.sha256(text).hexdigest()[:16]} ({len(rows):,} rows)"
    return found


def read_pass(read_side: ReadSide, batch: int) -> int:
    count, after = 0, 0
    while page := read_side.read_log(after, batch):
        count += sum(1 for logged in page if logged.event)  # decoded, as projections do
        after = page[-1].position
    return count


def rebuild_alone(read_side: ReadSide, names: Sequence[str], read: float) -> None:
    """Each projection rebuilt by a runner of its own, decoding only the events it reads:
    the time its group would take given a core of its own (and the database its own), so
    the slowest is the rebuild's on a machine with a core for each group."""
    events = read_side.ledger.head_position()
    rates = {}
    for name in names:
        projection = read_side.projection(name)
        read_side.runner.reset(projection)
        runner = ProjectionRunner(
            read_side.store, read_side.read_log, read_side.ledger.head_position, [projection]
        )
        with machine_busy(f"{name} alone"):
            rates[name] = throughput(f"{name} alone", lambda r=runner: catch_up(r), events)
    slowest = min(rates, key=rates.__getitem__)
    print(
        f"alone / read + decode: {', '.join(f'{n} {r / read:.2f}' for n, r in rates.items())};"
        f" a core per projection: the slowest, {slowest}, {rates[slowest] / read:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="then rebuild again shared out among this many processes (default: as"
        " `subledger projections rebuild --all`: one per core on PostgreSQL, two on SQLite)",
    )
    parser.add_argument("--profile-file", help="also save the profile there (pstats)")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep the interpreter's garbage collector settings (ADR 0031)",
    )
    parser.add_argument(
        "--digest", action="store_true", help="print a digest of each read-model table"
    )
    parser.add_argument(
        "--alone",
        action="store_true",
        help="then rebuild each projection alone, as `subledger projections rebuild NAME`",
    )
    add_store_arguments(parser)
    add_keep_argument(parser)
    args = parser.parse_args(argv)
    if not args.default_gc:
        tune_for_long_running()  # as `subledger projections rebuild` and the runner run
    with store_for(args.database_url, args.dir, args.keep) as settings:
        clock = ControllableClock(START)
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        read_side: ReadSide | None = None
        try:
            store = "PostgreSQL" if settings.postgres else "SQLite"
            print(f"{store}, {args.events:,} events; Python {sys.version.split()[0]}", flush=True)
            if ledger.head_position() == 0:  # else a kept log (--keep), written before
                commands = seed_worlds(ledger, clock, WORLDS)
                seeded = ledger.head_position()
                throughput(
                    "write the log",
                    lambda: write_copies(ledger.recorder, commands, args.events - seeded, True),
                    args.events - seeded,
                )
            events = ledger.head_position()
            read_side = ReadSide(settings, ledger)  # creates every projection's tables
            batch = read_side.runner.batch_size
            assert read_pass(read_side, batch) == events
            read = throughput("read + decode", lambda: read_pass(read_side, batch), events)
            clocked = [Clocked(p) for p in read_side.projections if not is_permanent(p)]
            chain = [p for p in read_side.projections if is_permanent(p)]
            decoding = Decoding(read_side.read_log)
            for projection in clocked:  # empty already, unless kept (--keep)
                read_side.runner.reset(projection)
            rebuild = ProjectionRunner(read_side.store, decoding, ledger.head_position, clocked)
            before = rss_mib()
            profile = cProfile.Profile() if args.profile else None
            if profile is not None:
                profile.enable()
            with Collections() as collected, machine_busy("rebuild"):
                rebuilt = throughput("rebuild", lambda: catch_up(rebuild), events)
            if profile is not None:
                profile.disable()
            after = rss_mib()
            seal = ProjectionRunner(
                read_side.store,
                read_side.read_log,
                ledger.head_position,
                chain,
                read_stored=read_side.read_stored,  # as ReadSide's own runner seals
            )
            throughput("hash chain", lambda: catch_up(seal), events)
            assert min(read_side.positions().values()) == events
            print(f"rebuild / read + decode = {rebuilt / read:.2f}")
            total = sum(p.seconds for p in clocked) + decoding.seconds
            for name, seconds, cpu, what in [
                ("read + decode", decoding.seconds, decoding.cpu_seconds, "read"),
                *((p.name, p.seconds, p.cpu_seconds, "apply") for p in clocked),
            ]:
                print(
                    f"  {name:17} {seconds:8.1f} s in {what:5} ({seconds / total:4.0%}),"
                    f" {events / seconds:>8,.0f} events/s; CPU {cpu:6.1f} s,"
                    f" {events / cpu:>8,.0f} events/CPU-s"
                )
            print(
                f"resident memory {before:,.0f} MiB before the rebuild, {after:,.0f} MiB after"
                " (the projections' caches still held); garbage collector"
                f" {collected.seconds:.2f} s of the rebuild, CPU {collected.cpu_seconds:.2f} s"
                f" (collections of generations 0, 1, 2: {collected.runs}); peak resident"
                f" memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
            )
            if args.digest:
                for table, digest in digests(
                    read_side, [t for p in clocked for t in p.tables]
                ).items():
                    print(f"  {table:30} {digest}")
            jobs = args.jobs or default_jobs(settings)
            if jobs > 1:
                # `subledger projections rebuild --all`: the same, shared out among processes.
                names = [p.name for p in clocked]
                for name in names:
                    read_side.runner.reset(read_side.projection(name))
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                with machine_busy(f"{jobs} processes"):
                    shared = throughput(
                        f"rebuild, {jobs} processes",
                        lambda: rebuild_in_parallel(read_side, names, jobs, min_events=0),
                        events,
                    )
                grown = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = grown.ru_utime + grown.ru_stime - children.ru_utime - children.ru_stime
                print(f"  (CPU of the other processes: {cpu:.2f} s)")
                assert min(read_side.positions().values()) == events
                print(f"rebuild in {jobs} processes / read + decode = {shared / read:.2f}")
            if args.alone:
                rebuild_alone(read_side, [p.name for p in clocked], read)
            if profile is not None:
                if args.profile_file:
                    profile.dump_stats(args.profile_file)
                stats = pstats.Stats(profile, stream=sys.stdout)
                stats.strip_dirs().sort_stats("tottime").print_stats(args.profile)
                stats.sort_stats("cumulative").print_stats(args.profile)
        finally:
            if read_side is not None:
                read_side.stop()
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
