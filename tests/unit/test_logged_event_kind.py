"""A logged event's class is known from its topic, without decoding it."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from domain.account import Account
from projections.projection import LoggedEvent


class Undecodable(Exception):
    pass


def refuse(notification: Notification) -> Account.Event:
    raise Undecodable(notification.topic)


def logged(topic: str) -> LoggedEvent:
    notification = Notification(
        originator_id=uuid4(), originator_version=1, topic=topic, state=b"{", id=7
    )
    return LoggedEvent(7, notification, refuse)


def test_the_kind_of_a_known_topic_is_its_class_and_nothing_is_decoded() -> None:
    event = logged(get_topic(Account.PaymentMethodSet))

    assert event.kind is Account.PaymentMethodSet  # refuse() was never called


def test_a_topic_no_class_answers_to_is_decoded_and_decoding_says_why() -> None:
    event = logged("domain.account:NoSuchEvent")

    with pytest.raises(Undecodable, match="NoSuchEvent"):
        event.kind  # noqa: B018 (the property is what is tested)
