"""Credit notes as documents: each is numbered in its series, names the invoice it
corrects, and has its own JSON (with its legal mentions), Factur-X PDF and CII XML (type
381). They live under their invoice, which lists them; whoever may read the invoice may
read them. Issuing one is ``POST /v1/invoices/{id}/credit-notes`` (``invoices.py``)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from service.documents import invoices as documents
from service.http.access import Access, access_extra
from service.http.deps import LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import PointInTimeReads
from service.http.routes import documents as downloads
from service.http.routes.invoices import invoice_for
from service.http.schemas.legal_documents import CreditNoteDocumentOut, CreditNoteSummaryOut

router = APIRouter(tags=["invoices"], responses=PROBLEM_RESPONSES)
CREDIT_NOTE = "/v1/invoices/{invoice_id}/credit-notes/{credit_note_id}"


@router.get(
    "/v1/invoices/{invoice_id}/credit-notes",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="The invoice's credit notes, in the order they were issued",
)
def list_credit_notes(
    invoice_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads
) -> list[CreditNoteSummaryOut]:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = downloads.invoice_then(ledger, reads, invoice_id)
    return [CreditNoteSummaryOut.of(credit) for credit in invoice.credit_note_list]


@router.get(
    CREDIT_NOTE,
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="A credit note with its legal mentions",
)
def get_credit_note(
    invoice_id: UUID,
    credit_note_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: PointInTimeReads,
) -> CreditNoteDocumentOut:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = downloads.invoice_then(ledger, reads, invoice_id)
    document = documents.credit_note_legal_document(ledger, invoice, credit_note_id)
    return CreditNoteDocumentOut.document(invoice_id, invoice.credit_note(credit_note_id), document)


@router.get(
    CREDIT_NOTE + "/pdf",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    response_class=Response,
    responses=downloads.responses(downloads.PDF),
    summary="The credit note as a Factur-X PDF/A-3",
)
def get_credit_note_pdf(
    invoice_id: UUID,
    credit_note_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: PointInTimeReads,
) -> Response:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = downloads.invoice_then(ledger, reads, invoice_id)
    return downloads.credit_note_document(ledger, invoice, credit_note_id, downloads.PDF)


@router.get(
    CREDIT_NOTE + "/xml",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    response_class=Response,
    responses=downloads.responses(downloads.XML),
    summary="The credit note's EN 16931 e-invoice: the CII XML (type 381) its PDF carries",
)
def get_credit_note_xml(
    invoice_id: UUID,
    credit_note_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: PointInTimeReads,
) -> Response:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    invoice = downloads.invoice_then(ledger, reads, invoice_id)
    return downloads.credit_note_document(ledger, invoice, credit_note_id, downloads.XML)
