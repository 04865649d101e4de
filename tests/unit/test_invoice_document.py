"""The invoice as a legal document: its totals, its VAT per rate, its mandatory notes, and
the documents it refuses to be."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from hypothesis import given

from domain.account import BillingDetails
from domain.errors import InvalidIdentifier, InvalidValue
from domain.invoice import Invoice, InvoiceLine
from domain.invoice_document import DocumentType, NoteSubject, last_day
from domain.legal_document import invoice_document
from domain.money import Money, total
from domain.period import DateRange
from domain.vat_treatment import REVERSE_CHARGE, VatCategory
from tests import einvoices
from tests.builders import cause


@given(einvoices.documents())
def test_totals_add_up_and_the_vat_of_each_rate_is_the_sum_of_its_lines(document):
    subtotals = document.vat_subtotals
    assert document.total == document.line_total + document.tax_total
    assert total([s.basis for s in subtotals], "EUR") == document.line_total
    assert total([s.tax for s in subtotals], "EUR") == document.tax_total
    assert len({s.vat for s in subtotals}) == len(subtotals)
    for subtotal in subtotals:
        lines = [line for line in document.lines if line.vat == subtotal.vat]
        exact = subtotal.basis.amount * subtotal.vat.rate
        # Each line's tax is rounded (ADR 7): at most half a cent off per line.
        assert abs(subtotal.tax.amount - exact) <= Decimal("0.005") * len(lines)


@given(einvoices.documents())
def test_every_document_carries_the_french_payment_mentions_once(document):
    subjects = [note.subject for note in document.notes]
    for subject in (
        NoteSubject.LATE_PAYMENT_PENALTIES,
        NoteSubject.RECOVERY_INDEMNITY,
        NoteSubject.EARLY_PAYMENT,
    ):
        assert subjects.count(subject) == 1
    assert subjects.count(NoteSubject.TAX) <= 1


def test_the_mentions_say_the_rate_the_indemnity_and_why_no_vat_is_charged():
    texts = {note.subject: note.text for note in einvoices.franchise().notes}
    assert "12.15 %" in texts[NoteSubject.LATE_PAYMENT_PENALTIES]
    assert "40.00 EUR" in texts[NoteSubject.RECOVERY_INDEMNITY]
    assert texts[NoteSubject.EARLY_PAYMENT] == "Pas d'escompte pour paiement anticipé."
    assert texts[NoteSubject.TAX] == "TVA non applicable, art. 293 B du CGI"
    assert NoteSubject.TAX not in {n.subject for n in einvoices.french_b2b().notes}


def test_a_french_b2b_invoice():
    document = einvoices.french_b2b()
    assert document.line_total == einvoices.eur("6679.99")
    assert document.tax_total == einvoices.eur("1336.00")  # 1200.00 + 36.00 + 100.00 (99.998)
    assert document.amount_due == einvoices.eur("8015.99")
    assert document.service_period == einvoices.YEAR
    assert last_day(einvoices.YEAR) == date(2027, 1, 4)


def test_a_credit_note_must_name_the_invoice_it_corrects():
    note = einvoices.credit_note()
    assert note.type is DocumentType.CREDIT_NOTE
    with pytest.raises(InvalidValue, match="name the invoice"):
        replace(note, preceding_invoice=None)


@pytest.mark.parametrize("number", ["", "F 2026 1", "F-2026-000001\n", "A" * 36, "F#1"])
def test_a_number_e_invoicing_platforms_refuse_is_refused(number):
    with pytest.raises(InvalidValue, match="document number"):
        replace(einvoices.french_b2b(), number=number)


def test_a_reverse_charge_needs_the_buyers_vat_number():
    document = einvoices.intra_eu_reverse_charge()
    buyer = replace(document.buyer, vat_number=None)
    with pytest.raises(InvalidValue, match="BR-AE-02"):
        replace(document, buyer=buyer)


def test_an_untaxed_line_cannot_carry_tax():
    line = einvoices.line("Inbox", 1, "10.00", REVERSE_CHARGE)
    with pytest.raises(InvalidValue, match="no VAT is charged"):
        replace(line, tax=einvoices.eur("2.00"))


def test_due_before_issue_is_refused():
    with pytest.raises(InvalidValue, match="due date"):
        replace(einvoices.french_b2b(), due_on=date(2026, 1, 4))


def ledger_invoice(rate: str, quantity: int = 5, share: Fraction = Fraction(1)) -> Invoice:
    period = DateRange(date(2026, 1, 5), date(2027, 1, 5))
    line = InvoiceLine.charge(
        "Sales Cloud",
        "sales-cloud",
        quantity,
        einvoices.eur("883.20"),
        period,
        share,
        Decimal(rate),
    )
    return Invoice.issue(
        uuid4(),
        uuid4(),
        None,
        "INV-202601-ABCDEF12",
        "EUR",
        [line],
        date(2026, 2, 4),
        cause(datetime(2026, 1, 5, 9, tzinfo=UTC)),
    )


def billing(country: str, tax_id: str) -> BillingDetails:
    return BillingDetails(
        "Buyer SA", "1 rue X", "Paris", "75001", country, "ap@buyer.example", tax_id=tax_id
    )


def test_a_ledger_invoice_becomes_its_legal_document_with_what_the_ledger_charged():
    invoice = ledger_invoice("0.20")
    document = invoice_document(invoice, billing("FR", "FR14 987 654 324"), einvoices.SELLER)
    assert document.number == invoice.number
    assert (document.total, document.due_on) == (invoice.total, invoice.due_on)
    assert document.buyer.siren is not None and document.buyer.siren.value == "987654324"
    assert document.lines[0].vat.category is VatCategory.STANDARD
    assert document.lines[0].unit_price == einvoices.eur("883.20")


def test_an_untaxed_ledger_line_takes_the_treatment_that_explains_it():
    document = invoice_document(
        ledger_invoice("0"), billing("DE", "DE136695976"), einvoices.SELLER, "F-2026-000002"
    )
    assert document.number == "F-2026-000002"
    assert document.lines[0].vat == REVERSE_CHARGE


def test_a_prorated_line_shows_the_price_of_the_part_billed():
    # ADR 7, example 2: 5 x 883.20 for 270 of 365 days = 3266.63.
    invoice = ledger_invoice("0.20", share=Fraction(270, 365))
    line = invoice_document(invoice, billing("FR", ""), einvoices.SELLER).lines[0]
    assert line.amount == einvoices.eur("3266.63")
    assert line.unit_price == Money(Decimal("653.3260"), "EUR")
    assert (line.unit_price.amount * line.quantity).quantize(Decimal("0.01")) == Decimal("3266.63")
    assert "883.20 EUR" in line.note


def test_an_eu_buyer_whose_tax_id_is_no_vat_number_is_refused():
    with pytest.raises(InvalidIdentifier):
        invoice_document(ledger_invoice("0"), billing("DE", "12345"), einvoices.SELLER)
