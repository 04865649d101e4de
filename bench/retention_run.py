"""What a retention pass costs across a book: finding the buyer keys whose retention ended.

    .venv/bin/python bench/retention_run.py                    # SQLite, 10,000 contracts
    .venv/bin/python bench/retention_run.py --contracts 2000 --due
    .venv/bin/python bench/retention_run.py --contracts 10000 \\
        --database-url postgresql://postgres@127.0.0.1/test

In a fresh store (a SQLite file in a temporary directory, or a PostgreSQL schema of its
own, dropped at the end) it writes the book of bench/billing_run.py: ``--contracts``
contracts, copies of the 50 customers of bench/_log.py, over a year. It then times, each
``--repeat`` times:

- read (the baseline): the whole log read once in pages of 500, nothing decoded;
- scan (before): what a pass did before the retention agenda (issue 17): the log
  scanned by event type for every invoice, hold and erasure, then each key due
  destroyed (again);
- pass (after): ``RetentionRun.run``: the retention agenda read model
  (projections/retention.py) caught up to the log's head, the keys due read from it,
  and only those not yet recorded, or recorded but still live, acted on.

The retention agenda is built once from the whole log first, as the projection runner
of ``subledger serve`` keeps it (timed and printed apart). By default the passes run on
the book's last day: nothing is due, as on almost every day a pass runs. With ``--due``
the clock is moved to when the book's first financial year's retention has ended, one
pass records and destroys those keys (timed apart), and the timed passes are the ones
after it: every key of that year due, all recorded already.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as day_time
from uuid import UUID

from _log import START, read_through, seed_book
from _stores import add_store_arguments, fresh_store

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from domain.account import Account
from domain.invoice import Invoice
from domain.personal_data import SubjectKind, subject_name
from service.ledger.application import Ledger
from service.ledger.read_models import own_read_models
from service.privacy.retention import RetentionRun


def scan_pass(ledger: Ledger, today: date) -> int:
    """A pass as it was before the agenda, once every key due is recorded: scans of the
    log by event type, then every key due destroyed again (a no-op each)."""
    retention = ledger.retention
    due: dict[tuple[UUID, str], date] = {}
    for event in ledger.events_of_types(Invoice.InvoiceIssued):
        assert isinstance(event, Invoice.InvoiceIssued)
        if event.financial_year is not None and retention.ends(event.financial_year) <= today:
            due[(event.account_id, str(event.financial_year))] = retention.ends(
                event.financial_year
            )
    held: dict[tuple[UUID, str], date] = {}
    for event in ledger.events_of_types(Account.PersonalDataHeld, Account.PersonalDataErased):
        assert isinstance(event, (Account.PersonalDataHeld, Account.PersonalDataErased))
        if event.kind == SubjectKind.BUYER.value:
            if isinstance(event, Account.PersonalDataHeld):
                held[(event.originator_id, event.subject_id)] = event.until
            else:
                held.pop((event.originator_id, event.subject_id), None)
    due.update({key: until for key, until in held.items() if until <= today})
    recorded = {
        (e.originator_id, e.subject_id)  # type: ignore[attr-defined]
        for e in ledger.events_of_types(Account.PersonalDataErased)
        if e.kind == SubjectKind.BUYER.value  # type: ignore[attr-defined]
    }
    now = ledger.clock.now()
    for key in due:
        assert key in recorded, "time the passes after the one that records"
        ledger.data_keys.destroy(subject_name(SubjectKind.BUYER.value, *key), now)
    return len(due)


def best_of(repeat: int, label: str, work: Callable[[], object]) -> float:
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    print(f"{label:26} best of {repeat}: {min(walls):8.3f} s  (CPU {min(cpus):7.3f} s)", flush=True)
    return min(walls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--due", action="store_true", help="time passes with every key due")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    with fresh_store(args.database_url, args.dir) as settings:
        clock = ControllableClock(START)
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        try:
            store = "PostgreSQL" if settings.postgres else "SQLite"
            contracts, written, seconds = seed_book(ledger, clock, args.contracts)
            events = ledger.head_position()
            print(
                f"{store}, {contracts:,} contracts, {events:,} events"
                f" ({written:,} copied in {seconds:.1f} s);"
                f" Python {sys.version.split()[0]}",
                flush=True,
            )
            began = time.perf_counter()
            with own_read_models(ledger).retention.reading():
                pass  # built from the whole log, as the projection runner keeps it
            print(
                f"build the retention agenda (once): {time.perf_counter() - began:8.2f} s",
                flush=True,
            )
            if args.due:
                first = ledger.retention.financial_year(START.date())
                clock.set(datetime.combine(ledger.retention.ends(first), day_time(9), START.tzinfo))
                began = time.perf_counter()
                recorded = len(RetentionRun(ledger).run().destroyed)
                print(
                    f"first pass, {recorded:,} keys recorded: {time.perf_counter() - began:8.2f} s",
                    flush=True,
                )
            today = clock.now().date()
            due = len(RetentionRun(ledger).due(today))
            print(f"on {today}: {due:,} buyer keys due", flush=True)
            baseline = best_of(args.repeat, "read the log", lambda: read_through(ledger))
            before = best_of(args.repeat, "scan pass (before)", lambda: scan_pass(ledger, today))
            after = best_of(args.repeat, "pass (after)", lambda: RetentionRun(ledger).run())
            print(
                f"scan / read the log = {before / baseline:.2f};"
                f" pass / read the log = {after / baseline:.3f} (lower is better)"
            )
        finally:
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
