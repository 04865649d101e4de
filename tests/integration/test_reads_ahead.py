"""A command reads the aggregates the last one on its subject loaded in one query, and the
cache keeps what a command saved (service/ledger/core.py, ``LedgerRepository``): never
anything staler than reading each aggregate when it is loaded."""

from concurrent.futures import ThreadPoolExecutor

import pytest

import service.ledger.core as core
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.invoice_series import InvoiceSeries
from domain.license import license_id
from service.demo.history import load_demo
from service.ledger.application import Ledger
from tests.builders import open_account


@pytest.fixture
def contract(ledger, staff, admin):
    account_id = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id
    return account_id, sub_id


def _count_reads(ledger, monkeypatch):
    """The ids read one at a time, and the number of reads of several at once."""
    recorder = ledger.repository.event_store.recorder
    single, batches = [], []
    select_events = recorder.select_events

    def counted(originator_id, **kwargs):
        single.append(originator_id)
        return select_events(originator_id, **kwargs)

    select_events_of = core.select_events_of

    def counted_of(rec, ranges):
        batches.append([r[0] for r in ranges])
        return select_events_of(rec, ranges)

    monkeypatch.setattr(recorder, "select_events", counted)
    monkeypatch.setattr(core, "select_events_of", counted_of)
    return single, batches


def test_a_command_reads_what_the_last_one_on_its_subject_loaded_in_one_query(
    ledger, contract, admin, monkeypatch
):
    account_id, sub_id = contract
    ledger.add_licenses(admin, sub_id, "sales-cloud", 1)  # learns what it loads
    single, batches = _count_reads(ledger, monkeypatch)

    ledger.add_licenses(admin, sub_id, "sales-cloud", 1)

    assert batches == [[sub_id, account_id, license_id(account_id, "sales-cloud")]]
    # The invoice series alone is read when its number is taken (under the numbering lock).
    assert len(single) == 1
    assert isinstance(ledger.repository.get(single[0]), InvoiceSeries)


def test_what_another_process_wrote_since_is_read_ahead_and_nothing_is_retried(
    ledger, make_ledger, contract, admin, monkeypatch
):
    account_id, sub_id = contract
    other = make_ledger()
    ledger.add_licenses(admin, sub_id, "sales-cloud", 1)
    other.add_licenses(admin, sub_id, "sales-cloud", 2)  # the contract and its seats move on
    saves = []
    save = ledger.save
    monkeypatch.setattr(ledger, "save", lambda *a, **k: saves.append(1) or save(*a, **k))

    receipt = ledger.add_licenses(admin, sub_id, "sales-cloud", 3)

    assert len(saves) == 1  # not refused as stale: what was read ahead was current
    assert receipt.version == other.subscription(sub_id).version
    assert other.subscription(sub_id).lines["sales-cloud"].quantity == 5 + 1 + 2 + 3
    assert other.license(account_id, "sales-cloud").held == 5 + 1 + 2 + 3


def test_the_cache_keeps_what_a_command_saved_and_never_changes_it_in_place(
    ledger, make_ledger, contract, admin
):
    _, sub_id = contract
    receipt = ledger.add_licenses(admin, sub_id, "sales-cloud", 1)
    cached = ledger.repository.cache.get(sub_id)
    assert cached.version == receipt.version
    saved = receipt.saved_as(type(cached), sub_id)
    assert cached is not saved  # the answer's copy stays the command's own

    make_ledger().add_licenses(admin, sub_id, "sales-cloud", 2)
    loaded = ledger.subscription(sub_id)

    assert loaded.version == receipt.version + 1
    assert loaded.lines["sales-cloud"].quantity == 5 + 1 + 2
    assert cached.version == receipt.version  # replaced in the cache, not fast-forwarded
    assert cached.lines["sales-cloud"].quantity == 5 + 1
    assert ledger.repository.cache.get(sub_id).version == loaded.version


def test_commands_numbering_from_one_series_in_one_process_are_never_refused_as_stale(
    ledger, staff, admin, monkeypatch
):
    # Contracts of their own, one series: were the series read ahead of the numbering
    # lock, a command waiting for it would number from a stale series and be retried.
    subs = []
    for _ in range(4):
        account_id = open_account(ledger, staff)
        subs.append(ledger.start_subscription(admin, account_id, {"sales-cloud": 5}))
    for sub in subs:
        ledger.add_licenses(admin, sub.aggregate_id, "sales-cloud", 1)  # read sets learned
    saves = []
    save = ledger.save
    monkeypatch.setattr(ledger, "save", lambda *a, **k: saves.append(1) or save(*a, **k))

    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: ledger.add_licenses(admin, subs[i % 4].aggregate_id, "sales-cloud", 1),
                range(40),
            )
        )

    assert len(saves) == 40  # one save per command: none retried


def test_every_aggregate_the_cache_keeps_after_the_demo_is_what_its_events_replay(tmp_path):
    """What a command saved goes into the cache as it is in memory: it must be what
    folding its stored events gives, for every aggregate the demo's commands touched."""
    ledger, _ = load_demo(
        lambda clock: Ledger(
            env=StoreSettings(sqlite_path=str(tmp_path / "ledger.db")).eventsourcing_env(),
            clock=clock,
            payment_provider=FakePaymentProvider(),
        )
    )
    try:
        cache = ledger.repository.cache
        ids = list(cache.cache)
        assert len(ids) > 20
        for aggregate_id in ids:
            cached = cache.get(aggregate_id)
            replayed = ledger.repository.get(aggregate_id, version=cached.version)
            assert type(replayed) is type(cached)
            assert vars(replayed) == vars(cached), aggregate_id
    finally:
        ledger.close()
