"""Loading the Ledger's aggregates by id, and the scans that find them by their events."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain import catalog
from domain.account import Account
from domain.base import LedgerAggregate
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.license import License, license_id
from domain.subscription import Subscription
from domain.support_case import SupportCase
from service.ledger.core import LedgerCore
from service.ledger.moved_topics import stored_topics

T = TypeVar("T", bound=LedgerAggregate)


class Loading(LedgerCore):
    """The aggregates every use case and read starts from."""

    def _load(self, cls: type[T], aggregate_id: UUID, what: str, version: int | None = None) -> T:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
            # The version asked for is usually the current one (a command's answer): then
            # the cached copy serves, rather than a fold from the store up to it.
            if version is not None and aggregate.version != version:
                aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no {what} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {what} {aggregate_id}")
        return aggregate

    def account(self, account_id: UUID, version: int | None = None) -> Account:
        return self._load(Account, account_id, "account", version)

    def subscription(self, subscription_id: UUID, version: int | None = None) -> Subscription:
        return self._load(Subscription, subscription_id, "subscription", version)

    def invoice(self, invoice_id: UUID, version: int | None = None) -> Invoice:
        return self._load(Invoice, invoice_id, "invoice", version)

    def license(self, account_id: UUID, product_code: str) -> License:
        return self._load(License, license_id(account_id, product_code), "license")

    def support_case(self, case_id: UUID, version: int | None = None) -> SupportCase:
        return self._load(SupportCase, case_id, "support case", version)

    def events_of_types(
        self, *event_classes: type[LedgerAggregate.Event]
    ) -> Iterator[LedgerAggregate.Event]:
        """Every event of these exact types, in log order: a scan filtered by topic, linear
        in the book (the billing run's source, and the read models' check in tests)."""
        topics = [topic for event_class in event_classes for topic in stored_topics(event_class)]
        start = 1
        while batch := self.recorder.select_notifications(start, 500, topics=topics):
            for notification in batch:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, LedgerAggregate.Event)
                yield event
            start = batch[-1].id + 1

    def subscriptions_of(self, account_id: UUID) -> list[Subscription]:
        return [
            self.subscription(event.originator_id)
            for event in self.events_of_types(Subscription.SubscriptionStarted)
            if getattr(event, "account_id", None) == account_id
        ]

    def invoices_of(self, account_id: UUID) -> list[Invoice]:
        return [
            self.invoice(event.originator_id)
            for event in self.events_of_types(Invoice.InvoiceIssued)
            if getattr(event, "account_id", None) == account_id
        ]

    def licenses_of(self, account_id: UUID) -> list[License]:
        """The account's seat pools: at most one per per-seat product, found by their ids."""
        found = []
        for product in catalog.PRODUCTS.values():
            if product.per_seat:
                with contextlib.suppress(NotFound):
                    found.append(self.license(account_id, product.code))
        return found

    def head_position(self) -> int:
        """The position of the newest event in the global log (0 when empty)."""
        return self.recorder.max_notification_id() or 0
