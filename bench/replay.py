"""How long loading an aggregate of 10,000 events takes, with and without snapshots.

    .venv/bin/python bench/replay.py                        # SQLite and PostgreSQL, 5 s each
    .venv/bin/python bench/replay.py --events 100000 --seconds 20
    .venv/bin/python bench/replay.py --database-url ''      # SQLite only

For each store (a SQLite file in a temporary directory; a PostgreSQL schema of its own,
dropped at the end), it writes one contract with ``--events`` events (``start``, then
one seat added per event, saved through the ``Ledger`` in batches of 500, so the
ledger takes its snapshots every 50 versions as it would in service). It then times
``repository.get(id)``, repeated for ``--seconds``:

- baseline: a ``Ledger`` with snapshotting off (no snapshot store), which reads every
  event of the contract and folds them;
- snapshot (head): the ``Ledger``; its latest snapshot is at the head, so nothing is
  folded on top;
- snapshot + 49: the ``Ledger`` loading version head - 1, the worst case: the snapshot
  50 versions earlier, then 49 events folded on top of it;
- cached (head): what a command's load costs once the aggregate is in the process's
  cache: a query for newer events (none) and a copy.

The first three load from the store (the aggregate cache is off for them). It prints
p50 / p95 per load and the speed-up over the baseline.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import UUID

from _stores import fresh_store

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import BillingDetails, User
from domain.catalog import Edition
from domain.subscription import Subscription
from service.ledger.application import Ledger
from service.ledger.context import CommandContext

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
STAFF = CommandContext("staff-1", "billing_staff")
ADMIN = CommandContext("ada", "admin")
BATCH = 500
# Loads from the store, not from the aggregate cache that commands load through (ADR 0013).
NO_CACHE = {"AGGREGATE_CACHE_MAXSIZE": ""}


class Unsnapshotted(Ledger):
    """The same application with snapshotting off: every load folds all the events."""

    name = "subledger"  # the same tables (a subclass would otherwise get its own name)
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {}


def long_contract(ledger: Ledger, events: int) -> UUID:
    """A contract of ``events`` events: started, then one seat added per event."""
    billing = BillingDetails(
        "Acme Corp", "1 Main St", "Springfield", "12345", "US", "ap@acme.example"
    )
    ada = User("ada", "Ada Admin", "ada@acme.example", administrator=True)
    account_id = ledger.open_account(
        STAFF, "Acme", Edition.ESSENTIALS, "USD", billing, ada
    ).aggregate_id
    ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
    sub_id = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id
    on = date(2026, 1, 5)
    while (sub := ledger.subscription(sub_id)).version < events:
        line = sub.line_for("sales-cloud")
        assert line is not None
        for _ in range(min(BATCH, events - sub.version)):
            sub.add_licenses(line.line_id, 1, on, ADMIN.cause(ledger.clock.now()))
        ledger.save(sub)
    assert isinstance(ledger.repository.get(sub_id), Subscription)
    return sub_id


def timed(label: str, load: Callable[[], Any], seconds: float, baseline: float | None) -> float:
    load()  # warm
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        began = time.perf_counter()
        load()
        times.append(time.perf_counter() - began)
    times.sort()
    p50, p95 = times[len(times) // 2] * 1000, times[int(0.95 * len(times))] * 1000
    text = f"{label:18} {len(times):>6,} loads  p50 {p50:9.3f} ms  p95 {p95:9.3f} ms"
    if baseline is not None:
        text += f"  speed-up {baseline / p50:,.0f}x"
    print(text, flush=True)
    return p50


def measure(settings: StoreSettings, events: int, seconds: float) -> None:
    clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    ledger = Ledger(
        env=settings.eventsourcing_env() | NO_CACHE,
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )
    plain = Unsnapshotted(
        env=settings.eventsourcing_env() | NO_CACHE,
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )
    cached = Ledger(
        env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    try:
        assert ledger.repository.cache is None and cached.repository.cache is not None
        assert plain.snapshots is None and ledger.snapshots is not None
        began = time.perf_counter()
        sub_id = long_contract(ledger, events)
        store = "PostgreSQL" if settings.postgres else "SQLite"
        head = ledger.subscription(sub_id).version
        print(
            f"{store}: a contract of {head:,} events written in "
            f"{time.perf_counter() - began:.1f} s",
            flush=True,
        )
        folded_sub, snapped_sub = plain.subscription(sub_id), ledger.subscription(sub_id)
        assert folded_sub.version == snapped_sub.version == head
        assert folded_sub.line_for("sales-cloud") == snapped_sub.line_for("sales-cloud")
        folded = timed("no snapshots", lambda: plain.repository.get(sub_id), seconds, None)
        timed("snapshot (head)", lambda: ledger.repository.get(sub_id), seconds, folded)
        timed(
            "snapshot + 49",
            lambda: ledger.repository.get(sub_id, version=head - 1),
            seconds,
            folded,
        )
        cached.subscription(sub_id)  # in the cache from now on
        timed("cached (head)", lambda: cached.repository.get(sub_id), seconds, folded)
        print(f"no snapshots: {head / folded * 1000:,.0f} events/s folded", flush=True)
    finally:
        cached.close()
        plain.close()
        ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help="PostgreSQL too ('' for SQLite only)"
    )
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}; {args.seconds:g} s per measurement", flush=True)
    for url in [None, *([args.database_url] if args.database_url else [])]:
        with fresh_store(url) as settings:
            measure(settings, args.events, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
