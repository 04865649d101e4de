"""Billing details, the payment method and the contacts."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain.account import Account
from service.http.schemas.accounts import BillingDetailsIn, ContactIn, PaymentMethodIn
from service.ledger.application import Receipt
from service.web.account_view import account_context, change_account
from service.web.deps import SignedIn, Visit
from service.web.forms import Form, Posted, new_key
from service.web.pages import page
from service.web.refusals import Refusal

router = APIRouter()
BILLING = "/accounts/{account_id}/billing"
DETAILS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "region",
    "country",
    "tax_id",
    "invoice_email",
)
CONTACT_ROLES = ("billing", "technical", "primary")


def _billing_page(
    current: Visit, account_id: UUID, refused: tuple[str, Refusal, dict[str, str]] | None = None
) -> HTMLResponse:
    """The page; after a refusal, the refused form keeps what was entered."""
    context = account_context(current, account_id, "billing")
    form, refusal, entered = refused if refused else ("", None, {})
    return page(
        current,
        "billing.html",
        **context,
        refused_form=form,
        refusal=refusal,
        entered=entered,
        contact_roles=CONTACT_ROLES,
        keys={name: new_key() for name in ("details", "method", "contact")},
    )


@router.get(BILLING, response_class=HTMLResponse)
def billing_page(account_id: UUID, current: SignedIn) -> Response:
    return _billing_page(current, account_id)


def _on_billing(
    posted: Posted, account_id: UUID, form: str, notice: str, run: Callable[[Account], Receipt]
) -> Response:
    return change_account(
        posted,
        account_id,
        "billing",
        notice,
        run,
        lambda found: _billing_page(posted.visit, account_id, (form, found, posted.fields)),
    )


@router.post(BILLING + "/details")
def change_details(account_id: UUID, posted: Form) -> Response:
    def run(account: Account) -> Receipt:
        body = posted.model(BillingDetailsIn, **{name: posted.text(name) for name in DETAILS})
        return posted.visit.ledger.change_billing_details(posted.ctx, account.id, body.to_domain())

    return _on_billing(posted, account_id, "details", "billing-details-saved", run)


@router.post(BILLING + "/payment-method")
def set_payment_method(account_id: UUID, posted: Form) -> Response:
    def run(account: Account) -> Receipt:
        body = posted.model(PaymentMethodIn, reference=posted.text("reference"))
        return posted.visit.ledger.set_payment_method(posted.ctx, account.id, body.reference)

    return _on_billing(posted, account_id, "method", "payment-method-saved", run)


@router.post(BILLING + "/contacts")
def add_contact(account_id: UUID, posted: Form) -> Response:
    def run(account: Account) -> Receipt:
        body = posted.model(
            ContactIn,
            role=posted.text("role"),
            name=posted.text("name"),
            email=posted.text("email"),
            phone=posted.text("phone"),
        )
        return posted.visit.ledger.add_contact(posted.ctx, account.id, body.to_domain())

    return _on_billing(posted, account_id, "contact", "contact-added", run)


@router.post(BILLING + "/contacts/{contact_id}/remove")
def remove_contact(account_id: UUID, contact_id: str, posted: Form) -> Response:
    def run(account: Account) -> Receipt:
        return posted.visit.ledger.remove_contact(posted.ctx, account.id, contact_id)

    return _on_billing(posted, account_id, f"remove-{contact_id}", "contact-removed", run)
