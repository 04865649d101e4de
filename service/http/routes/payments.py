"""Paying an invoice through the payment provider, and staff refunds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from projections.documents import invoice_document
from service.access.tokens import Principal
from service.http.access import Access, access_extra
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_JSON, PROBLEM_RESPONSES, Problem, problem
from service.http.responses import written
from service.http.routes.invoices import credit_note_out, invoice_for
from service.http.schemas.common import money_in
from service.http.schemas.invoices import CreditNoteIn, CreditNoteOut, InvoiceOut, PaymentIn
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.payments.payments import PaymentOutcome, Payments

router = APIRouter(tags=["invoices"], responses=PROBLEM_RESPONSES)

DECLINED: dict[int | str, dict[str, Any]] = {
    402: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "The payment provider declined the charge (recorded as PaymentFailed)",
    }
}


@router.post(
    "/v1/invoices/{invoice_id}/payments",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    response_model=InvoiceOut,
    responses=DECLINED,
    summary="Pay the balance or part of it through the payment provider",
)
def pay_invoice(
    invoice_id: UUID,
    body: PaymentIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    request: Request,
    response: Response,
) -> InvoiceOut | Response:
    """Charges the account's payment method (or another the account has recorded) at most
    once per Idempotency-Key, after every check passed. A decline answers 402 with the
    provider's reason, and is recorded; a provider outage answers 503 and records nothing."""
    outcome = pay(ledger, principal, ctx, invoice_id, body)
    if outcome.declined is not None:
        declined = problem(
            402,
            "payment-declined",
            "Payment Required",
            f"the payment provider declined the charge: {outcome.declined.reason}",
            request,
            decline_code=outcome.declined.code,
        )
        written(declined, outcome.receipt, ledger)
        return declined
    written(response, outcome.receipt, ledger)
    invoice = ledger.invoice(invoice_id, outcome.receipt.version)
    return InvoiceOut.model_validate(invoice_document(invoice))


def pay(
    ledger: Ledger, principal: Principal, ctx: CommandContext, invoice_id: UUID, body: PaymentIn
) -> PaymentOutcome:
    """Paying, called by its route and by its preview (service/http/routes/previews.py)."""
    invoice = invoice_for(ledger, principal, invoice_id, Access.SELF_SERVICE)
    amount = money_in(body.amount, invoice.currency) if body.amount else None
    return Payments(ledger).pay(ctx, invoice_id, amount, body.payment_method)


@router.post(
    "/v1/invoices/{invoice_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.STAFF),
    summary="Refund (staff, with a reason): a credit note, its refund paid back by the provider",
)
def refund_invoice(
    invoice_id: UUID,
    body: CreditNoteIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> CreditNoteOut:
    """Credits the amount; the part beyond the balance returns money paid, from the newest
    payments first, through the payment provider (``refund``)."""
    invoice = invoice_for(ledger, principal, invoice_id, Access.STAFF)
    amount = money_in(body.amount, invoice.currency)
    receipt = Payments(ledger).refund(replace(ctx, reason=body.reason), invoice_id, amount)
    written(response, receipt, ledger)
    return credit_note_out(ledger, invoice_id, receipt)
