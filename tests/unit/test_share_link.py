"""The ShareLink: expiring, revocable, and every opening recorded."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidValue, NotFound
from domain.share_link import ShareLink, share_link_id
from tests.builders import cause

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def link(days=7):
    return ShareLink.create("ab" * 32, uuid4(), uuid4(), days, cause(T0))


def test_a_link_is_keyed_by_its_hash_and_expires_after_the_days_asked():
    created = link(days=7)
    assert created.id == share_link_id("ab" * 32)
    assert created.expires_at == T0 + timedelta(days=7)
    assert created.is_live(T0 + timedelta(days=7) - timedelta(microseconds=1))
    assert not created.is_live(T0 + timedelta(days=7))
    assert created.status(T0 + timedelta(days=7)) == "expired"


@pytest.mark.parametrize("days", [0, -1, 31])
def test_a_link_lasts_one_to_thirty_days(days):
    with pytest.raises(InvalidValue):
        link(days)


def test_an_opening_is_recorded_with_time_and_address_while_live():
    opened = link()
    assert opened.record_access("203.0.113.9", "summary", cause(T0 + timedelta(hours=1)))
    assert opened.record_access("203.0.113.9", "pdf", cause(T0 + timedelta(hours=2)), 4)
    assert opened.accesses == [
        (T0 + timedelta(hours=1), "203.0.113.9", "summary", 1),
        (T0 + timedelta(hours=2), "203.0.113.9", "pdf", 5),
    ]
    assert opened.openings == 6
    with pytest.raises(InvalidValue):
        opened.record_access("203.0.113.9", "everything", cause(T0))
    with pytest.raises(NotFound):
        opened.record_access("203.0.113.9", "pdf", cause(T0 + timedelta(days=8)))


def test_a_revoked_link_opens_no_more_and_is_revoked_once():
    revoked = link()
    revoked.revoke(cause(T0 + timedelta(hours=1)))
    assert revoked.status(T0) == "revoked"
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    with pytest.raises(NotFound):
        revoked.record_access("203.0.113.9", "summary", cause(T0 + timedelta(hours=2)))
    with pytest.raises(NotFound):
        revoked.revoke(cause(T0 + timedelta(hours=3)))


def test_a_link_records_at_most_one_opening_an_hour():
    opened = link()
    first = T0 + timedelta(minutes=5)
    assert opened.record_access("203.0.113.9", "summary", cause(first))
    recorded(opened)
    for minutes in (1, 30, 59):
        at = first + timedelta(minutes=minutes)
        assert not opened.record_access("198.51.100.1", "pdf", cause(at), 3)
    assert recorded(opened) == []  # nothing written within the hour
    assert opened.record_access("198.51.100.1", "pdf", cause(first + timedelta(hours=1)), 3)
    (event,) = recorded(opened)
    assert (event.client_address, event.document, event.count) == ("198.51.100.1", "pdf", 4)
    with pytest.raises(InvalidValue):
        opened.record_access("198.51.100.1", "pdf", cause(first + timedelta(hours=3)), -1)


def recorded(aggregate):
    return list(aggregate.collect_events())
