"""Invoices: the list by status, an invoice with its downloads, paying it, sharing it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain.errors import NotFound
from domain.invoice import Invoice
from projections import account_overview as overview
from service.documents.invoices import legal_document
from service.http.access import Access
from service.http.problems import ApiError
from service.http.reads import FreshReads, Reads, projected
from service.http.routes import documents
from service.http.routes.invoices import invoice_for
from service.http.routes.share_links import ShareLinkIn
from service.http.schemas.common import money_in
from service.http.schemas.invoices import PaymentIn
from service.http.schemas.legal_documents import LegalDocumentOut
from service.payments.payments import Payments
from service.sharing.links import ShareLinks
from service.web.account_view import account_context, account_path
from service.web.deps import SignedIn, Visit
from service.web.forms import Form, attempt, new_key
from service.web.i18n import N_
from service.web.pages import done, page
from service.web.refusals import Refusal

router = APIRouter()
INVOICE = "/accounts/{account_id}/invoices/{invoice_id}"
FILTERS = (
    ("all", N_("All")),
    ("open", N_("Open")),
    ("overdue", N_("Overdue")),
    ("paid", N_("Paid")),
    ("void", N_("Void")),
)
# The test cards of the demo's payment provider (adapters/payments.py): what each does.
TEST_CARDS = (
    ("pm_card_visa", N_("Visa ending 4242 (pays)")),
    ("pm_card_declined", N_("Card that is declined")),
    ("pm_card_insufficient_funds", N_("Card without enough funds")),
)


def _matches(document: dict[str, Any], wanted: str, today: str) -> bool:
    if wanted == "overdue":
        return document["status"] == "open" and document["due_on"] < today
    return wanted in ("all", document["status"])


@router.get("/accounts/{account_id}/invoices", response_class=HTMLResponse)
def invoices_page(
    account_id: UUID, current: SignedIn, reads: FreshReads, status: str = "all"
) -> Response:
    context = account_context(current, account_id, "invoices")
    wanted = status if status in dict(FILTERS) else "all"
    today = current.ledger.clock.now().date().isoformat()
    with reads.sql() as sql:
        found = [d for d in overview.invoices_of(sql, account_id) if _matches(d, wanted, today)]
    return page(
        current,
        "invoices.html",
        **context,
        invoices=list(reversed(found)),
        filters=FILTERS,
        wanted=wanted,
        today=today,
    )


def invoice_of_account(
    current: Visit, account_id: UUID, invoice_id: UUID, level: Access
) -> Invoice:
    """The invoice, if it is this account's and the visitor may see it at ``level``."""
    assert current.principal is not None
    invoice = invoice_for(current.ledger, current.principal, invoice_id, level)
    if invoice.account_id != account_id:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def render_invoice(
    current: Visit,
    account_id: UUID,
    invoice_id: UUID,
    reads: Reads,
    refusal: Refusal | None = None,
    shared_url: str | None = None,
    form: str = "",
    entered: dict[str, str] | None = None,
) -> HTMLResponse:
    """The invoice; a refusal is shown beside ``form`` (empty: the payment's)."""
    context = account_context(current, account_id, "invoices")
    invoice = invoice_of_account(current, account_id, invoice_id, Access.ACCOUNT_READ)
    doc = projected(reads, lambda sql: overview.invoice(sql, invoice_id), "invoice")
    # every mention the law requires, from the legal document the PDF and XML show
    legal = LegalDocumentOut.of(legal_document(current.ledger, invoice)).model_dump(mode="json")
    now = current.ledger.clock.now()
    links = [(link, link.status(now)) for link in ShareLinks(current.ledger).of_invoice(invoice_id)]
    return page(
        current,
        "invoice.html",
        **context,
        invoice=doc,
        legal=legal,
        links=list(reversed(links)),
        test_cards=TEST_CARDS,
        saved_method=context["account"].payment_method,
        today=now.date().isoformat(),
        refusal=refusal,
        refused_form=form,
        entered=entered or {},
        correction_key=new_key(),
        shared_url=shared_url,
        pay_key=new_key(),
        share_key=new_key(),
    )


@router.get(INVOICE, response_class=HTMLResponse)
def invoice_page(
    account_id: UUID, invoice_id: UUID, current: SignedIn, reads: FreshReads
) -> Response:
    return render_invoice(current, account_id, invoice_id, reads)


@router.get(INVOICE + "/{kind}")
def invoice_document(account_id: UUID, invoice_id: UUID, kind: str, current: SignedIn) -> Response:
    """The PDF, XML or CSV, exactly the API's download."""
    invoice = invoice_of_account(current, account_id, invoice_id, Access.ACCOUNT_READ)
    media = {"pdf": documents.PDF, "xml": documents.XML, "csv": documents.CSV}.get(kind)
    if media is None:
        raise NotFound(f"no {kind} of an invoice")
    return documents.document(current.ledger, invoice, media)


@router.get(INVOICE + "/credit-notes/{credit_note_id}/{kind}")
def credit_note_document(
    account_id: UUID, invoice_id: UUID, credit_note_id: str, kind: str, current: SignedIn
) -> Response:
    """A credit note's PDF or XML, exactly the API's download."""
    invoice = invoice_of_account(current, account_id, invoice_id, Access.ACCOUNT_READ)
    media = {"pdf": documents.PDF, "xml": documents.XML}.get(kind)
    if media is None:
        raise NotFound(f"no {kind} of a credit note")
    return documents.credit_note_document(current.ledger, invoice, credit_note_id, media)


@router.post(INVOICE + "/payments")
def pay(account_id: UUID, invoice_id: UUID, posted: Form, reads: FreshReads) -> Response:
    """Pay the balance or part of it, with the saved method or a test card."""
    current = posted.visit

    def act() -> Response:
        invoice = invoice_of_account(current, account_id, invoice_id, Access.SELF_SERVICE)
        method = posted.text("payment_method")
        body = posted.model(
            PaymentIn,
            amount=posted.text("amount") if posted.text("how") == "part" else "",
            payment_method="" if method == "saved" else method,
        )
        amount = money_in(body.amount, invoice.currency) if body.amount else None
        if body.payment_method:
            _save_new_card(current, posted, invoice.account_id, body.payment_method)
        outcome = Payments(current.ledger).pay(posted.ctx, invoice_id, amount, body.payment_method)
        if outcome.declined is not None:
            # recorded (PaymentFailed), as the API's 402 is; shown beside the form
            raise ApiError(402, "payment-declined", "Payment Required", outcome.declined.reason)
        path = f"{account_path(account_id)}/invoices/{invoice_id}"
        return done(current, path, "paid", outcome.receipt)

    return attempt(act, lambda found: render_invoice(current, account_id, invoice_id, reads, found))


def _save_new_card(current: Visit, posted: Form, account_id: UUID, method: str) -> None:
    """A card chosen at checkout becomes the account's payment method first, as the form
    says: a payment only ever uses a method the account recorded (ADR 19). Its own
    command, with a key derived from the form's, so a resubmitted form saves it once."""
    if method == current.ledger.account(account_id).payment_method:
        return
    key = posted.ctx.idempotency_key
    ctx = replace(
        posted.ctx,
        idempotency_key=f"{key}:card" if key else None,
        fingerprint=f"{posted.ctx.fingerprint}:card:{method}",
        expected_version=None,
    )
    current.ledger.set_payment_method(ctx, account_id, method)


@router.post(INVOICE + "/share-links")
def share(account_id: UUID, invoice_id: UUID, posted: Form, reads: FreshReads) -> Response:
    """Create a share link and show it, once: it is never stored, so this answer is the
    page itself rather than a redirect."""
    current = posted.visit

    def act() -> Response:
        invoice_of_account(current, account_id, invoice_id, Access.SELF_SERVICE)
        days = posted.model(ShareLinkIn, expires_in_days=posted.text("days")).expires_in_days
        created = ShareLinks(current.ledger).create(posted.ctx, invoice_id, days)
        if created.receipt.replayed:
            raise ApiError(
                409,
                "share-link-already-created",
                "Conflict",
                "this form already created a share link, shown once; revoke it and create another",
            )
        url = str(current.request.url_for("open_shared_invoice", token=created.token))
        return render_invoice(current, account_id, invoice_id, reads, shared_url=url)

    return attempt(act, lambda found: render_invoice(current, account_id, invoice_id, reads, found))


@router.post(INVOICE + "/share-links/{link_id}/revoke")
def revoke_share(
    account_id: UUID, invoice_id: UUID, link_id: UUID, posted: Form, reads: FreshReads
) -> Response:
    current = posted.visit

    def act() -> Response:
        invoice_of_account(current, account_id, invoice_id, Access.SELF_SERVICE)
        receipt = ShareLinks(current.ledger).revoke(posted.ctx, invoice_id, link_id)
        return done(
            current, f"{account_path(account_id)}/invoices/{invoice_id}", "link-revoked", receipt
        )

    return attempt(act, lambda found: render_invoice(current, account_id, invoice_id, reads, found))
