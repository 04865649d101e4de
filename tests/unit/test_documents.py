"""The read models' documents are, field for field, the HTTP API's response models: each
model validates the document and gives it back unchanged (no field lost, added or
reformatted), so the API answers a command and a read with the same JSON."""

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.payments import FakePaymentProvider
from domain.account import Account
from domain.invoice import Invoice
from domain.license import License
from domain.money import Money
from domain.subscription import Subscription
from domain.support_case import SupportCase
from projections.documents import (
    account_document,
    invoice_document,
    license_document,
    minor_units,
    money,
    money_of_units,
    subscription_document,
    support_case_document,
)
from service.demo.history import load_demo
from service.http.schemas.accounts import AccountOut
from service.http.schemas.invoices import InvoiceOut
from service.http.schemas.subscriptions import LicenseOut, SubscriptionOut
from service.http.schemas.support_cases import SupportCaseOut
from service.ledger.application import Ledger

# Each aggregate type: the HTTP model that answers with it, and the read model's document.
SHAPES: dict[type, tuple[Any, Any]] = {
    Account: (AccountOut, account_document),
    Subscription: (SubscriptionOut, subscription_document),
    License: (LicenseOut, license_document),
    Invoice: (InvoiceOut, invoice_document),
    SupportCase: (SupportCaseOut, support_case_document),
}


def every_aggregate(ledger: Ledger) -> Iterator[Any]:
    """Every aggregate in the store, as it is now, in the order they were created."""
    seen: set[Any] = set()
    start = 1
    while batch := ledger.recorder.select_notifications(start, 500):
        for notification in batch:
            if notification.originator_id not in seen:
                seen.add(notification.originator_id)
                yield ledger.repository.get(notification.originator_id)
        start = batch[-1].id + 1


def http_document(aggregate: Any) -> dict[str, Any]:
    """What the HTTP API answers for an aggregate, as JSON (without an invoice's legal
    mentions, which GET /v1/invoices/{id} adds from the legal document, not the read model)."""
    model, document = SHAPES[type(aggregate)]
    validated = model.model_validate(document(aggregate))
    return dict(validated.model_dump(mode="json", exclude={"legal"}))


def test_every_aggregate_of_the_demo_has_the_document_its_http_model_gives():
    ledger, _ = load_demo(
        lambda clock: Ledger(
            {"PERSISTENCE_MODULE": "eventsourcing.popo"},
            clock,
            payment_provider=FakePaymentProvider(),
        )
    )
    checked: dict[str, int] = {}
    for aggregate in every_aggregate(ledger):
        if type(aggregate) not in SHAPES:
            continue
        _, document = SHAPES[type(aggregate)]
        assert document(aggregate) == http_document(aggregate)
        checked[type(aggregate).__name__] = checked.get(type(aggregate).__name__, 0) + 1
    assert set(checked) == {"Account", "Subscription", "License", "Invoice", "SupportCase"}


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [("1500.00", "USD", 150000), ("0", "EUR", 0), ("1500", "JPY", 1500), ("1.234", "KWD", 1234)],
)
def test_minor_units_are_exact_and_turn_back_into_the_same_amount(amount, currency, units):
    value = Money.of(amount, currency)
    assert minor_units(value) == units
    assert money_of_units(units, currency) == money(value)
