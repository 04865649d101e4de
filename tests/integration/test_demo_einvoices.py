"""Every invoice and credit note of the demo, as a customer downloads it: a Factur-X PDF
whose embedded XML is the one ``/xml`` serves, and follows the EN 16931 rules (the official
XSD and Schematron, and the French reform's), with its number in a gap-free series."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from adapters.einvoice.validation import EN16931, RuleSet, validate_cii
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.invoice import Invoice
from service.demo.history import load_demo
from service.documents import invoices as documents
from service.ledger.application import Ledger


def test_every_demo_invoice_is_a_valid_factur_x_invoice_numbered_without_gaps(
    store: StoreSettings,
) -> None:
    ledger, _ = load_demo(
        lambda clock: Ledger(
            env=store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
    )
    issued = list(ledger.events_of_types(Invoice.InvoiceIssued))
    assert len(issued) > 10
    numbers: dict[str, list[int]] = {}
    for event in issued:
        invoice = ledger.invoice(event.originator_id)
        xml = documents.xml(ledger, invoice)
        report = validate_cii(xml, (*EN16931, RuleSet.FRANCE_CTC))
        assert [(f.rule, f.message) for f in report.findings if f.fatal] == [], invoice.number
        pdf = PdfReader(io.BytesIO(documents.pdf(ledger, invoice)))
        assert pdf.attachments == {"factur-x.xml": [xml]}
        series, sequence = re.fullmatch(r"(F-\d{4})-(\d{6})", invoice.number).groups()  # type: ignore[union-attr]
        numbers.setdefault(series, []).append(int(sequence))
    credited = list(ledger.events_of_types(Invoice.CreditNoteIssued))
    assert len(credited) >= 2  # a USD export and a EUR reverse charge
    for event in credited:
        assert isinstance(event, Invoice.CreditNoteIssued)
        invoice = ledger.invoice(event.originator_id)
        xml = documents.credit_note_xml(ledger, invoice, event.credit_note_id)
        assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
        assert f"<ram:IssuerAssignedID>{invoice.number}<".encode() in xml
        report = validate_cii(xml, (*EN16931, RuleSet.FRANCE_CTC))
        assert [(f.rule, f.message) for f in report.findings if f.fatal] == [], event.number
        pdf = PdfReader(
            io.BytesIO(documents.credit_note_pdf(ledger, invoice, event.credit_note_id))
        )
        assert pdf.attachments == {"factur-x.xml": [xml]}
        series, sequence = re.fullmatch(r"(A-\d{4})-(\d{6})", event.number).groups()  # type: ignore[union-attr]
        numbers.setdefault(series, []).append(int(sequence))
    assert any(series.startswith("A-") for series in numbers)
    for sequences in numbers.values():
        assert sequences == list(range(1, len(sequences) + 1))
