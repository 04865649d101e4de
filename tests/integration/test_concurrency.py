"""Concurrent edits of one aggregate never lose an update."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.persistence import IntegrityError

from service.ledger.errors import ConcurrencyConflict
from tests.builders import open_account


@pytest.fixture
def contract(ledger, staff, admin):
    account_id = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id
    return account_id, sub_id


def test_a_stale_copy_cannot_be_saved_and_writes_nothing(ledger, make_ledger, contract, admin):
    _, sub_id = contract
    other = make_ledger()
    first, stale = ledger.subscription(sub_id), other.subscription(sub_id)
    cause = admin.cause(ledger.clock.now())
    first.add_licenses("sales-cloud", 2, cause.today, cause)
    stale.add_licenses("sales-cloud", 3, cause.today, cause)
    ledger.save(first)
    head = ledger.head_position()

    with pytest.raises(IntegrityError):
        other.save(stale)

    assert ledger.head_position() == head
    assert other.subscription(sub_id).lines["sales-cloud"].quantity == 7


def _interleave(ledger, aggregate_id, concurrent_write, times=1):
    """Make ``ledger`` read stale state: right after it loads ``aggregate_id``, someone else
    writes to it (``times`` times)."""
    original_get = ledger.repository.get
    remaining = [times]

    def get(requested_id, *args, **kwargs):
        aggregate = original_get(requested_id, *args, **kwargs)
        if requested_id == aggregate_id and remaining[0] > 0:
            remaining[0] -= 1
            concurrent_write()
        return aggregate

    ledger.repository.get = get


def test_a_stale_use_case_is_retried_on_fresh_state_and_loses_nothing(
    ledger, make_ledger, contract, admin
):
    account_id, sub_id = contract
    other = make_ledger()
    _interleave(ledger, sub_id, lambda: other.add_licenses(admin, sub_id, "sales-cloud", 2))

    ledger.add_licenses(admin, sub_id, "sales-cloud", 3)

    assert other.subscription(sub_id).lines["sales-cloud"].quantity == 10
    assert other.license(account_id, "sales-cloud").held == 10


def test_a_use_case_stale_twice_gives_up_with_a_conflict_and_writes_nothing_itself(
    ledger, make_ledger, contract, admin
):
    account_id, sub_id = contract
    other = make_ledger()
    _interleave(ledger, sub_id, lambda: other.add_licenses(admin, sub_id, "sales-cloud", 1), 2)

    with pytest.raises(ConcurrencyConflict):
        ledger.add_licenses(admin, sub_id, "sales-cloud", 3)

    assert other.subscription(sub_id).lines["sales-cloud"].quantity == 7  # only the two others
    assert other.license(account_id, "sales-cloud").held == 7


def test_concurrent_writers_lose_no_acknowledged_update(make_ledger, contract, admin):
    account_id, sub_id = contract
    writers = [make_ledger() for _ in range(4)]
    acknowledged = []
    lock = threading.Lock()

    def add_one(n):
        try:
            writers[n % 4].add_licenses(admin, sub_id, "sales-cloud", 1)
        except ConcurrencyConflict:
            return
        with lock:
            acknowledged.append(n)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(add_one, range(24)))

    reader = make_ledger()
    assert acknowledged, "no writer succeeded"
    assert reader.subscription(sub_id).lines["sales-cloud"].quantity == 5 + len(acknowledged)
    assert reader.license(account_id, "sales-cloud").held == 5 + len(acknowledged)


def test_commands_on_one_contract_in_one_process_wait_for_each_other_and_all_succeed(
    ledger, contract, admin
):
    # Request threads of one process on one contract: queued, not refused as stale.
    account_id, sub_id = contract

    def add_one(_):
        return ledger.add_licenses(admin, sub_id, "sales-cloud", 1)

    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(add_one, range(40)))  # a ConcurrencyConflict would raise

    versions = sorted(r.version for r in receipts)
    assert versions == list(range(versions[0], versions[0] + 40))  # one after another
    assert ledger.subscription(sub_id).lines["sales-cloud"].quantity == 45
    assert ledger.license(account_id, "sales-cloud").held == 45
