"""A command confirmed with its preview's quote issues exactly the invoices the preview
showed, or refuses and writes nothing: the day moving between the two (a prorated price
changes, the contract's version does not) is caught (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.clock import ControllableClock
from domain.catalog import Edition
from domain.invoice import Invoice
from service.ledger import quotes
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import PriceChanged
from tests.builders import open_account

ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff")


def contract(ledger: Ledger) -> UUID:
    account_id = open_account(ledger, STAFF, Edition.ESSENTIALS)
    return ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 5}).aggregate_id


def issued_quote(invoice: Invoice) -> str:
    """The quote of an invoice as issued (read back from the store)."""
    return quotes.quote_of([invoice])


@settings(max_examples=12)
@given(quantity=st.integers(1, 500), days=st.sampled_from([0, 0, 1, 3, 40]))
def test_a_confirmation_issues_the_previewed_invoice_or_nothing(
    ledger: Ledger, clock: ControllableClock, quantity: int, days: int
) -> None:
    sub_id = contract(ledger)
    preview = ledger.add_licenses(replace(ADMIN, preview=True), sub_id, "sales-cloud", quantity)
    quote = quotes.quote(preview.pending)
    clock.advance(timedelta(days=days))
    bound = replace(ADMIN, expected_version=preview.version, expected_quote=quote)
    head = ledger.head_position()
    if days:  # fewer days left in the period: another prorated price
        with pytest.raises(PriceChanged):
            ledger.add_licenses(bound, sub_id, "sales-cloud", quantity)
        assert ledger.head_position() == head, "a refused confirmation wrote"
        assert ledger.subscription(sub_id).lines["sales-cloud"].quantity == 5
        return
    receipt = ledger.add_licenses(bound, sub_id, "sales-cloud", quantity)
    (invoice,) = [
        i
        for i in ledger.invoices_of(ledger.subscription(sub_id).account_id)
        if i.id in receipt.created
    ]
    assert issued_quote(invoice) == quote
    assert ledger.subscription(sub_id).lines["sales-cloud"].quantity == 5 + quantity


def test_a_quote_binds_the_quantity_too(ledger: Ledger) -> None:
    sub_id = contract(ledger)
    preview = ledger.add_licenses(replace(ADMIN, preview=True), sub_id, "sales-cloud", 2)
    bound = replace(ADMIN, expected_quote=quotes.quote(preview.pending))
    head = ledger.head_position()
    with pytest.raises(PriceChanged):
        ledger.add_licenses(bound, sub_id, "sales-cloud", 3)
    assert ledger.head_position() == head
