"""The ShareLink: expiring, revocable, and every opening recorded."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import AlreadyInThatState, InvalidValue, NotFound
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


def test_every_opening_is_recorded_with_time_and_address_while_live():
    opened = link()
    opened.record_access("203.0.113.9", "summary", cause(T0 + timedelta(hours=1)))
    opened.record_access("203.0.113.9", "pdf", cause(T0 + timedelta(hours=2)))
    assert opened.accesses == [
        (T0 + timedelta(hours=1), "203.0.113.9", "summary"),
        (T0 + timedelta(hours=2), "203.0.113.9", "pdf"),
    ]
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
    with pytest.raises(AlreadyInThatState):
        revoked.revoke(cause(T0 + timedelta(hours=3)))
