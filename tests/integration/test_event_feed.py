"""The event feed read by account, through the audit trail: it never passes what the
projection has indexed, so a lagging (or rebuilding) index delays events, never loses them."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from adapters.store import StoreSettings
from projections.audit_trail import account_of
from projections.cloudevents import is_public
from service.config.public_url import DEFAULT_PUBLIC_URL
from service.ledger.application import Ledger
from service.reads.event_feed import AUDIT_TRAIL, EventFeed, FeedQuery
from service.reads.read_side import ReadSide
from tests.e2e.conftest import STAFF, Seed, seed_ledger


@pytest.fixture
def seeded(store: StoreSettings, ledger: Ledger) -> Iterator[tuple[Seed, ReadSide, EventFeed]]:
    seed = seed_ledger(ledger)
    read_side = ReadSide(store, ledger)  # its runner is stepped by hand: the index lags
    try:
        yield seed, read_side, EventFeed(ledger, read_side, DEFAULT_PUBLIC_URL)
    finally:
        read_side.stop()


def account_ids(ledger: Ledger, account: UUID) -> list[str]:
    """The ids of the account's public events, in log order, from the log itself."""
    found = []
    for notification in ledger.recorder.select_notifications(1, 1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        if is_public(event) and account_of(ledger.repository.get(event.originator_id)) == account:
            found.append(f"{event.originator_id}/{event.originator_version}")
    return found


def read_all(feed: EventFeed, query: FeedQuery, after: int = 0) -> tuple[list[str], int]:
    ids: list[str] = []
    while True:
        page = feed.page(query, after, 3)
        assert page.next_after >= after
        ids += [e["id"] for e in page.events]
        after = page.next_after
        if page.caught_up:
            return ids, after


def test_an_account_feed_stops_where_the_index_stops_and_goes_on_from_there(
    seeded: tuple[Seed, ReadSide, EventFeed], ledger: Ledger
) -> None:
    seed, read_side, feed = seeded
    acme = FeedQuery(account_id=seed.acme.account_id)
    read_side.runner.catch_up()
    first, cursor = read_all(feed, acme)
    assert cursor == feed.indexed() == ledger.head_position()

    for name in ("one", "two", "three"):
        ledger.set_payment_method(STAFF, seed.acme.account_id, f"pm_{name}")
    assert read_all(feed, acme, cursor) == ([], cursor)  # written, not yet indexed

    read_side.runner.step()
    rest, end = read_all(feed, acme, cursor)
    assert end == ledger.head_position()
    assert first + rest == account_ids(ledger, seed.acme.account_id)
    assert len(rest) == 3


def test_a_rebuilding_index_pauses_an_account_feed_without_moving_its_cursor_back(
    seeded: tuple[Seed, ReadSide, EventFeed], ledger: Ledger
) -> None:
    seed, read_side, feed = seeded
    acme = FeedQuery(account_id=seed.acme.account_id)
    read_side.runner.catch_up()
    before, cursor = read_all(feed, acme)

    read_side.runner.reset(read_side.projection(AUDIT_TRAIL))
    assert feed.indexed() == 0
    assert read_all(feed, acme, cursor) == ([], cursor)
    ledger.set_payment_method(STAFF, seed.acme.account_id, "pm_after_rebuild")
    read_side.runner.catch_up()
    after, _ = read_all(feed, acme, cursor)
    assert before + after == account_ids(ledger, seed.acme.account_id)


def test_the_feed_of_the_whole_log_does_not_wait_for_the_index(
    seeded: tuple[Seed, ReadSide, EventFeed], ledger: Ledger
) -> None:
    _, _, feed = seeded
    assert feed.indexed() == 0
    page = feed.page(FeedQuery(), 0, 1000)
    assert page.caught_up and page.next_after == ledger.head_position()
    assert len(page.events) == sum(
        1
        for n in ledger.recorder.select_notifications(1, 1_000_000)
        if is_public(ledger.mapper.to_domain_event(n))
    )


def test_a_type_filter_scans_a_bounded_stretch_of_the_log_per_page(
    seeded: tuple[Seed, ReadSide, EventFeed], ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.reads.event_feed.SCAN_BATCH", 4)
    monkeypatch.setattr("service.reads.event_feed.SCAN_BUDGET", 8)
    _, _, feed = seeded
    query = FeedQuery(types=("subledger.support_case",))  # the seed opened no support case
    page = feed.page(query, 0, 10)
    assert page.events == [] and not page.caught_up and page.next_after == 8
    ids, end = read_all(feed, query, page.next_after)
    assert (ids, end) == ([], ledger.head_position())
