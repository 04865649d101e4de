"""The projection runner on a real store: exactly once, restartable, rebuildable."""

import threading

import pytest

from adapters.store import StoreSettings
from projections.audit_trail import AuditFilter, audit_rows, version_as_of
from projections.runner import ProjectionRunner
from service.audit.verification import ChainVerifier
from service.reads.read_side import ProjectionsBehind, ReadSide
from tests.builders import open_account


@pytest.fixture
def read_side(store: StoreSettings, ledger):
    side = ReadSide(store, ledger)
    side.runner.prepare()
    yield side
    side.stop()


def test_the_audit_trail_has_one_row_per_event_in_log_order(read_side, ledger, staff, admin):
    account_id = open_account(ledger, staff)
    ledger.start_subscription(admin, account_id, {"sales-cloud": 2})

    applied = read_side.runner.catch_up()

    assert applied == ledger.head_position() * len(read_side.projections)
    with read_side.readers.transaction() as sql:
        rows = audit_rows(sql, AuditFilter(), 1000)
    assert [r["position"] for r in rows] == list(range(1, ledger.head_position() + 1))
    assert rows[0]["event_type"] == "Account.AccountOpened"
    assert rows[0]["actor"] == "staff-1"
    assert {r["account_id"] for r in rows} == {str(account_id)}


def test_catching_up_twice_applies_each_event_once(read_side, ledger, staff):
    every = len(read_side.projections)  # one event, applied once to each projection
    open_account(ledger, staff)
    assert read_side.runner.catch_up() == every
    assert read_side.runner.catch_up() == 0
    open_account(ledger, staff)
    assert read_side.runner.catch_up() == every
    assert read_side.lag() == dict.fromkeys(read_side.names, 0)


def test_a_reset_projection_rebuilds_to_the_same_rows(read_side, ledger, staff, admin):
    account_id = open_account(ledger, staff)
    ledger.start_subscription(admin, account_id, {"sales-cloud": 2})
    read_side.runner.catch_up()
    with read_side.readers.transaction() as sql:
        before = audit_rows(sql, AuditFilter(), 1000)

    read_side.runner.reset(read_side.projection("audit_trail"))
    assert read_side.lag()["audit_trail"] == ledger.head_position()
    read_side.runner.catch_up()

    with read_side.readers.transaction() as sql:
        assert audit_rows(sql, AuditFilter(), 1000) == before


def test_a_runner_behind_reads_large_batches_and_one_keeping_up_small_ones(
    read_side, ledger, staff, admin
):
    for _ in range(4):
        account_id = open_account(ledger, staff)
        ledger.start_subscription(admin, account_id, {"sales-cloud": 2})
    assert ledger.head_position() > 3 + 10
    asked: list[int] = []

    def read_log(after: int, limit: int):
        asked.append(limit)
        return read_side.read_log(after, limit)

    runner = ProjectionRunner(
        read_side.store,
        read_log,
        ledger.head_position,
        read_side.projections,
        batch_size=3,
        catch_up_batch_size=10,
    )
    runner.catch_up()
    # The first read fills its batch: behind, so the next ones are large, until one does
    # not fill even a small batch (the last, which finds nothing).
    assert asked[:2] == [3, 10] and set(asked) == {3, 10}

    asked.clear()
    open_account(ledger, staff)
    runner.catch_up()
    assert asked == [3, 1]  # keeping up: the new event, then whether there is one more
    with read_side.readers.transaction() as sql:
        rows = audit_rows(sql, AuditFilter(), 1000)
    assert [r["position"] for r in rows] == list(range(1, ledger.head_position() + 1))


def test_the_hash_chain_reads_the_log_as_stored_in_batches_of_its_own(
    read_side, ledger, staff, admin
):
    for _ in range(4):
        account_id = open_account(ledger, staff)
        ledger.start_subscription(admin, account_id, {"sales-cloud": 2})
    head = ledger.head_position()
    assert head > 3 + 20
    decoded: list[int] = []
    stored: list[int] = []

    def read_log(after: int, limit: int):
        decoded.append(limit)
        return read_side.read_log(after, limit)

    def read_stored(after: int, limit: int):
        stored.append(limit)
        return read_side.read_stored(after, limit)

    runner = ProjectionRunner(
        read_side.store,
        read_log,
        ledger.head_position,
        read_side.projections,
        batch_size=3,
        catch_up_batch_size=5,
        read_stored=read_stored,
        stored_batch_size=20,
    )
    runner.catch_up()
    # Behind, each kind of read goes on in its own large batches: the chain's are larger.
    assert stored[:2] == [3, 20] and set(stored) == {3, 20}
    assert decoded[:2] == [3, 5] and set(decoded) == {3, 5}
    assert stored.count(20) < decoded.count(5)
    assert read_side.positions() == dict.fromkeys(read_side.names, head)
    found = ChainVerifier(ledger.recorder, read_side.readers).verify()
    assert found.ok and found.checked == head, found.summary()

    stored.clear()
    decoded.clear()
    open_account(ledger, staff)
    runner.catch_up()
    # Keeping up: the new event, then whether there is one more: one read for both (the
    # chain is not ahead of the others), the log as stored, one event at most.
    assert stored == [3, 1] and decoded == [3]
    assert read_side.positions() == dict.fromkeys(read_side.names, head + 1)


def test_a_stopped_runner_finishes_its_batch_and_stops_there(read_side, ledger, staff):
    for _ in range(3):
        open_account(ledger, staff)
    runner = ProjectionRunner(
        read_side.store,
        read_side.read_log,
        ledger.head_position,
        read_side.projections,
        batch_size=1,
        catch_up_batch_size=1,
    )
    stop = threading.Event()
    applied = runner.catch_up(progress=lambda _: stop.set(), stop=stop)
    assert applied == len(read_side.projections)  # the first event, to each projection
    assert set(read_side.positions().values()) == {1}


def test_reads_wait_for_their_position_and_give_up_past_the_bound(read_side, ledger, staff):
    open_account(ledger, staff)
    with pytest.raises(ProjectionsBehind):
        read_side.wait_for(ledger.head_position(), timeout=0.1)
    read_side.runner.catch_up()
    read_side.wait_for(ledger.head_position(), timeout=0.1)


def test_the_runner_thread_keeps_up_with_new_events(read_side, ledger, staff):
    read_side.start()
    open_account(ledger, staff)
    read_side.wait_for(ledger.head_position(), timeout=10)
    assert read_side.running_here


def test_recorded_time_finds_the_version_as_of_an_instant(read_side, ledger, staff, admin, clock):
    from datetime import timedelta

    account_id = open_account(ledger, staff)
    first = clock.now()
    clock.advance(timedelta(days=1))
    ledger.set_payment_method(admin, account_id, "pm_card_visa")
    read_side.runner.catch_up()

    with read_side.readers.transaction() as sql:
        assert version_as_of(sql, account_id, first) == 1
        assert version_as_of(sql, account_id, clock.now()) == 2
        assert version_as_of(sql, account_id, first - timedelta(seconds=1)) is None
