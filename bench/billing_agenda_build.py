"""How long the billing agenda read model takes to build from position 0, over a log the
ledger wrote itself.

    .venv/bin/python bench/billing_agenda_build.py --customers 1500
    .venv/bin/python bench/billing_agenda_build.py --customers 400 --profile 15 \\
        --database-url postgresql://postgres@127.0.0.1/test

The other benchmarks copy template commands with fresh ids (bench/_log.py); a copied
period invoice then has no period's id (``period_invoice_id``), and the agenda, which
follows the period invoices in the log (ADR 0029), sees none in the copies. Here every
event is a real command's (``seed_worlds``, ``--customers`` of them, opened over a
year), so each period invoice moves its contract's row. It times, best of ``--repeat``:

- read (the baseline): the whole log read once in pages of 500, nothing decoded;
- build: the agenda emptied (``ProjectionRunner.reset``), then caught up to the log's
  head as the billing run catches it up (``own_read_models(...).agenda``), events decoded.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import psycopg
from _log import START, read_through, seed_worlds
from _stores import add_store_arguments, fresh_store

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from service.ledger.application import Ledger
from service.ledger.read_models import own_read_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, metavar="N", help="profile one build: N rows")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    with fresh_store(args.database_url, args.dir) as settings:
        clock = ControllableClock(START)
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        try:
            seed_worlds(ledger, clock, args.customers)
            if settings.postgres is not None:  # what autovacuum would do after such a load
                pg = settings.postgres
                with psycopg.connect(pg.conninfo(), autocommit=True) as connection:
                    table = getattr(ledger.recorder, "events_table_name", "")
                    connection.execute(f'ANALYZE "{pg.schema}"."{table}"')
            store = "PostgreSQL" if settings.postgres else "SQLite"
            print(f"{store}, {ledger.head_position():,} events; Python {sys.version.split()[0]}")
            agenda = own_read_models(ledger).agenda
            with agenda.reading():
                pass  # its tables made (and a first build, not timed)

            def build() -> None:
                for projection in agenda.runner.projections:
                    agenda.runner.reset(projection)
                with agenda.reading():
                    pass

            if args.profile:
                profile = cProfile.Profile()
                profile.runcall(build)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
            # Wall time, and this process's CPU time: on a loaded machine the steadier,
            # though on PostgreSQL it leaves out the server's.
            best: dict[str, tuple[float, float]] = {}
            read = ("read the log", lambda: read_through(ledger))
            for _ in range(args.repeat):
                for label, work in (read, ("build", build)):
                    wall, cpu = time.perf_counter(), time.process_time()
                    work()
                    took = (time.perf_counter() - wall, time.process_time() - cpu)
                    best[label] = min(best.get(label, took), took)
            for label, (wall, cpu) in best.items():
                print(f"{label:14} best of {args.repeat}: {wall:8.2f} s (CPU {cpu:6.2f} s)")
            (read_s, read_cpu), (build_s, build_cpu) = best["read the log"], best["build"]
            print(f"build / read the log = {build_s / read_s:.2f} (CPU {build_cpu / read_cpu:.2f})")
        finally:
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
