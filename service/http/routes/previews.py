"""Price previews: every command that moves money, asked first without doing it.

``POST <the command's path>/preview`` takes the command's body and answers what the
command would do (``PreviewOut``): the invoices it would issue, line by line, with tax and
total; the payment it would charge. It is the command itself (the same function, so the
same access rules and checks, If-Match included) run with ``CommandContext.preview``: the
Ledger runs the same work and saves nothing, no event, no idempotency record, no number;
a payment's preview does not reach the payment provider. The answer's ETag is the version
it was computed on: sent as If-Match with the command, it makes the command issue exactly
what the preview showed, or refuse (412).
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from fastapi import APIRouter, Response

from domain.invoice import Invoice
from domain.subscription import Subscription
from projections.documents import invoice_document, subscription_document
from service.http.access import Access, access_extra
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.responses import written
from service.http.routes.accounts import upgrade
from service.http.routes.payments import pay
from service.http.routes.subscriptions import add_licenses_to, add_product_to, buy, change_renewal
from service.http.schemas.accounts import EditionChangeIn
from service.http.schemas.common import MoneyOut
from service.http.schemas.invoices import PaymentIn
from service.http.schemas.previews import InvoicePreviewOut, PaymentPreviewOut, PreviewOut
from service.http.schemas.subscriptions import (
    LicensesIn,
    RenewalIn,
    SubscriptionIn,
    SubscriptionOut,
)
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext

router = APIRouter(tags=["previews"], responses=PROBLEM_RESPONSES)

PREVIEW = "/preview"


def previewing(ctx: CommandContext) -> CommandContext:
    return replace(ctx, preview=True)


def preview_out(
    ledger: Ledger, receipt: Receipt, response: Response, at_renewal: Invoice | None = None
) -> PreviewOut:
    """The receipt of a preview, as the client sees it; the log head it saw, the ETag of
    the version it was computed on."""
    written(response, receipt, ledger)
    issued = [a for a in receipt.pending if isinstance(a, Invoice) and a.id in receipt.created]
    contract = next((a for a in receipt.pending if isinstance(a, Subscription)), None)
    return PreviewOut(
        invoices=[InvoicePreviewOut.model_validate(invoice_document(i)) for i in issued],
        payment=_payment(receipt),
        at_renewal=None
        if at_renewal is None
        else InvoicePreviewOut.model_validate(invoice_document(at_renewal)),
        subscription=None
        if contract is None
        else SubscriptionOut.model_validate(subscription_document(contract)),
    )


def _payment(receipt: Receipt) -> PaymentPreviewOut | None:
    for invoice in receipt.pending:
        if not isinstance(invoice, Invoice):
            continue
        for event in invoice.pending_events:
            if isinstance(event, Invoice.PaymentRecorded):
                return PaymentPreviewOut(
                    invoice_id=invoice.id,
                    amount=MoneyOut.of(event.amount),
                    payment_method=event.method_reference,
                    balance_after=MoneyOut.of(invoice.balance),
                )
    return None


@router.post(
    "/v1/accounts/{account_id}/subscriptions" + PREVIEW,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Preview buying products: the first period's invoice, nothing written",
)
def preview_start_subscription(
    account_id: UUID,
    body: SubscriptionIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> PreviewOut:
    receipt = buy(ledger, principal, previewing(ctx), account_id, body)
    return preview_out(ledger, receipt, response)


@router.post(
    "/v1/subscriptions/{subscription_id}/licenses" + PREVIEW,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Preview adding licenses: their prorated invoice, nothing written",
)
def preview_add_licenses(
    subscription_id: UUID,
    body: LicensesIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> PreviewOut:
    receipt = add_licenses_to(ledger, principal, previewing(ctx), subscription_id, body)
    return preview_out(ledger, receipt, response)


@router.post(
    "/v1/subscriptions/{subscription_id}/products" + PREVIEW,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Preview adding a product or add-on: its prorated invoice, nothing written",
)
def preview_add_product(
    subscription_id: UUID,
    body: LicensesIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> PreviewOut:
    receipt = add_product_to(ledger, principal, previewing(ctx), subscription_id, body)
    return preview_out(ledger, receipt, response)


@router.post(
    "/v1/subscriptions/{subscription_id}/renewal" + PREVIEW,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Preview changing the renewal: the invoice the next term will start with",
)
def preview_schedule_renewal(
    subscription_id: UUID,
    body: RenewalIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> PreviewOut:
    """Changing the renewal issues no invoice now; ``at_renewal`` is the one the renewal
    will issue for the next term's first period, as the plan would then stand."""
    receipt = change_renewal(ledger, principal, previewing(ctx), subscription_id, body)
    (contract,) = [a for a in receipt.pending if isinstance(a, Subscription)]
    return preview_out(ledger, receipt, response, ledger.renewal_invoice(contract))


@router.post(
    "/v1/accounts/{account_id}/edition" + PREVIEW,
    openapi_extra=access_extra(Access.EDITION),
    summary="Preview an edition change (staff): it issues no invoice",
)
def preview_change_edition(
    account_id: UUID,
    body: EditionChangeIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> PreviewOut:
    """An edition change moves no money: contracts keep the prices they were sold at, so
    the preview lists no invoice; it still refuses what the change would refuse."""
    receipt = upgrade(ledger, principal, previewing(ctx), account_id, body)
    return preview_out(ledger, receipt, response)


@router.post(
    "/v1/invoices/{invoice_id}/payments" + PREVIEW,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Preview paying: what would be charged, nothing charged or written",
)
def preview_pay_invoice(
    invoice_id: UUID,
    body: PaymentIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> PreviewOut:
    outcome = pay(ledger, principal, previewing(ctx), invoice_id, body)
    return preview_out(ledger, outcome.receipt, response)
