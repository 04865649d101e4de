"""How the book's cost per event grows with an aggregate's length, against the audit trail.

    .venv/bin/python bench/book_projection.py                      # SQLite, 1,000 and 3,000
    .venv/bin/python bench/book_projection.py --additions 1000 3000 --daily
    .venv/bin/python bench/book_projection.py --database-url postgresql://postgres@127.0.0.1/test

One contract on a fresh store (a SQLite file in a temporary directory, or a PostgreSQL
schema of its own, dropped at the end) gets N seat additions through the ``Ledger``,
spread over 330 days (``--daily``: one a day), each writing a contract change, a seat
and a prorated invoice. Then each projection alone catches up from position 0 with a
``ProjectionRunner`` of its own, as on a fresh read store:

- the book (``projections/book.py``): temporal rows recomputed from the states in force
  on the days an event can change;
- the baseline, the audit trail: one row per event, whatever the aggregate's length.

It prints each one's milliseconds per event, the ratio book / audit trail, and what one
more command costs the book once the contract is long (the median of 20 catch-ups of
one more ``add_licenses``), which a POST on that contract pays for when the projections
run in the server's process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from _stores import add_store_arguments, fresh_store

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import BillingDetails, User
from domain.catalog import Edition
from projections.runner import ProjectionRunner
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide

STAFF = CommandContext("staff-1", "billing_staff")
ADMIN = CommandContext("ada", "admin")
TAIL = 20


def measure(settings: StoreSettings, additions: int, daily: bool) -> str:
    clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    ledger = Ledger(
        env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    side = ReadSide(settings, ledger)
    try:
        billing = BillingDetails("Acme", "1 Main St", "Springfield", "12345", "US", "ap@acme.test")
        ada = User("ada", "Ada Admin", "ada@acme.test", administrator=True)
        account_id = ledger.open_account(
            STAFF, "Acme", Edition.ESSENTIALS, "USD", billing, ada
        ).aggregate_id
        ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
        term = 12 * (additions // 300 + 2)  # long enough that no addition falls after it
        sub_id = ledger.start_subscription(
            ADMIN, account_id, {"sales-cloud": 10}, term_months=term
        ).aggregate_id
        step = timedelta(days=1) if daily else timedelta(days=330) / additions
        for _ in range(additions):
            clock.advance(step)
            ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 1)
        events = ledger.head_position()
        runners = {
            name: ProjectionRunner(
                side.store, side.read_log, ledger.head_position, [side.projection(name)]
            )
            for name in ("audit_trail", "book")
        }
        per_event = {}
        for name, runner in runners.items():
            started = time.perf_counter()
            runner.catch_up()
            per_event[name] = (time.perf_counter() - started) / events * 1e3
        tail = []
        for _ in range(TAIL):
            clock.advance(step)
            ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 1)
            runners["audit_trail"].catch_up()
            started = time.perf_counter()
            runners["book"].catch_up()
            tail.append((time.perf_counter() - started) * 1e3)
        spread = "one a day" if daily else "over 330 days"
        return (
            f"{additions:>6,} additions {spread:13} {events:>7,} events"
            f"  audit trail {per_event['audit_trail']:6.3f} ms/event"
            f"  book {per_event['book']:6.3f} ms/event"
            f"  ratio {per_event['book'] / per_event['audit_trail']:5.2f}"
            f"  one more command: book {statistics.median(tail):6.2f} ms"
        )
    finally:
        side.stop()
        ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--additions", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--daily", action="store_true", help="one seat addition a day")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{store}; Python {sys.version.split()[0]}", flush=True)
    for additions in args.additions:
        with fresh_store(args.database_url, args.dir) as settings:
            settings.prepare()
            print(measure(settings, additions, args.daily), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
