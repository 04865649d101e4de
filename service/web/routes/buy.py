"""Buying products: a new contract from the catalog of the account's edition, with the
exact invoice of its first period shown live and on review, and the confirmation bound
to it by its quote (ADR 0024), as adding licenses is."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain import catalog
from domain.period import BillingPeriod
from service.http.access import Access
from service.http.routes.previews import previewing
from service.http.routes.subscriptions import buy as buy_products
from service.http.schemas.subscriptions import SubscriptionIn
from service.web.account_view import account_context, account_path
from service.web.deps import SignedIn, Visit
from service.web.forms import CAUGHT, Form, Posted, attempt, new_key, refusal_for
from service.web.pages import done, page
from service.web.refusals import Refusal
from service.web.routes.contracts import TERMS, Previewed, bound, fragment, previewed

router = APIRouter()
BUY = "/accounts/{account_id}/buy"


def _products(current: Visit, account_id: UUID) -> list[catalog.Product]:
    edition = current.ledger.account(account_id).edition
    return [p for p in catalog.PRODUCTS.values() if edition in p.editions]


def _order(posted: Posted, products: list[catalog.Product]) -> SubscriptionIn:
    """The API's request model, from the form: a line per product given a quantity."""
    lines = [
        {"product_code": p.code, "quantity": posted.text(f"quantity-{p.code}")}
        for p in products
        if posted.text(f"quantity-{p.code}") not in ("", "0")
    ]
    return posted.model(
        SubscriptionIn,
        lines=lines,
        term_months=posted.text("term_months"),
        billing_period=posted.text("billing_period"),
    )


def _preview(posted: Posted, account_id: UUID) -> Previewed:
    current = posted.visit
    assert current.principal is not None
    body = _order(posted, _products(current, account_id))
    receipt = buy_products(
        current.ledger, current.principal, previewing(posted.ctx), account_id, body
    )
    return previewed(receipt)


def _buy_page(
    current: Visit,
    account_id: UUID,
    step: str = "choose",
    refusal: Refusal | None = None,
    posted: Posted | None = None,
    preview: Previewed | None = None,
) -> HTMLResponse:
    context = account_context(current, account_id, "overview", Access.SELF_SERVICE)
    entered: dict[str, Any] = posted.fields if posted is not None else {}
    return page(
        current,
        "buy.html",
        **context,
        step=step,
        products=_products(current, account_id),
        periods=[p.value for p in BillingPeriod],
        terms=TERMS,
        entered=entered,
        refusal=refusal,
        preview=preview,
        preview_refusal=None,
        preview_invoices=preview.invoices if preview else [],
        key=new_key(),
    )


@router.get(BUY, response_class=HTMLResponse)
def buy_page(account_id: UUID, current: SignedIn) -> Response:
    return _buy_page(current, account_id)


@router.post(BUY + "/preview", response_class=HTMLResponse)
def preview_buying(account_id: UUID, posted: Form) -> Response:
    """The first invoice the form's order would issue (live update)."""
    account_context(posted.visit, account_id, "overview", Access.SELF_SERVICE)
    return fragment(posted.visit, lambda: _preview(posted, account_id))


@router.post(BUY)
def buy(account_id: UUID, posted: Form) -> Response:
    """``step=review`` shows the order's first invoice; ``step=confirm`` buys it, bound
    to that invoice's quote."""
    current = posted.visit
    step = posted.text("step")

    def review() -> HTMLResponse:
        found = _preview(posted, account_id)
        return _buy_page(current, account_id, "review", posted=posted, preview=found)

    def act() -> Response:
        assert current.principal is not None
        if step != "confirm":
            return review()
        body = _order(posted, _products(current, account_id))
        ctx = bound(posted.ctx, posted)
        receipt = buy_products(current.ledger, current.principal, ctx, account_id, body)
        path = f"{account_path(account_id)}/contracts/{receipt.aggregate_id}"
        return done(current, path, "products-bought", receipt)

    def refused(found: Refusal) -> Response:
        if step == "confirm" and found.status == 412:
            try:  # the price moved since the review: the review as it now stands
                again = _preview(posted, account_id)
                return _buy_page(current, account_id, "review", found, posted, again)
            except CAUGHT as error:
                found = refusal_for(error)
        return _buy_page(current, account_id, refusal=found, posted=posted)

    return attempt(act, refused)
