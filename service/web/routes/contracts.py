"""A contract: its lines, term and renewal; adding licenses or a product; the renewal.

Adding is two steps, as on the product page: the form, then a review of the exact
invoice, confirmed with one button. The review is the command's own preview (the API's
``/preview``, ADR 0018); the confirm form carries the version and the quote it was
computed on, so the command issues what the review showed or refuses (ADR 0024), and
its idempotency key, so confirming twice buys once. With JavaScript, the invoice of the
form's choice is shown live as it changes (the same preview, as a fragment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain import catalog
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.subscription import Subscription
from projections import account_overview as overview
from service.http.access import Access
from service.http.reads import FreshReads, projected
from service.http.routes.previews import previewing
from service.http.routes.subscriptions import (
    add_licenses_to,
    add_product_to,
    subscription_for,
)
from service.http.routes.subscriptions import (
    change_renewal as change_renewal_of,
)
from service.http.schemas.subscriptions import LicensesIn, RenewalIn
from service.ledger import quotes
from service.ledger.application import Receipt
from service.ledger.context import CommandContext
from service.web.account_view import account_context, account_path
from service.web.deps import SignedIn, Visit
from service.web.forms import CAUGHT, Form, Posted, attempt, new_key, refusal_for
from service.web.pages import done, page
from service.web.refusals import Refusal

router = APIRouter()
CONTRACT = "/accounts/{account_id}/contracts/{subscription_id}"
TERMS = (12, 24, 36)


def _contract(
    current: Visit, account_id: UUID, subscription_id: UUID, level: Access
) -> Subscription:
    """The contract, if it is this account's and the visitor may see it at ``level``."""
    assert current.principal is not None
    sub = subscription_for(current.ledger, current.principal, subscription_id, level)
    if sub.account_id != account_id:
        raise NotFound(f"no subscription {subscription_id}")
    return sub


def _contract_page(
    current: Visit, account_id: UUID, subscription_id: UUID, reads: Any, **extra: Any
) -> Response:
    context = account_context(current, account_id, "overview")
    _contract(current, account_id, subscription_id, Access.ACCOUNT_READ)
    doc = projected(reads, lambda sql: overview.subscription(sql, subscription_id), "contract")
    return page(current, "contract.html", **context, contract=doc, **extra)


@router.get(CONTRACT, response_class=HTMLResponse)
def contract_page(
    account_id: UUID, subscription_id: UUID, current: SignedIn, reads: FreshReads
) -> Response:
    return _contract_page(current, account_id, subscription_id, reads)


# -- previews ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Previewed:
    """What a command would invoice, and what binds its confirmation to it: the subject's
    version (If-Match) and the invoices' quote."""

    invoices: list[Invoice]
    version: int
    quote: str


def previewed(receipt: Receipt, *more: Invoice) -> Previewed:
    return Previewed(
        [*quotes.issued(receipt.pending), *more], receipt.version, quotes.quote(receipt.pending)
    )


def bound(ctx: CommandContext, posted: Posted) -> CommandContext:
    """The command's context, bound to the preview its form was confirmed on."""
    version = posted.text("version")
    return replace(
        ctx,
        expected_version=int(version) if version.isdigit() else None,
        expected_quote=posted.text("quote") or None,
    )


def fragment(current: Visit, preview: Callable[[], Previewed]) -> Response:
    """The preview as a fragment of a page, for the live update (app.js)."""
    try:
        found = preview()
    except CAUGHT as error:
        return page(current, "preview.html", preview_refusal=refusal_for(error))
    return page(current, "preview.html", preview_refusal=None, preview_invoices=found.invoices)


# -- adding licenses or a product ------------------------------------------------------

Adding = Callable[..., Receipt]
USE_CASES: dict[str, Adding] = {"licenses": add_licenses_to, "products": add_product_to}
NOTICES = {"licenses": "licenses-added", "products": "product-added"}


def _choices(current: Visit, sub: Subscription, adding: str) -> list[catalog.Product]:
    """What can be added: a line's product (licenses), or a product of the account's
    edition the contract does not have yet."""
    if adding == "licenses":
        return [catalog.product(line.product_code) for line in sub.lines.values()]
    edition = current.ledger.account(sub.account_id).edition
    held = {line.product_code for line in sub.lines.values()}
    return [p for p in catalog.PRODUCTS.values() if edition in p.editions and p.code not in held]


def _adding(posted: Posted) -> LicensesIn:
    return posted.model(
        LicensesIn, product_code=posted.text("product_code"), quantity=posted.text("quantity")
    )


def _preview_adding(posted: Posted, subscription_id: UUID, adding: str) -> Previewed:
    current = posted.visit
    assert current.principal is not None
    receipt = USE_CASES[adding](
        current.ledger, current.principal, previewing(posted.ctx), subscription_id, _adding(posted)
    )
    return previewed(receipt)


def _add_page(
    current: Visit,
    account_id: UUID,
    subscription_id: UUID,
    adding: str,
    step: str = "choose",
    refusal: Refusal | None = None,
    chosen: tuple[str, int] | None = None,
    preview: Previewed | None = None,
) -> HTMLResponse:
    context = account_context(current, account_id, "overview", Access.SELF_SERVICE)
    sub = _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
    review: dict[str, Any] | None = None
    if chosen is not None and preview is not None and step == "review":
        product = catalog.product(chosen[0])
        line = sub.line_for(product.code)
        review = {
            "product": product,
            "quantity": chosen[1],
            "before": line.quantity if line else 0,
            "preview": preview,
        }
    return page(
        current,
        "add.html",
        **context,
        adding=adding,
        step=step,
        contract=sub,
        products=_choices(current, sub, adding),
        chosen=chosen,
        review=review,
        refusal=refusal,
        key=new_key(),
        today=current.ledger.clock.now().date(),
        preview_refusal=None,
        preview_invoices=preview.invoices if preview else [],
    )


def _add(posted: Form, account_id: UUID, subscription_id: UUID, adding: str) -> Response:
    current = posted.visit
    step = posted.text("step")

    def review() -> HTMLResponse:
        body = _adding(posted)
        chosen = (body.product_code, body.quantity)
        found = _preview_adding(posted, subscription_id, adding)
        return _add_page(
            current, account_id, subscription_id, adding, "review", chosen=chosen, preview=found
        )

    def act() -> Response:
        assert current.principal is not None
        _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
        if step != "confirm":
            return review()
        ctx = bound(posted.ctx, posted)
        receipt = USE_CASES[adding](
            current.ledger, current.principal, ctx, subscription_id, _adding(posted)
        )
        path = f"{account_path(account_id)}/contracts/{subscription_id}"
        return done(current, path, NOTICES[adding], receipt)

    def refused(found: Refusal) -> Response:
        if step == "confirm" and found.status == 412:
            # the price moved since the review: the review again, as it now stands
            try:
                return _with_refusal(posted, account_id, subscription_id, adding, found)
            except CAUGHT as error:
                found = refusal_for(error)
        chosen = (posted.text("product_code"), 0)
        return _add_page(current, account_id, subscription_id, adding, refusal=found, chosen=chosen)

    return attempt(act, refused)


def _with_refusal(
    posted: Posted, account_id: UUID, subscription_id: UUID, adding: str, found: Refusal
) -> HTMLResponse:
    """The review as the command now stands, with why the confirmation was refused."""
    body = _adding(posted)
    return _add_page(
        posted.visit,
        account_id,
        subscription_id,
        adding,
        "review",
        refusal=found,
        chosen=(body.product_code, body.quantity),
        preview=_preview_adding(posted, subscription_id, adding),
    )


@router.get(CONTRACT + "/licenses", response_class=HTMLResponse)
def add_licenses_page(account_id: UUID, subscription_id: UUID, current: SignedIn) -> Response:
    return _add_page(current, account_id, subscription_id, "licenses")


@router.post(CONTRACT + "/licenses")
def add_licenses(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    return _add(posted, account_id, subscription_id, "licenses")


@router.get(CONTRACT + "/products", response_class=HTMLResponse)
def add_product_page(account_id: UUID, subscription_id: UUID, current: SignedIn) -> Response:
    return _add_page(current, account_id, subscription_id, "products")


@router.post(CONTRACT + "/products")
def add_product(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    return _add(posted, account_id, subscription_id, "products")


def _preview_page(posted: Posted, account_id: UUID, subscription_id: UUID, adding: str) -> Response:
    """The invoice the add form's current choice would issue (live update)."""
    _contract(posted.visit, account_id, subscription_id, Access.SELF_SERVICE)
    return fragment(posted.visit, lambda: _preview_adding(posted, subscription_id, adding))


@router.post(CONTRACT + "/licenses/preview", response_class=HTMLResponse)
def preview_licenses(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    return _preview_page(posted, account_id, subscription_id, "licenses")


@router.post(CONTRACT + "/products/preview", response_class=HTMLResponse)
def preview_product(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    return _preview_page(posted, account_id, subscription_id, "products")


# -- the renewal ----------------------------------------------------------------------


def _renewal_body(posted: Posted, sub: Subscription) -> RenewalIn:
    quantities = {
        line.product_code: posted.text(f"quantity-{line.product_code}")
        for line in sub.lines.values()
    }
    return posted.model(RenewalIn, term_months=posted.text("term_months"), quantities=quantities)


def _preview_renewal(posted: Posted, sub: Subscription) -> Previewed:
    """The invoice the next term will start with, as the form would plan it."""
    current = posted.visit
    assert current.principal is not None
    body = _renewal_body(posted, sub)
    receipt = change_renewal_of(
        current.ledger, current.principal, previewing(posted.ctx), sub.id, body
    )
    (planned,) = [a for a in receipt.pending if isinstance(a, Subscription)]
    return previewed(receipt, current.ledger.renewal_invoice(planned))


def _renewal_page(
    current: Visit,
    account_id: UUID,
    subscription_id: UUID,
    refusal: Refusal | None = None,
    posted: Posted | None = None,
) -> HTMLResponse:
    context = account_context(current, account_id, "overview", Access.SELF_SERVICE)
    sub = _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
    planned = {
        line.product_code: line.quantity for line in (sub.renewal.lines if sub.renewal else [])
    }
    entered = posted.fields if posted is not None else {}
    rows = [
        (
            line.product_code,
            catalog.product(line.product_code).name,
            line.quantity,
            entered.get(
                f"quantity-{line.product_code}",
                planned.get(line.product_code, 0 if sub.renewal else line.quantity),
            ),
        )
        for line in sub.lines.values()
    ]
    preview: Previewed | None = None
    preview_refusal: Refusal | None = None
    if posted is not None and refusal is None:
        try:
            preview = _preview_renewal(posted, sub)
        except CAUGHT as error:
            preview_refusal = refusal_for(error)
    term = entered.get("term_months", str(sub.renewal.term_months if sub.renewal else 12))
    return page(
        current,
        "renewal.html",
        **context,
        contract=sub,
        rows=rows,
        terms=TERMS,
        term=int(term) if term.isdigit() else 12,
        refusal=refusal,
        key=new_key(),
        cancel_key=new_key(),
        previewing=posted is not None and refusal is None,
        preview_refusal=preview_refusal,
        preview_invoices=preview.invoices if preview else [],
    )


@router.get(CONTRACT + "/renewal", response_class=HTMLResponse)
def renewal_page(account_id: UUID, subscription_id: UUID, current: SignedIn) -> Response:
    return _renewal_page(current, account_id, subscription_id)


@router.post(CONTRACT + "/renewal/preview", response_class=HTMLResponse)
def preview_renewal(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    """The invoice the renewal as entered would start the next term with (live update)."""
    sub = _contract(posted.visit, account_id, subscription_id, Access.SELF_SERVICE)
    return fragment(posted.visit, lambda: _preview_renewal(posted, sub))


@router.post(CONTRACT + "/renewal")
def change_renewal(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    """Schedule the next term, change it, or cancel it (``action=cancel``); ``action=preview``
    shows the invoice the next term would start with (without JavaScript)."""
    current = posted.visit
    path = f"{account_path(account_id)}/contracts/{subscription_id}"
    action = posted.text("action")

    def act() -> Response:
        assert current.principal is not None
        sub = _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
        if action == "preview":
            return _renewal_page(current, account_id, subscription_id, posted=posted)
        ctx = bound(posted.ctx, posted)
        if action == "cancel":
            receipt = current.ledger.cancel_renewal(ctx, subscription_id)
            return done(current, path, "renewal-cancelled", receipt)
        body = _renewal_body(posted, sub)
        receipt = change_renewal_of(current.ledger, current.principal, ctx, subscription_id, body)
        return done(current, path, "renewal-scheduled", receipt)

    return attempt(
        act, lambda found: _renewal_page(current, account_id, subscription_id, found, posted)
    )
