"""A contract: its lines, term and renewal; adding licenses or a product; the renewal.

Adding is two steps, as on the product page: the form, then a review of what will be
bought and invoiced, confirmed with one button. The confirm form carries the
idempotency key, so confirming twice buys once. (The review shows the list price; the
exact invoice preview of the billing issue takes its place when it lands.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain import catalog
from domain.errors import NotFound
from domain.subscription import Subscription
from projections import account_overview as overview
from service.http.access import Access
from service.http.reads import FreshReads, projected
from service.http.routes.subscriptions import subscription_for
from service.http.schemas.common import LicensesIn, RenewalIn
from service.web.account_view import account_context, account_path
from service.web.deps import SignedIn, Visit
from service.web.forms import Form, attempt, new_key
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


# -- adding licenses or a product ------------------------------------------------------


def _choices(current: Visit, sub: Subscription, adding: str) -> list[catalog.Product]:
    """What can be added: a line's product (licenses), or a product of the account's
    edition the contract does not have yet."""
    if adding == "licenses":
        return [catalog.product(line.product_code) for line in sub.lines.values()]
    edition = current.ledger.account(sub.account_id).edition
    held = {line.product_code for line in sub.lines.values()}
    return [p for p in catalog.PRODUCTS.values() if edition in p.editions and p.code not in held]


def _add_page(
    current: Visit,
    account_id: UUID,
    subscription_id: UUID,
    adding: str,
    step: str = "choose",
    refusal: Refusal | None = None,
    chosen: tuple[str, int] | None = None,
) -> HTMLResponse:
    context = account_context(current, account_id, "overview", Access.SELF_SERVICE)
    sub = _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
    account = context["account"]
    today = current.ledger.clock.now().date()
    review: dict[str, Any] | None = None
    if chosen is not None and step == "review":
        product = catalog.product(chosen[0])
        line = sub.line_for(product.code)
        review = {
            "product": product,
            "quantity": chosen[1],
            "before": line.quantity if line else 0,
            "unit_price": catalog.unit_price(
                product.code, account.edition, account.currency, sub.billing_period, today
            ),
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
        today=today,
    )


def _add(posted: Form, account_id: UUID, subscription_id: UUID, adding: str) -> Response:
    current = posted.visit
    step = posted.text("step")

    def act() -> Response:
        _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
        body = posted.model(
            LicensesIn, product_code=posted.text("product_code"), quantity=posted.text("quantity")
        )
        chosen = (body.product_code, body.quantity)
        if step != "confirm":
            catalog.product_for_edition(
                body.product_code, current.ledger.account(account_id).edition
            )
            return _add_page(current, account_id, subscription_id, adding, "review", chosen=chosen)
        use_case = (
            current.ledger.add_licenses if adding == "licenses" else current.ledger.add_product
        )
        receipt = use_case(posted.ctx, subscription_id, body.product_code, body.quantity)
        notice = "licenses-added" if adding == "licenses" else "product-added"
        path = f"{account_path(account_id)}/contracts/{subscription_id}"
        return done(current, path, notice, receipt)

    def refused(found: Refusal) -> Response:
        chosen = (posted.text("product_code"), 0)
        return _add_page(current, account_id, subscription_id, adding, refusal=found, chosen=chosen)

    return attempt(act, refused)


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


# -- the renewal ----------------------------------------------------------------------


def _renewal_page(
    current: Visit, account_id: UUID, subscription_id: UUID, refusal: Refusal | None = None
) -> HTMLResponse:
    context = account_context(current, account_id, "overview", Access.SELF_SERVICE)
    sub = _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
    planned = {
        line.product_code: line.quantity for line in (sub.renewal.lines if sub.renewal else [])
    }
    rows = [
        (
            line.product_code,
            catalog.product(line.product_code).name,
            line.quantity,
            planned.get(line.product_code, 0 if sub.renewal else line.quantity),
        )
        for line in sub.lines.values()
    ]
    return page(
        current,
        "renewal.html",
        **context,
        contract=sub,
        rows=rows,
        terms=TERMS,
        term=sub.renewal.term_months if sub.renewal else 12,
        refusal=refusal,
        key=new_key(),
        cancel_key=new_key(),
    )


@router.get(CONTRACT + "/renewal", response_class=HTMLResponse)
def renewal_page(account_id: UUID, subscription_id: UUID, current: SignedIn) -> Response:
    return _renewal_page(current, account_id, subscription_id)


@router.post(CONTRACT + "/renewal")
def change_renewal(account_id: UUID, subscription_id: UUID, posted: Form) -> Response:
    """Schedule the next term, change it, or cancel it (``action=cancel``)."""
    current = posted.visit
    path = f"{account_path(account_id)}/contracts/{subscription_id}"

    def act() -> Response:
        sub = _contract(current, account_id, subscription_id, Access.SELF_SERVICE)
        if posted.text("action") == "cancel":
            receipt = current.ledger.cancel_renewal(posted.ctx, subscription_id)
            return done(current, path, "renewal-cancelled", receipt)
        quantities = {
            line.product_code: posted.text(f"quantity-{line.product_code}")
            for line in sub.lines.values()
        }
        body = posted.model(
            RenewalIn, term_months=posted.text("term_months"), quantities=quantities
        )
        receipt = current.ledger.schedule_renewal(
            posted.ctx, subscription_id, body.term_months, body.quantities
        )
        return done(current, path, "renewal-scheduled", receipt)

    return attempt(act, lambda found: _renewal_page(current, account_id, subscription_id, found))
