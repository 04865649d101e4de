"""Where the ledger takes snapshots: at every multiple of the interval a save passes, and
at the version it saved, so that a load never folds an interval's worth of events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from domain.license import License
from service.ledger.application import Ledger, fold
from service.ledger.context import CommandContext

STAFF = CommandContext("staff-1", "billing_staff")


def _snapshot_versions(ledger: Ledger, aggregate_id: object) -> list[int]:
    assert ledger.snapshots is not None
    return [s.originator_version for s in ledger.snapshots.get(aggregate_id)]  # type: ignore[arg-type]


def _ledger() -> Ledger:
    clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    return Ledger(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )


def test_one_event_per_save_snapshots_each_multiple_from_memory() -> None:
    ledger = _ledger()
    cause = STAFF.cause(ledger.clock.now())
    lic = License.open(uuid4(), "sales-cloud", cause)
    ledger.save(lic)
    for _ in range(119):
        lic.add(uuid4(), 1, date(2026, 1, 5), cause)
        ledger.save(lic)
    assert lic.version == 120
    assert _snapshot_versions(ledger, lic.id) == [50, 100]


def test_a_save_passing_several_multiples_snapshots_each_and_its_own_version() -> None:
    ledger = _ledger()
    cause = STAFF.cause(ledger.clock.now())
    lic = License.open(uuid4(), "sales-cloud", cause)
    for _ in range(119):
        lic.add(uuid4(), 1, date(2026, 1, 5), cause)
    ledger.save(lic)  # versions 1 to 120 at once
    assert _snapshot_versions(ledger, lic.id) == [50, 100, 120]
    # Each snapshot is the state its events fold to, up to its version.
    for version in (50, 100, 120):
        snapshot = next(
            s
            for s in ledger.snapshots.get(lic.id)
            if s.originator_version == version  # type: ignore[union-attr]
        )
        replayed = fold(None, ledger.events.get(lic.id, lte=version))
        assert snapshot.mutate(None).__dict__ == replayed.__dict__
