"""Which events are public is declared once per aggregate, on its ``Event`` (domain/base.py),
and the feed, webhooks, NATS and the event schemas all read that one marker."""

from __future__ import annotations

from domain.account import Account
from domain.base import LedgerAggregate
from domain.invoice import Invoice
from domain.invoice_series import InvoiceSeries
from domain.license import License
from domain.share_link import ShareLink
from domain.subscription import Subscription
from domain.support_case import SupportCase
from projections.cloudevents import is_public
from projections.event_schemas import public_event_classes
from service.access.tokens import ApiToken
from service.webhooks.endpoint import WebhookEndpoint

PUBLIC = (Account, Subscription, License, Invoice, SupportCase)
PRIVATE = (ShareLink, InvoiceSeries, ApiToken, WebhookEndpoint)


def events_of(aggregate: type[LedgerAggregate]) -> list[type[LedgerAggregate.Event]]:
    return [
        member
        for name, member in vars(aggregate).items()
        if isinstance(member, type)
        and issubclass(member, LedgerAggregate.Event)
        and name not in ("Event", "Created")
    ]


def test_the_marker_is_inherited_by_every_event_of_an_aggregate() -> None:
    for aggregate in PUBLIC:
        assert events_of(aggregate) and all(e.public for e in events_of(aggregate)), aggregate
    for aggregate in PRIVATE:
        assert events_of(aggregate) and not any(e.public for e in events_of(aggregate))


def test_the_feed_and_the_schemas_read_the_marker() -> None:
    listed = set(public_event_classes())
    assert listed == {e for aggregate in PUBLIC for e in events_of(aggregate)}
    assert all(is_public(object.__new__(e)) for e in listed)
    assert not any(is_public(object.__new__(e)) for a in PRIVATE for e in events_of(a))
    assert not is_public(object())
