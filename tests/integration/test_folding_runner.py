"""A rebuild's runner folds each batch outside SQLite's write lock and commits only the
writes and the position under it (projections/folding_runner.py), with the same rows,
each event applied once, as the ordinary runner."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from adapters.store import StoreSettings
from domain.personal_data import SubjectKind
from projections.audit_trail import AuditFilter, AuditTrail, audit_rows
from projections.folding_runner import FoldingRunner
from projections.projection import LoggedEvent, Projection, is_permanent
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.ledger.application import Ledger
from service.ledger.read_models import read_store
from service.privacy.erasure import Erasures
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.integration.test_erasure import ERASING, GRACE
from tests.integration.test_projection_isolation import BuggyRelease
from tests.integration.test_projection_step import every_row


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger, staff: Any, admin: Any) -> Iterator[ReadSide]:
    """Three accounts' events, every read model caught up by the ordinary runner."""
    for _ in range(3):
        ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    side = ReadSide(store, ledger)
    side.runner.catch_up()
    yield side
    side.stop()


def rebuilt(side: ReadSide, projections: Sequence[Projection], **options: Any) -> FoldingRunner:
    """The projections reset, and a folding runner (small batches: many of them) over them."""
    for projection in side.projections:
        if not is_permanent(projection):
            side.runner.reset(projection)
    return FoldingRunner(
        side.store, side.read_log, side.ledger.head_position, projections, **options
    )


class Probe:
    """A projection as it is, noting at each batch whether another connection could take
    the write lock of the read store meanwhile (SQLite)."""

    def __init__(self, inner: Any, path: str) -> None:
        self.inner, self.path = inner, path
        self.name, self.version, self.tables = inner.name, inner.version, inner.tables
        self.personal_data = getattr(inner, "personal_data", False)
        self.lock_free: list[bool] = []

    def create(self, sql: Sql) -> None:
        self.inner.create(sql)

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        other = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.lock_free.append(True)
        except sqlite3.OperationalError:
            self.lock_free.append(False)
        finally:
            other.close()
        self.inner.apply_batch(sql, batch)

    def forget(self) -> None:
        self.inner.forget()


def test_batches_fold_outside_the_write_lock_into_the_same_rows(read_side, store):
    if store.postgres is not None:
        pytest.skip("PostgreSQL's writers do not wait for each other's transactions")
    before = every_row(read_side)
    head = read_side.ledger.head_position()
    probes = [
        Probe(p, store.read_sqlite_path) for p in read_side.projections if not is_permanent(p)
    ]
    runner = rebuilt(read_side, probes, batch_size=5, catch_up_batch_size=5)
    assert runner.catch_up() == head * len(probes)
    assert all(probe.lock_free and all(probe.lock_free) for probe in probes)
    assert every_row(read_side) == before
    assert read_side.positions() == dict.fromkeys(read_side.names, head)
    # The ordinary runner folds inside its transaction: the lock is held.
    ordinary = Probe(read_side.projection("lookups"), store.read_sqlite_path)
    read_side.runner.reset(ordinary)
    ProjectionRunner(
        read_side.store, read_side.read_log, read_side.ledger.head_position, [ordinary]
    ).catch_up()
    assert ordinary.lock_free == [False]


class Overtaken:
    """The audit trail, caught up by another runner while this one folds its first batch."""

    def __init__(self, inner: AuditTrail, other: ProjectionRunner) -> None:
        self.inner, self.other = inner, other
        self.name, self.version, self.tables = inner.name, inner.version, inner.tables
        self.personal_data = True
        self.forgotten = 0

    def create(self, sql: Sql) -> None:
        self.inner.create(sql)

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        if self.other.catch_up() == 0 and not self.forgotten:
            pytest.fail("the other runner had nothing to apply")
        self.inner.apply_batch(sql, batch)

    def forget(self) -> None:
        self.forgotten += 1
        self.inner.forget()


def test_a_position_moved_before_the_lock_writes_nothing_and_each_event_stays_once(
    read_side, store
):
    if store.postgres is not None:
        pytest.skip("PostgreSQL: the ordinary step, which locks the position it claims")
    head = read_side.ledger.head_position()
    other = ProjectionRunner(
        read_store(store, sync_each_commit=False),
        read_side.read_log,
        read_side.ledger.head_position,
        [AuditTrail(lambda *_: None)],
    )
    audit = read_side.projection("audit_trail")
    assert isinstance(audit, AuditTrail)
    overtaken = Overtaken(audit, other)
    runner = rebuilt(read_side, [overtaken])
    runner.catch_up()
    assert overtaken.forgotten >= 1  # its fold was thrown away, not written
    with read_side.readers.transaction() as sql:
        rows = audit_rows(sql, AuditFilter(), 1000)
    assert sorted(row["position"] for row in rows) == list(range(1, head + 1))
    assert read_side.positions()["audit_trail"] == head
    other.store.close()


def test_a_projection_failing_on_an_event_stops_alone_as_with_the_ordinary_runner(read_side):
    head = read_side.ledger.head_position()
    audit = read_side.projection("audit_trail")
    assert isinstance(audit, AuditTrail)
    others = [p for p in read_side.projections if not is_permanent(p) and p is not audit]
    runner = rebuilt(read_side, [BuggyRelease(audit, fails_at=4), *others])
    runner.catch_up()
    positions = read_side.positions()
    assert positions["audit_trail"] == 3
    assert all(positions[p.name] == head for p in others)
    assert read_side.failures()["audit_trail"].position == 4


def test_an_erasure_in_a_batch_rebuilds_what_holds_personal_data_as_the_ordinary_runner(
    read_side, ledger, staff
):
    account_id = open_account(ledger, staff)
    ledger.add_contact(staff, account_id, GRACE, contact_id="grace")
    read_side.runner.catch_up()
    Erasures(ledger).erase(ERASING, account_id, SubjectKind.CONTACT, "grace")
    rebuildable = [p for p in read_side.projections if not is_permanent(p)]
    runner = FoldingRunner(
        read_side.store, read_side.read_log, read_side.ledger.head_position, rebuildable
    )
    runner.catch_up()  # over the erasure: the personal ones start again from 0
    head = read_side.ledger.head_position()
    assert all(read_side.positions()[p.name] == head for p in rebuildable)
    tables = {table for p in rebuildable for table in p.tables}
    after = {t: rows for t, rows in every_row(read_side).items() if t in tables}
    assert not any("grace@" in repr(rows) for rows in after.values())
    for projection in rebuildable:
        read_side.runner.reset(projection)
    read_side.runner.catch_up()
    assert {t: rows for t, rows in every_row(read_side).items() if t in tables} == after
