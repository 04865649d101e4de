"""An invoice or credit note whose buyer's personal data was erased (its retention key
destroyed, ADR 0023/0027) still renders, as PDF, XML and JSON, and shows the erased
marker: a document the law no longer requires must not fail to open."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from pypdf import PdfReader

from adapters.einvoice.cii import cii_xml
from adapters.invoice_documents import credit_note_pdf, invoice_pdf, shared_invoice_html
from domain.account import BILLING_FIELDS, BillingDetails
from domain.invoice import Invoice, InvoiceLine
from domain.legal_document import credit_note_document, invoice_document
from domain.money import Money
from domain.period import DateRange
from domain.personal_data import ERASED, erased
from service.http.schemas.legal_documents import LegalDocumentOut
from tests import einvoices
from tests.builders import cause

# (country, tax id, VAT rate the ledger charged, currency): reverse charge, domestic, export
BUYERS = {
    "DE": ("DE136695976", Decimal("0"), "EUR"),
    "FR": ("FR14987654324", Decimal("0.20"), "EUR"),
    "US": ("US-93-1234567", Decimal("0"), "USD"),
}


def issued(country: str) -> tuple[Invoice, BillingDetails]:
    tax_id, rate, currency = BUYERS[country]
    period = DateRange(date(2026, 1, 5), date(2027, 1, 5))
    price = Money.of("1200.00", currency)
    line = InvoiceLine.charge("Sales Cloud", "sales-cloud", 5, price, period, Fraction(1), rate)
    invoice = Invoice.issue(
        uuid4(),
        uuid4(),
        None,
        "F-2026-000001",
        currency,
        [line],
        date(2026, 2, 4),
        cause(datetime(2026, 1, 5, 9, tzinfo=UTC)),
    )
    invoice.issue_credit_note(
        "cn1",
        Money.of("100.00", currency),
        cause(datetime(2026, 1, 6, 9, tzinfo=UTC), reason="goodwill"),
        "A-2026-000001",
    )
    invoice.collect_events()
    billing = BillingDetails(
        "Kunde GmbH", "1 Weg", "Stadt", "10115", country, "a@kunde.example", tax_id=tax_id
    )
    return invoice, erased(billing, *BILLING_FIELDS)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("country", sorted(BUYERS))
def test_an_invoice_and_its_credit_note_render_with_the_buyer_erased(country: str) -> None:
    invoice, billing = issued(country)
    documents = [
        invoice_document(invoice, billing, einvoices.SELLER),
        credit_note_document(invoice, invoice.credit_note("cn1"), billing, einvoices.SELLER),
    ]
    for document in documents:
        assert document.buyer.legal_name == ERASED
        assert document.buyer.address.country == country  # not personal: it sets the tax
        xml = cii_xml(document)
        assert f"<ram:Name>{ERASED}</ram:Name>".encode() in xml
        assert b"Kunde" not in xml and b"DE136695976" not in xml
        out = LegalDocumentOut.of(document)
        assert (out.buyer.legal_name, out.buyer.address.line1) == (ERASED, ERASED)
        assert out.buyer.vat_number is None and out.buyer.siren is None
    invoice_doc, credit_doc = documents
    # the VAT the ledger charged stays as it was charged: the reverse charge stays one
    assert [line.vat for line in invoice_doc.lines] == [line.vat for line in credit_doc.lines]
    created = datetime(2026, 1, 6, 9, tzinfo=UTC)
    for pdf in (
        invoice_pdf(invoice, invoice_doc, cii_xml(invoice_doc)),
        credit_note_pdf(credit_doc, created, cii_xml(credit_doc)),
    ):
        text = text_of(pdf)
        assert ERASED in text and "Kunde" not in text
    page = shared_invoice_html(invoice, invoice_doc, "/pdf")
    assert ERASED in page and "Kunde" not in page
