"""What a billing run costs before it does anything: finding what is due across a book.

    .venv/bin/python bench/billing_run.py                      # SQLite, 100,000 contracts
    .venv/bin/python bench/billing_run.py --contracts 5000     # a quicker run
    .venv/bin/python bench/billing_run.py --contracts 20000 \\
        --database-url postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/billing_run.py --keep book100k   # a kept store, made once

``--keep NAME`` keeps the store (and its agenda read model) for the next run; the book
benchmark's ``point_in_time.py --only-book --keep NAME`` writes the same log (the same
templates, as many copies), so the two can share one.

In a fresh store (a SQLite file in a temporary directory, or a PostgreSQL schema of its
own, dropped at the end) it writes a book of ``--contracts`` contracts: the 50 customers
of bench/_log.py (contracts opened over a year, payments, seats, products, renewals),
then copies of their events with fresh ids. It then times, each ``--repeat`` times:

- read (the baseline): the whole log read once in pages of 500, nothing decoded: what
  any scan of the log costs at least;
- agenda: ``BillingRun.next_due``, the first thing every run (and every move of a test
  clock) computes: the contracts with a step due and the unsettled invoices, read from
  the billing agenda read model (projections/billing_agenda.py) after catching it up to
  the log's head. Nothing is written to the ledger.

Before the agenda is timed, the read model is built once from the whole log, as the
projection runner of ``subledger serve`` keeps it (timed and printed apart: "build the
agenda read model"); the timed agendas then find it caught up, as a run normally does.
Before issue 17 the agenda scanned the log by event type twice and loaded every active
contract (docs/benchmarks.md has those figures).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from typing import Any

import psycopg
from _log import START, read_through, seed_book
from _stores import add_keep_argument, add_store_arguments, store_for

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from service.billing.run import BillingRun
from service.ledger.application import Ledger
from service.ledger.read_models import own_read_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    add_store_arguments(parser)
    add_keep_argument(parser)
    args = parser.parse_args(argv)
    with store_for(args.database_url, args.dir, args.keep) as settings:
        clock = ControllableClock(START)
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        try:
            store = "PostgreSQL" if settings.postgres else "SQLite"
            if ledger.head_position() == 0:
                _, written, seconds = seed_book(ledger, clock, args.contracts)
                copied = f"{written:,} copied in {seconds:.1f} s"
            else:
                copied = "a store kept (--keep): the same log, written before"
            events = ledger.head_position()
            if settings.postgres is not None:
                # What autovacuum does within a minute of such a load (the shared test
                # server runs without it): without statistics, the build's one query per
                # batch for the periods' invoices scanned the whole log (34 min, not 5).
                pg = settings.postgres
                with psycopg.connect(pg.conninfo(), autocommit=True) as connection:
                    table = getattr(ledger.recorder, "events_table_name", "")
                    connection.execute(f'ANALYZE "{pg.schema}"."{table}"')
            (last,) = ledger.recorder.select_notifications(events, 1)
            # The templates' last command: its time is the clock's after seeding.
            last_event: Any = ledger.mapper.to_domain_event(last)
            today = last_event.timestamp.date()
            print(
                f"{store}, {events:,} events ({copied}); Python {sys.version.split()[0]}",
                flush=True,
            )
            run = BillingRun(ledger, reminder_days=30)
            began = time.perf_counter()
            with own_read_models(ledger).agenda.reading():
                pass  # built from the whole log, as the projection runner keeps it
            print(
                f"build the agenda read model (once; a kept one is caught up):"
                f" {time.perf_counter() - began:8.2f} s",
                flush=True,
            )
            for label, work in (
                ("read the log", lambda: read_through(ledger)),
                ("agenda", lambda: run.next_due(today, today + timedelta(days=30))),
            ):
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    work()
                    times.append(time.perf_counter() - started)
                best = min(times)
                print(f"{label:14} best of {args.repeat}: {best:8.2f} s", flush=True)
                if label == "read the log":
                    baseline = best
            print(f"agenda / read the log = {best / baseline:.1f} (lower is better)")
        finally:
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
