"""What billing staff change on an account, always with a reason: voiding an invoice or
crediting part of it, carrying out an upgrade (the edition change), and answering and
closing support cases.

Each form calls the API route's own access check and Ledger use case; a refusal shows
the problem beside the form it came from and writes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response

from service.http.access import Access
from service.http.reads import FreshReads
from service.http.routes.accounts import upgrade
from service.http.routes.support_cases import case_for
from service.http.schemas.accounts import EditionChangeIn
from service.http.schemas.common import money_in
from service.http.schemas.invoices import CreditNoteIn, VoidIn
from service.http.schemas.support_cases import SupportCaseCloseIn, SupportCaseReplyIn
from service.web.account_view import account_path
from service.web.forms import Form, attempt
from service.web.pages import done
from service.web.routes.invoices import INVOICE, invoice_of_account, render_invoice
from service.web.routes.requests import SUPPORT, UPGRADE, render_support, render_upgrade

router = APIRouter()


@router.post(INVOICE + "/void")
def void_invoice(account_id: UUID, invoice_id: UUID, posted: Form, reads: FreshReads) -> Response:
    current = posted.visit

    def act() -> Response:
        invoice_of_account(current, account_id, invoice_id, Access.STAFF)
        body = posted.model(VoidIn, reason=posted.text("reason"))
        receipt = current.ledger.void_invoice(replace(posted.ctx, reason=body.reason), invoice_id)
        path = f"{account_path(account_id)}/invoices/{invoice_id}"
        return done(current, path, "invoice-voided", receipt)

    return attempt(
        act,
        lambda found: render_invoice(
            current, account_id, invoice_id, reads, found, "", "void", posted.fields
        ),
    )


@router.post(INVOICE + "/credit-notes")
def credit_invoice(account_id: UUID, invoice_id: UUID, posted: Form, reads: FreshReads) -> Response:
    current = posted.visit

    def act() -> Response:
        invoice = invoice_of_account(current, account_id, invoice_id, Access.STAFF)
        body = posted.model(
            CreditNoteIn, amount=posted.text("amount"), reason=posted.text("reason")
        )
        receipt = current.ledger.issue_credit_note(
            replace(posted.ctx, reason=body.reason),
            invoice_id,
            money_in(body.amount, invoice.currency),
        )
        path = f"{account_path(account_id)}/invoices/{invoice_id}"
        return done(current, path, "invoice-credited", receipt)

    return attempt(
        act,
        lambda found: render_invoice(
            current, account_id, invoice_id, reads, found, "", "credit", posted.fields
        ),
    )


@router.post(UPGRADE + "/carry-out")
def change_edition(account_id: UUID, posted: Form) -> Response:
    """Carry out an upgrade (or agree a change of edition): staff and account managers."""
    current = posted.visit

    def act() -> Response:
        assert current.principal is not None
        body = posted.model(
            EditionChangeIn, edition=posted.text("edition"), reason=posted.text("reason")
        )
        receipt = upgrade(current.ledger, current.principal, posted.ctx, account_id, body)
        return done(current, account_path(account_id) + "/upgrade", "edition-changed", receipt)

    return attempt(
        act,
        lambda found: render_upgrade(current, account_id, found, posted.fields, form="carry-out"),
    )


@router.post(SUPPORT + "/{case_id}/replies")
def reply(account_id: UUID, case_id: UUID, posted: Form, reads: FreshReads) -> Response:
    current = posted.visit

    def act() -> Response:
        assert current.principal is not None
        case_for(current.ledger, current.principal, account_id, case_id, Access.STAFF)
        body = posted.model(SupportCaseReplyIn, message=posted.text("message"))
        receipt = current.ledger.reply_to_support_case(posted.ctx, case_id, body.message)
        return done(current, account_path(account_id) + "/support", "case-answered", receipt)

    return attempt(
        act,
        lambda found: render_support(
            current, account_id, reads, found, posted.fields, form=f"case-{case_id}"
        ),
    )


@router.post(SUPPORT + "/{case_id}/close")
def close(account_id: UUID, case_id: UUID, posted: Form, reads: FreshReads) -> Response:
    current = posted.visit

    def act() -> Response:
        assert current.principal is not None
        case_for(current.ledger, current.principal, account_id, case_id, Access.STAFF)
        body = posted.model(SupportCaseCloseIn, resolution=posted.text("resolution"))
        receipt = current.ledger.close_support_case(posted.ctx, case_id, body.resolution)
        return done(current, account_path(account_id) + "/support", "case-closed", receipt)

    return attempt(
        act,
        lambda found: render_support(
            current, account_id, reads, found, posted.fields, form=f"case-{case_id}"
        ),
    )
