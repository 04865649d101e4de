"""The migration of a store written before sealing (``subledger privacy migrate``, ADR 0023).

    .venv/bin/python bench/migration.py                   # SQLite, 3,400 accounts: ~20k events
    .venv/bin/python bench/migration.py --accounts 500
    .venv/bin/python bench/migration.py --database-url postgresql://postgres@127.0.0.1/test

A store is written as a release before sealing wrote it (the mapper stores every field
as it is): per account, the 6 commands of bench/personal_data.py, every one recording
personal data in plaintext. Then, in the same run, each into a new store of its own:

- copy: the baseline, the log read in pages and written as it is (no sealing, no chain);
- migrate: what the command does: the old chain recomputed and checked, the key table
  copied, every plaintext field sealed, the events written, the new chain anchored and
  sealed.

It prints events per second for each, and migrate against copy.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from uuid import UUID

from _stores import add_store_arguments, fresh_store
from _timing import throughput
from eventsourcing.persistence import StoredEvent
from personal_data import write

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.raw_log import select_raw
from adapters.store import StoreSettings
from service.ledger.application import Ledger
from service.privacy.migration import migrate

CLOCK = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))


def ledger_on(settings: StoreSettings) -> Ledger:
    settings.prepare()
    return Ledger(
        env=settings.eventsourcing_env(), clock=CLOCK, payment_provider=FakePaymentProvider()
    )


def copy(source: Ledger, target: Ledger) -> int:
    after = 0
    while page := select_raw(source.recorder, after, 500):
        target.recorder.insert_events(
            [StoredEvent(UUID(bytes=e.aggregate_id), e.version, e.topic, e.state) for e in page]
        )
        after = page[-1].position
    return after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3400)
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    with fresh_store(args.database_url, args.dir) as settings:
        source = ledger_on(settings)
        source.mapper.keys = None  # type: ignore[attr-defined]  # as before sealing
        try:
            throughput("write (plain)", lambda: write(source, args.accounts))
            events = source.head_position()
            with fresh_store(args.database_url, args.dir) as copied:
                target = ledger_on(copied)
                try:
                    baseline = throughput("copy (baseline)", lambda: copy(source, target), events)
                finally:
                    target.close()
            with fresh_store(args.database_url, args.dir) as migrated:
                target = ledger_on(migrated)
                try:
                    done = None

                    def run() -> int:
                        nonlocal done
                        done = migrate(source, settings, target, migrated)
                        return done.events

                    rate = throughput("migrate", run, events)
                    assert done is not None
                    print("\n".join(done.lines()))
                finally:
                    target.close()
        finally:
            source.close()
    print(f"migrate/copy {rate / baseline:6.2f}x the throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
