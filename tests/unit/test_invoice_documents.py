"""Invoice documents: a PDF whose text says what the invoice says, the same bytes for the same
invoice, the CSV of its lines, an escaped HTML page, and Accept negotiation."""

import csv
import io
import os
import shutil
import subprocess
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from pypdf import PdfReader

from adapters.invoice_documents import (
    CSV_COLUMNS,
    invoice_csv,
    invoice_pdf,
    shared_invoice_html,
)
from domain.account import BillingDetails
from domain.invoice import Invoice, InvoiceLine
from domain.invoice_document import InvoiceDocument
from domain.legal_document import invoice_document
from domain.money import Money
from domain.period import DateRange
from service.http.routes.documents import CSV, PDF, negotiated
from tests import einvoices
from tests.builders import cause

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
BUYER = BillingDetails(
    "Lumen GmbH",
    "Hauptstraße 5",
    "Berlin",
    "10115",
    "DE",
    "rechnung@lumen.example",
    tax_id="DE123456789",
)


def legal(invoice: Invoice, buyer: BillingDetails = BUYER) -> InvoiceDocument:
    return invoice_document(invoice, buyer, einvoices.SELLER)


def eur(amount):
    return Money.of(amount, "EUR")


def make_invoice():
    period = DateRange(date(2026, 1, 5), date(2027, 1, 5))
    lines = [
        InvoiceLine.charge(
            "Sales Cloud", "sales-cloud", 5, eur("1200.00"), period, Fraction(1), Decimal("0.19")
        ),
        InvoiceLine.charge(
            "Inbox", "inbox", 2, eur("60.00"), period, Fraction(1, 2), Decimal("0.19")
        ),
    ]
    invoice = Invoice.issue(
        uuid4(), uuid4(), uuid4(), "INV-202601-ABCDEF12", "EUR", lines, date(2026, 2, 4), cause(T0)
    )
    invoice.collect_events()
    return invoice


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_the_pdf_shows_seller_buyer_lines_tax_totals_due_date_and_status():
    invoice = make_invoice()
    text = pdf_text(invoice_pdf(invoice, legal(invoice)))
    for expected in (
        einvoices.SELLER.legal_name,
        f"VAT number: {einvoices.SELLER.vat_number}",
        "SIREN 123456782 - SIRET 12345678200010",
        "Service period: 2026-01-05 to 2027-01-04",
        "VAT S 19% on 6,060.00: 1,151.40 EUR",
        "IBAN FR7630006000011234567890189",
        "Invoice INV-202601-ABCDEF12",
        "Status: OPEN",
        "Due date: 2026-02-04",
        "Lumen GmbH",
        "Hauptstraße 5",
        "10115 Berlin",
        "VAT number: DE123456789",
        "Sales Cloud 5 2026-01-05 to 2027-01-04 1,200.00 6,000.00 19% 1,140.00",
        # half a period: the unit price of that half; the full period's in the line's note
        "Inbox 2 2026-01-05 to 2027-01-04 30.00 60.00 19% 11.40",
        "Prorata ; prix de la période complète : 60.00 EUR par unité",
        "Total excl. tax 6,060.00 EUR",
        "VAT 1,151.40 EUR",
        "Total 7,211.40 EUR",
        "Paid 0.00 EUR",
        "Balance due 7,211.40 EUR",
    ):
        assert expected in text, expected


def test_the_same_invoice_renders_to_the_same_bytes_and_a_payment_changes_them():
    invoice = make_invoice()
    first = invoice_pdf(invoice, legal(invoice))
    assert invoice_pdf(invoice, legal(invoice)) == first
    # A PDF/A keeps its dates in the XMP metadata.
    created = PdfReader(io.BytesIO(first)).xmp_metadata.xmp_create_date
    assert created is not None and created.replace(tzinfo=UTC) == T0  # the last event, not now

    invoice.record_payment("ch_1", eur("7211.40"), "pm_card_visa", cause(T0 + timedelta(days=1)))
    paid = invoice_pdf(invoice, legal(invoice))
    assert paid != first
    text = pdf_text(paid)
    assert "Status: PAID" in text
    assert "Balance due 0.00 EUR" in text


def pdftotext(document: bytes) -> str:
    """The text poppler's ``pdftotext`` reads (pypdf cannot decode the embedded CMap of a
    CJK OpenType font); Debian's poppler-utils, which .ci/run installs."""
    if shutil.which("pdftotext") is None:
        reason = "pdftotext is not installed (Debian's poppler-utils)"
        if os.environ.get("SUBLEDGER_TEST_POPPLER") == "required":
            pytest.fail(f"{reason} (SUBLEDGER_TEST_POPPLER=required)", pytrace=False)
        warnings.warn(f"SKIPPING: {reason}", stacklevel=2)
        pytest.skip(reason)
    read = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=document, capture_output=True, check=True
    )
    return read.stdout.decode()


def billed_to(name: str) -> BillingDetails:
    return BillingDetails(name, "1 Main St", "Tokyo", "100", "JP", "a@b.example")


def test_the_pdf_shows_cyrillic_and_cjk_legal_names_in_embedded_fonts():
    invoice = make_invoice()
    cyrillic = "ООО «Ромашка»"  # noqa: RUF001 (Cyrillic on purpose)
    for name in (cyrillic, "Zoë Łódź Ελλάς"):  # Source Sans Pro: pypdf reads it
        assert name in pdf_text(invoice_pdf(invoice, legal(invoice, billed_to(name))))
    for name in (cyrillic, "東京商事株式会社", "주식회사 한빛", "北京 Ёлка 有限公司"):
        assert name in pdftotext(invoice_pdf(invoice, legal(invoice, billed_to(name))))


def test_a_character_no_font_has_becomes_its_letters_or_a_question_mark():
    invoice = make_invoice()
    document = invoice_pdf(invoice, legal(invoice, billed_to("ℌ𝐀ṩ مرحبا Zoë")))
    assert "HAs ????? Zoë" in pdf_text(document)  # no Arabic font (yet)  # no Arabic font (yet)


def test_the_csv_has_one_row_per_line():
    invoice = make_invoice()
    rows = list(csv.DictReader(io.StringIO(invoice_csv(invoice))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["product_code"], r["quantity"], r["amount"], r["tax"]) for r in rows] == [
        ("sales-cloud", "5", "6000.00", "1140.00"),
        ("inbox", "2", "60.00", "11.40"),
    ]
    assert rows[0]["period_start"] == "2026-01-05"
    assert {r["invoice_number"] for r in rows} == {"INV-202601-ABCDEF12"}


def test_the_shared_page_escapes_everything():
    invoice = make_invoice()
    buyer = BillingDetails(
        '<script>alert("x")</script> & Co', "1 Main St", "Springfield", "1", "US", "a@b.example"
    )
    page = shared_invoice_html(invoice, legal(invoice, buyer), '/pdf?a=1&b="2"')
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    assert 'href="/pdf?a=1&amp;b=&quot;2&quot;"' in page
    assert "INV-202601-ABCDEF12" in page and "7,211.40" in page


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, None),
        ("", None),
        ("application/json", None),
        ("*/*", None),
        ("image/png", None),
        ("application/pdf", PDF),
        ("text/csv", CSV),
        ("text/csv;charset=utf-8", CSV),
        ("application/pdf, application/json", PDF),
        ("application/json, application/pdf", None),
        ("application/json;q=0.5, application/pdf", PDF),
        ("text/csv;q=0.2, application/pdf;q=0.9, */*;q=0.1", PDF),
        ("application/pdf;q=0", None),
        ("application/pdf;q=abc", None),
    ],
)
def test_accept_picks_the_document_it_prefers_most_and_json_otherwise(accept, chosen):
    assert negotiated(accept) == chosen
