"""Invoices: view (as JSON, PDF or CSV); staff void and credit notes. Paying and refunding
are in ``payments.py``, sharing in ``share_links.py``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from domain.invoice import Invoice
from domain.money import Money
from projections import account_overview as overview
from projections.documents import invoice_document
from service.access.tokens import Principal
from service.documents import invoices as legal_documents
from service.http.access import Access, access_extra, account_for, require
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import PointInTimeReads, projected
from service.http.responses import versioned, written
from service.http.routes import documents
from service.http.schemas.common import MoneyOut, money_in
from service.http.schemas.invoices import CreditNoteIn, CreditNoteOut, InvoiceOut, VoidIn
from service.http.schemas.legal_documents import CreditNoteSummaryOut, LegalDocumentOut
from service.ledger.application import Ledger, Receipt
from service.reads.point_in_time import account_at, aggregate_at

router = APIRouter(tags=["invoices"], responses=PROBLEM_RESPONSES)


def invoice_for(ledger: Ledger, principal: Principal, invoice_id: UUID, level: Access) -> Invoice:
    """The invoice, if visible to the principal at ``level`` (else 404 / 403; the role is
    checked before the lookup, so a refused role cannot learn which ids exist)."""
    require(principal, level)
    invoice = ledger.invoice(invoice_id)
    account_for(ledger, principal, invoice.account_id, level, f"invoice {invoice_id}")
    return invoice


@router.get(
    "/v1/accounts/{account_id}/invoices",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="The account's invoices",
)
def list_invoices(
    account_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads
) -> list[InvoiceOut]:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    with reads.sql() as sql:
        if reads.as_of is not None:
            then = account_at(ledger, sql, account_id, reads.as_of, reads.effective)
            # as in the book: only what was in force that day (issued by then)
            documents = [i.document for i in then.invoices if i.in_force]
        else:
            documents = overview.invoices_of(sql, account_id)
    return [InvoiceOut.model_validate(d) for d in documents]


@router.get(
    "/v1/invoices/{invoice_id}",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    response_model=InvoiceOut,
    responses=documents.responses(documents.PDF, documents.CSV),
    summary="An invoice (Accept: application/pdf or text/csv for its documents)",
)
def get_invoice(
    invoice_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: PointInTimeReads,
    response: Response,
    request: Request,
) -> InvoiceOut | Response:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    if (media_type := documents.negotiated(request.headers.get("accept"))) is not None:
        invoice = documents.invoice_then(ledger, reads, invoice_id)
        return documents.document(ledger, invoice, media_type)
    if reads.as_of is not None:
        with reads.sql() as sql:
            then = aggregate_at(ledger, sql, invoice_id, reads.as_of, reads.effective, Invoice)
        return with_legal_mentions(ledger, then.aggregate, invoice_document(then.aggregate))
    found = projected(reads, lambda sql: overview.invoice(sql, invoice_id), f"invoice {invoice_id}")
    out = with_legal_mentions(ledger, ledger.invoice(invoice_id), found)
    versioned(response, out.version)
    return out


def with_legal_mentions(ledger: Ledger, invoice: Invoice, found: dict[str, Any]) -> InvoiceOut:
    """The invoice's JSON document with its legal mentions (the legal document's: the
    buyer as it was at issue, the seller, what the law requires the invoice to say)."""
    out = InvoiceOut.model_validate(found)
    out.legal = LegalDocumentOut.of(legal_documents.legal_document(ledger, invoice))
    return out


@router.get(
    "/v1/invoices/{invoice_id}/pdf",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    response_class=Response,
    responses=documents.responses(documents.PDF),
    summary="The invoice as a PDF",
)
def get_invoice_pdf(
    invoice_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads
) -> Response:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = documents.invoice_then(ledger, reads, invoice_id)
    return documents.document(ledger, invoice, documents.PDF)


@router.get(
    "/v1/invoices/{invoice_id}/xml",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    response_class=Response,
    responses=documents.responses(documents.XML),
    summary="The invoice's EN 16931 e-invoice: the CII XML its PDF carries (Factur-X)",
)
def get_invoice_xml(
    invoice_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads
) -> Response:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = documents.invoice_then(ledger, reads, invoice_id)
    return documents.document(ledger, invoice, documents.XML)


@router.get(
    "/v1/invoices/{invoice_id}/csv",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    response_class=Response,
    responses=documents.responses(documents.CSV),
    summary="The invoice's lines as CSV",
)
def get_invoice_csv(
    invoice_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads
) -> Response:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = documents.invoice_then(ledger, reads, invoice_id)
    return documents.document(ledger, invoice, documents.CSV)


@router.post(
    "/v1/invoices/{invoice_id}/void",
    openapi_extra=access_extra(Access.STAFF),
    summary="Void an unpaid invoice (staff, with a reason)",
)
def void_invoice(
    invoice_id: UUID,
    body: VoidIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> InvoiceOut:
    invoice_for(ledger, principal, invoice_id, Access.STAFF)
    receipt = ledger.void_invoice(replace(ctx, reason=body.reason), invoice_id)
    written(response, receipt, ledger)
    return InvoiceOut.model_validate(invoice_document(ledger.invoice(invoice_id, receipt.version)))


@router.post(
    "/v1/invoices/{invoice_id}/credit-notes",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.STAFF),
    summary="Credit part of an invoice (staff, with a reason); beyond the balance it is a refund",
)
def issue_credit_note(
    invoice_id: UUID,
    body: CreditNoteIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> CreditNoteOut:
    invoice = invoice_for(ledger, principal, invoice_id, Access.STAFF)
    receipt = ledger.issue_credit_note(
        replace(ctx, reason=body.reason), invoice_id, money_in(body.amount, invoice.currency)
    )
    written(response, receipt, ledger)
    return credit_note_out(ledger, invoice_id, receipt)


def credit_note_out(ledger: Ledger, invoice_id: UUID, receipt: Receipt) -> CreditNoteOut:
    """The invoice after a credit note, and the part of it that returned money paid."""
    after = ledger.invoice(invoice_id, receipt.version)
    refund = receipt.refund if receipt.refund is not None else Money.zero(after.currency)
    # The command's credit note is the invoice's last at the version it wrote (a replay too).
    issued = CreditNoteSummaryOut.of(after.credit_note_list[-1])
    return CreditNoteOut(
        invoice=InvoiceOut.model_validate(invoice_document(after)),
        refund=MoneyOut.of(refund),
        credit_note=issued,
    )
