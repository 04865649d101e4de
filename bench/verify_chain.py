"""How fast the hash chain verifies: events per second on a large log (docs/benchmarks.md).

    .venv/bin/python bench/verify_chain.py                  # 1,000,000 events, SQLite
    .venv/bin/python bench/verify_chain.py --events 200000  # a quicker run
    .venv/bin/python bench/verify_chain.py --database-url postgresql://postgres@127.0.0.1/test

It writes a log of ``--events`` events into a fresh store (a SQLite file in a temporary
directory, or a PostgreSQL schema of its own, dropped at the end): copies of real events
of a seeded ledger, so real topics and state sizes, with new aggregate ids. It seals the
log with the hash chain projection, then times three passes over the same log:

- read: the log read in pages, as verification reads it, and nothing else;
- read + SHA-256: the same, with one SHA-256 of each event's stored state (the
  cheapest integrity check there is);
- verify: ``ChainVerifier.verify``, the whole check in one process (as
  ``GET /v1/audit/verify`` does it);
- verify in N processes: the same check cut into one span per core, each in a process
  of its own (what ``subledger audit verify`` does with a long chain), the processes'
  start included.

and prints each rate with verification's ratio to the two baselines, all measured in the
same run on the same machine.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from uuid import uuid4

from _stores import add_store_arguments, fresh_store
from _timing import throughput
from eventsourcing.persistence import StoredEvent

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from domain.account import BillingDetails, User
from domain.catalog import Edition
from projections.hash_chain import HashChain
from service.audit.parallel_verification import default_jobs, verify_in_parallel
from service.audit.verification import ChainVerifier
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide

PAGE = 5000
EVENTS_PER_AGGREGATE = 10


def templates(ledger: Ledger) -> list[StoredEvent]:
    """Real stored events: an account with a contract, seats, an invoice, a payment."""
    staff, admin = CommandContext("staff-1", "billing_staff"), CommandContext("ada", "admin")
    billing = BillingDetails(
        "Acme Corp", "1 Main St", "Springfield", "12345", "US", "ap@acme.example"
    )
    ada = User("ada", "Ada Admin", "ada@acme.example", administrator=True)
    account_id = ledger.open_account(
        staff, "Acme", Edition.ESSENTIALS, "USD", billing, ada
    ).aggregate_id
    ledger.set_payment_method(admin, account_id, "pm_card_visa")
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 10}).aggregate_id
    ledger.add_licenses(admin, sub_id, "sales-cloud", 5)
    ledger.assign_seat(admin, account_id, "sales-cloud", "ada")
    return list(ledger.recorder.select_notifications(1, 1000))


def write_log(ledger: Ledger, count: int) -> int:
    """A log of ``count`` events: the templates, then copies of them, ten per aggregate."""
    samples = templates(ledger)
    written = len(samples)
    batch: list[StoredEvent] = []
    aggregate_id = uuid4()
    while written < count:
        version = written % EVENTS_PER_AGGREGATE + 1
        if version == 1:
            aggregate_id = uuid4()
        sample = samples[written % len(samples)]
        batch.append(StoredEvent(aggregate_id, version, sample.topic, sample.state))
        written += 1
        if len(batch) == PAGE or written == count:
            ledger.recorder.insert_events(batch)
            batch = []
    return ledger.head_position()


def seal(read_side: ReadSide) -> int:
    """Seal the whole log, a page per transaction, as the projection runner would."""
    chain = read_side.projection("hash_chain")
    assert isinstance(chain, HashChain)
    after = 0
    while page := read_side.ledger.recorder.select_notifications(after + 1, PAGE):
        with read_side.store.transaction() as sql:
            chain.seal_all(sql, [(event.id, event) for event in page])
        after = page[-1].id
    return after


def read_pass(ledger: Ledger, digest: bool) -> int:
    count, after = 0, 0
    while page := ledger.recorder.select_notifications(after + 1, PAGE):
        if digest:
            for event in page:
                hashlib.sha256(event.state).digest()
        count += len(page)
        after = page[-1].id
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    with fresh_store(args.database_url, args.dir) as settings:
        clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        read_side = ReadSide(settings, ledger)
        try:
            store = "PostgreSQL" if settings.postgres else "SQLite"
            print(
                f"{store}, {args.events:,} events, pages of {PAGE}; Python {sys.version.split()[0]}"
            )
            throughput("write the log", lambda: write_log(ledger, args.events))
            throughput("seal the chain", lambda: seal(read_side))
            read = throughput("read", lambda: read_pass(ledger, digest=False))
            hashed = throughput("read + SHA-256", lambda: read_pass(ledger, digest=True))
            verifier = ChainVerifier(ledger.recorder, read_side.readers, batch=PAGE)
            found = None

            def verify() -> int:
                nonlocal found
                found = verifier.verify()
                return found.checked

            verified = throughput("verify", verify)
            assert found is not None and found.ok, found
            jobs = default_jobs()

            def verify_spans() -> int:
                nonlocal found
                found = verify_in_parallel(
                    settings, verifier, jobs=jobs, min_span=args.events // jobs
                )
                return found.checked

            spanned = throughput(f"verify, {jobs} processes", verify_spans)
            assert found is not None and found.ok, found
            print(f"verify / read            = {verified / read:.2f}")
            print(f"verify / read + SHA-256  = {verified / hashed:.2f}")
            print(f"verify in {jobs} processes / read = {spanned / read:.2f}")
        finally:
            read_side.stop()
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
