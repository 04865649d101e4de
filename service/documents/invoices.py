"""Invoice documents as the service renders them (the rendering itself is an adapter).

An invoice names its buyer as they were when it was issued: later changes to the
account's billing details do not rewrite an issued invoice, so its documents stay the
same bytes. Since ADR 0027 the invoice records its buyer and seller itself; for one
issued before, the buyer is found in the account's history.
"""

from __future__ import annotations

from datetime import datetime

from adapters.einvoice.cii import cii_xml
from adapters.invoice_documents import credit_note_pdf as render_credit_note_pdf
from adapters.invoice_documents import invoice_pdf, shared_invoice_html
from adapters.log_position import position_of
from domain.account import BillingDetails
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.invoice_document import InvoiceDocument
from domain.legal_document import credit_note_document, invoice_document
from service.ledger.application import Ledger


def buyer_at_issue(ledger: Ledger, invoice: Invoice) -> BillingDetails:
    """The buyer the invoice names: as its ``InvoiceIssued`` recorded it (ADR 0027), read
    from the store each time, so that a destroyed retention key shows at once.

    An invoice issued before invoices kept their buyer (v1) names the account's billing
    details as the ledger knew them when it was issued: the last account version before
    the invoice in the global log (recorded times alone cannot order changes made in the
    same instant, as under a test clock)."""
    issued = next(iter(ledger.events.get(invoice.id, lte=1)), None)  # None: not saved yet
    if isinstance(issued, Invoice.InvoiceIssued) and issued.buyer is not None:
        return issued.buyer
    account = ledger.account(invoice.account_id)
    position = position_of(ledger.recorder, invoice.id, 1)
    if position is None:
        return account.billing
    version = account.version
    while version > 1 and (position_of(ledger.recorder, account.id, version) or 0) > position:
        version -= 1
    if version == account.version:
        return account.billing
    return ledger.account(account.id, version).billing


def legal_document(ledger: Ledger, invoice: Invoice) -> InvoiceDocument:
    """The invoice as the legal document every rendering shows (ADR 16)."""
    return invoice_document(invoice, buyer_at_issue(ledger, invoice), ledger.seller)


def xml(ledger: Ledger, invoice: Invoice) -> bytes:
    """The invoice's EN 16931 e-invoice: CII XML, Factur-X profile EN 16931."""
    return cii_xml(legal_document(ledger, invoice))


def pdf(ledger: Ledger, invoice: Invoice) -> bytes:
    """The Factur-X PDF/A-3: the legal document, carrying its own CII XML."""
    document = legal_document(ledger, invoice)
    return invoice_pdf(invoice, document, cii_xml(document))


def shared_page(ledger: Ledger, invoice: Invoice, pdf_href: str) -> str:
    return shared_invoice_html(invoice, legal_document(ledger, invoice), pdf_href)


def credit_note_legal_document(
    ledger: Ledger, invoice: Invoice, credit_note_id: str
) -> InvoiceDocument:
    """A credit note of ``invoice`` as its own legal document (type 381), naming the buyer as
    the invoice it corrects does. NotFound for a credit note the invoice does not have."""
    credit = invoice.credit_note(credit_note_id)
    return credit_note_document(invoice, credit, buyer_at_issue(ledger, invoice), ledger.seller)


def credit_note_xml(ledger: Ledger, invoice: Invoice, credit_note_id: str) -> bytes:
    """The credit note's EN 16931 CII XML (type 381)."""
    return cii_xml(credit_note_legal_document(ledger, invoice, credit_note_id))


def credit_note_pdf(ledger: Ledger, invoice: Invoice, credit_note_id: str) -> bytes:
    """The credit note's Factur-X PDF/A-3, dated when it was issued (the same bytes every
    time: a credit note, once issued, does not change)."""
    document = credit_note_legal_document(ledger, invoice, credit_note_id)
    return render_credit_note_pdf(
        document, _issued_at(ledger, invoice, credit_note_id), cii_xml(document)
    )


def _issued_at(ledger: Ledger, invoice: Invoice, credit_note_id: str) -> datetime:
    """When the credit note's event was recorded."""
    for event in ledger.events.get(invoice.id, lte=invoice.version):
        if isinstance(event, Invoice.CreditNoteIssued) and event.credit_note_id == credit_note_id:
            return event.timestamp
    raise NotFound(f"no credit note {credit_note_id} on invoice {invoice.number}")
