"""Invoice documents as the service renders them (the rendering itself is an adapter).

An invoice names its buyer as they were when it was issued: later changes to the
account's billing details do not rewrite an issued invoice, so its documents stay the
same bytes.
"""

from __future__ import annotations

from adapters.invoice_documents import invoice_pdf, shared_invoice_html
from adapters.log_position import position_of
from domain.account import BillingDetails
from domain.invoice import Invoice
from service.ledger.application import Ledger


def buyer_at_issue(ledger: Ledger, invoice: Invoice) -> BillingDetails:
    """The account's billing details as the ledger knew them when the invoice was issued:
    the last account version before the invoice in the global log (recorded times alone
    cannot order changes made in the same instant, as under a test clock)."""
    account = ledger.account(invoice.account_id)
    issued = position_of(ledger.recorder, invoice.id, 1)
    if issued is None:
        return account.billing
    version = account.version
    while version > 1 and (position_of(ledger.recorder, account.id, version) or 0) > issued:
        version -= 1
    if version == account.version:
        return account.billing
    return ledger.account(account.id, version).billing


def pdf(ledger: Ledger, invoice: Invoice) -> bytes:
    return invoice_pdf(invoice, buyer_at_issue(ledger, invoice))


def shared_page(ledger: Ledger, invoice: Invoice, pdf_href: str) -> str:
    return shared_invoice_html(invoice, buyer_at_issue(ledger, invoice), pdf_href)
