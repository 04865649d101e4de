"""An invoice records its buyer and seller as they were on the day of issue (ADR 0027), the
buyer sealed under a retention key of its account and financial year; an invoice stored
before (InvoiceIssued v1) still loads, and its documents find the buyer in the account's
history and the seller in the configuration. On both stores."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from domain.account import BillingDetails
from domain.invoice import Invoice, InvoiceLine
from domain.money import Money
from domain.period import DateRange
from service.documents.invoices import buyer_at_issue, legal_document
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from tests.builders import billing, cause, open_account
from tests.einvoices import SELLER

MOVED = BillingDetails(
    "Acme Holdings", "9 Elm Rd", "Shelbyville", "54321", "US", "billing@acme.example"
)


def _issued(ledger: Ledger, staff: CommandContext) -> tuple[UUID, Invoice]:
    account_id = open_account(ledger, staff)
    ledger.start_subscription(CommandContext("ada", "admin"), account_id, {"sales-cloud": 1})
    (invoice,) = ledger.invoices_of(account_id)
    return account_id, invoice


def test_an_invoice_keeps_the_buyer_and_seller_of_its_day_sealed_under_its_year(
    ledger: Ledger, staff: CommandContext, make_ledger: Callable[[], Ledger]
):
    account_id, invoice = _issued(ledger, staff)
    year = ledger.clock.now().year  # the default financial year ends on 31 December

    (stored,) = ledger.recorder.select_events(invoice.id, lte=1)
    state = json.loads(stored.state)
    assert state["class_version"] == 2 and state["financial_year"] == year
    assert b"Acme Corp" not in stored.state and b"ap@acme.example" not in stored.state
    sealed_name = state["buyer"]["_data_"]["legal_name"]
    assert sealed_name["_type_"] == "sealed"
    key_id, _ = ledger.data_keys.key_for(f"buyer:{account_id}:{year}")
    assert sealed_name["_data_"]["k"] == key_id
    assert state["buyer"]["_data_"]["country"] == "US"  # not personal: stays readable

    ledger.change_billing_details(staff, account_id, MOVED)
    reader = make_ledger()
    reader.seller = dataclasses.replace(SELLER, legal_name="Another Seller SAS")
    issued = reader.invoice(invoice.id)
    assert issued.financial_year == year and "buyer" not in vars(issued)
    assert buyer_at_issue(reader, issued) == billing()
    document = legal_document(reader, issued)
    assert document.buyer.legal_name == "Acme Corp"
    assert document.buyer.address.line1 == "1 Main St"
    assert document.seller == ledger.seller  # as on the day of issue, not as configured now


def test_a_v1_invoice_without_its_parties_still_loads_and_renders(
    ledger: Ledger, staff: CommandContext, make_ledger: Callable[[], Ledger]
):
    account_id = open_account(ledger, staff)
    now = ledger.clock.now()
    line = InvoiceLine.charge(
        "Seats",
        "sales-cloud",
        1,
        Money.of("25.00", "USD"),
        DateRange(date(2026, 1, 5), date(2026, 2, 5)),
        Fraction(1),
        Decimal(0),
    )
    old = Invoice.issue(
        uuid4(),
        account_id,
        None,
        "INV-202601-0a1b2c3d",
        "USD",
        [line],
        now.date() + timedelta(days=30),
        cause(at=now),
    )
    (event,) = old.collect_events()
    v2 = ledger.mapper.to_stored_event(event)
    state = ledger.mapper.transcoder.decode(v2.state)
    assert state["class_version"] == 2 and state["buyer"] is None
    for field in ("class_version", "buyer", "seller", "financial_year"):
        del state[field]
    v1 = StoredEvent(
        v2.originator_id, v2.originator_version, v2.topic, ledger.mapper.transcoder.encode(state)
    )
    ledger.recorder.insert_events([v1])
    ledger.change_billing_details(staff, account_id, MOVED)  # after the invoice

    reader = make_ledger()
    reader.seller = dataclasses.replace(SELLER, legal_name="Configured Seller SAS")
    invoice = reader.invoice(old.id)
    assert (invoice.seller, invoice.financial_year) == (None, None)
    document = legal_document(reader, invoice)
    assert document.buyer.legal_name == "Acme Corp"  # from the account's history
    assert document.seller.legal_name == "Configured Seller SAS"
