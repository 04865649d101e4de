"""Contracts: buying products, adding licenses, renewals, seats."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from fastapi import APIRouter, Response, status

from domain.invoice import Invoice
from domain.license import License
from domain.subscription import Subscription
from projections import account_overview as overview
from projections.documents import license_document, subscription_document
from service.access.tokens import CUSTOMER_ROLES, Principal
from service.http.access import Access, access_extra, account_for, require
from service.http.deps import CommandDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import DatedReads, PointInTimeReads, aggregate_document
from service.http.responses import answer, in_a_thread, written
from service.http.schemas.subscriptions import (
    CancellationIn,
    LicenseOnDayOut,
    LicenseOut,
    LicensesIn,
    RenewalIn,
    SubscriptionChangeOut,
    SubscriptionIn,
    SubscriptionOut,
)
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.reads.point_in_time import account_at
from service.reads.seats import seats_on_day

router = APIRouter(tags=["subscriptions"], responses=PROBLEM_RESPONSES)


def subscription_for(
    ledger: Ledger, principal: Principal, subscription_id: UUID, level: Access
) -> Subscription:
    """The subscription, if visible to the principal at ``level`` (else 404 / 403).

    The role is checked before the lookup, so a refused role cannot learn which ids exist."""
    require(principal, level)
    sub = ledger.subscription(subscription_id)
    if principal.role in CUSTOMER_ROLES:  # their own account, with Manage Billing
        account_for(ledger, principal, sub.account_id, level, f"subscription {subscription_id}")
    # Staff roles may see every account, and a contract's account always exists: loading
    # it (a read of the store) would check nothing.
    return sub


def check_subscription(
    ledger: Ledger,
    principal: Principal,
    ctx: CommandContext,
    subscription_id: UUID,
    level: Access,
) -> None:
    """``subscription_for`` before a command on the contract, which loads it first thing.

    A staff caller's command without an Idempotency-Key refuses an unknown contract (404)
    as the lookup here would, before anything else, so the lookup is left to it: one read
    of the store fewer. With a key, the command first looks the key up, and a key used
    before would be refused ahead of the 404 this lookup answers."""
    if principal.role in CUSTOMER_ROLES or ctx.idempotency_key is not None:
        subscription_for(ledger, principal, subscription_id, level)
    else:
        require(principal, level)


def _subscription(ledger: Ledger, receipt: Receipt) -> Subscription:
    """The contract at the receipt's version: as the command saved it, or (a replay, a
    command that did not change it) loaded at that version."""
    saved = receipt.saved_as(Subscription, receipt.aggregate_id)
    if saved is not None and saved.version == receipt.version:
        return saved
    return ledger.subscription(receipt.aggregate_id, receipt.version)


def _is_invoice(ledger: Ledger, receipt: Receipt, aggregate_id: UUID) -> bool:
    if any(a.id == aggregate_id for a in receipt.saved):
        return receipt.saved_as(Invoice, aggregate_id) is not None
    return isinstance(ledger.repository.get(aggregate_id), Invoice)


def _change_out(ledger: Ledger, receipt: Receipt, status_code: int = 200) -> Response:
    invoice_id = next((i for i in receipt.created if _is_invoice(ledger, receipt, i)), None)
    response = answer(
        SubscriptionChangeOut(
            subscription=SubscriptionOut.model_validate(
                subscription_document(_subscription(ledger, receipt))
            ),
            invoice_id=invoice_id,
        ),
        status_code,
    )
    written(response, receipt, ledger)
    return response


def _subscription_after(ledger: Ledger, receipt: Receipt) -> Response:
    response = answer(
        SubscriptionOut.model_validate(subscription_document(_subscription(ledger, receipt)))
    )
    written(response, receipt, ledger)
    return response


def _license_after(ledger: Ledger, receipt: Receipt) -> Response:
    pool = receipt.saved_as(License, receipt.aggregate_id)
    if pool is None or pool.version != receipt.version:
        pool = ledger.repository.get(receipt.aggregate_id, version=receipt.version)
    response = answer(LicenseOut.model_validate(license_document(pool)))
    written(response, receipt, ledger)
    return response


@router.get(
    "/v1/accounts/{account_id}/subscriptions",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="The account's contracts",
)
def list_subscriptions(
    account_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads
) -> list[SubscriptionOut]:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    with reads.sql() as sql:
        if reads.as_of is not None:
            then = account_at(ledger, sql, account_id, reads.as_of, reads.effective)
            documents = [
                subscription_document(s.aggregate) for s in then.subscriptions if s.in_force
            ]
        else:
            documents = overview.subscriptions_of(sql, account_id)
    return [SubscriptionOut.model_validate(d) for d in documents]


# Each command that moves money is one function, called by its route and by its preview
# (service/http/routes/previews.py), so that both check and do exactly the same.


def buy(
    ledger: Ledger,
    principal: Principal,
    ctx: CommandContext,
    account_id: UUID,
    body: SubscriptionIn,
) -> Receipt:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    return ledger.start_subscription(
        ctx,
        account_id,
        body.quantities(),
        term_months=body.term_months,
        billing_period=body.billing_period,
        auto_renew=body.auto_renew,
    )


def add_licenses_to(
    ledger: Ledger,
    principal: Principal,
    ctx: CommandContext,
    subscription_id: UUID,
    body: LicensesIn,
) -> Receipt:
    check_subscription(ledger, principal, ctx, subscription_id, Access.SELF_SERVICE)
    return ledger.add_licenses(
        replace(ctx, reason=body.reason),
        subscription_id,
        body.product_code,
        body.quantity,
        body.effective,
    )


def add_product_to(
    ledger: Ledger,
    principal: Principal,
    ctx: CommandContext,
    subscription_id: UUID,
    body: LicensesIn,
) -> Receipt:
    check_subscription(ledger, principal, ctx, subscription_id, Access.SELF_SERVICE)
    return ledger.add_product(
        replace(ctx, reason=body.reason),
        subscription_id,
        body.product_code,
        body.quantity,
        body.effective,
    )


def change_renewal(
    ledger: Ledger,
    principal: Principal,
    ctx: CommandContext,
    subscription_id: UUID,
    body: RenewalIn,
) -> Receipt:
    check_subscription(ledger, principal, ctx, subscription_id, Access.SELF_SERVICE)
    return ledger.schedule_renewal(ctx, subscription_id, body.term_months, body.quantities)


# The commands' routes are async: they check the caller (``CommandDep``), run the command
# and render its answer in one call to the thread pool (``in_a_thread``), returning a
# ready response. As sync routes with ``PrincipalDep`` they cost three hand-offs to a
# worker thread (the token's check, the route, FastAPI's validation of its answer);
# ``response_model`` keeps the OpenAPI document as it was.


@router.post(
    "/v1/accounts/{account_id}/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionChangeOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Buy products: a new contract, invoiced for its first period",
)
async def start_subscription(
    account_id: UUID,
    body: SubscriptionIn,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        receipt = buy(ledger, principal, ctx, account_id, body)
        response = _change_out(ledger, receipt, status.HTTP_201_CREATED)
        response.headers["Location"] = f"/v1/subscriptions/{receipt.aggregate_id}"
        return response

    return await in_a_thread(run)


@router.get(
    "/v1/subscriptions/{subscription_id}",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="A contract",
)
def get_subscription(
    subscription_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: PointInTimeReads,
    response: Response,
) -> SubscriptionOut:
    subscription_for(ledger, principal, subscription_id, Access.ACCOUNT_READ)
    found = aggregate_document(
        reads,
        ledger,
        Subscription,
        subscription_id,
        subscription_document,
        lambda sql: overview.subscription(sql, subscription_id),
        response,
    )
    return SubscriptionOut.model_validate(found)


@router.post(
    "/v1/subscriptions/{subscription_id}/licenses",
    response_model=SubscriptionChangeOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Add licenses to a line: prorated to the period end and invoiced at once",
)
async def add_licenses(
    subscription_id: UUID,
    body: LicensesIn,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        return _change_out(ledger, add_licenses_to(ledger, principal, ctx, subscription_id, body))

    return await in_a_thread(run)


@router.post(
    "/v1/subscriptions/{subscription_id}/products",
    response_model=SubscriptionChangeOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Add a product or add-on: prorated to the period end and invoiced at once",
)
async def add_product(
    subscription_id: UUID,
    body: LicensesIn,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        return _change_out(ledger, add_product_to(ledger, principal, ctx, subscription_id, body))

    return await in_a_thread(run)


@router.put(
    "/v1/subscriptions/{subscription_id}/renewal",
    response_model=SubscriptionOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Schedule the next renewal, or change the scheduled one",
)
async def schedule_renewal(
    subscription_id: UUID,
    body: RenewalIn,
    command: CommandDep,
) -> Response:
    """Quantities named change those lines of the next term, 0 drops a line, and lines not
    named are kept. A product not on the plan is added only if the catalog sells it in the
    account's edition (else 409). Nothing is invoiced now: the next term's first period
    is, when it renews."""

    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        return _subscription_after(
            ledger, change_renewal(ledger, principal, ctx, subscription_id, body)
        )

    return await in_a_thread(run)


@router.delete(
    "/v1/subscriptions/{subscription_id}/renewal",
    response_model=SubscriptionOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Cancel the next renewal: the contract ends at its term end",
)
async def cancel_renewal(
    subscription_id: UUID,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        check_subscription(ledger, principal, ctx, subscription_id, Access.SELF_SERVICE)
        return _subscription_after(ledger, ledger.cancel_renewal(ctx, subscription_id))

    return await in_a_thread(run)


@router.post(
    "/v1/subscriptions/{subscription_id}/cancellation",
    response_model=SubscriptionOut,
    openapi_extra=access_extra(Access.STAFF),
    summary="End a contract early (staff, with a reason)",
)
async def cancel_subscription(
    subscription_id: UUID,
    body: CancellationIn,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        check_subscription(ledger, principal, ctx, subscription_id, Access.STAFF)
        receipt = ledger.cancel_subscription(
            replace(ctx, reason=body.reason), subscription_id, body.effective
        )
        return _subscription_after(ledger, receipt)

    return await in_a_thread(run)


@router.get(
    "/v1/accounts/{account_id}/licenses",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="Seats held and assigned per product on a day (default today), and the seats "
    "already scheduled to start or end after it",
    description="`held` counts the seats in force on `effective` (default: `as_of`'s day, "
    "today without either) as the ledger knew them at `as_of` (default: now); seats bought "
    "from a later day are listed in `scheduled` with the day they take effect.",
)
def list_licenses(
    account_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: DatedReads
) -> list[LicenseOnDayOut]:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    assert reads.as_of is not None  # dated reads always are
    with reads.sql() as sql:
        pools = seats_on_day(ledger, sql, account_id, reads.as_of, reads.effective)
    return [LicenseOnDayOut.on_day(pool) for pool in pools]


@router.put(
    "/v1/accounts/{account_id}/licenses/{product_code}/assignments/{user_id}",
    response_model=LicenseOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Assign a seat to a user",
)
async def assign_seat(
    account_id: UUID,
    product_code: str,
    user_id: str,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        account_for(ledger, principal, account_id, Access.SELF_SERVICE)
        return _license_after(ledger, ledger.assign_seat(ctx, account_id, product_code, user_id))

    return await in_a_thread(run)


@router.delete(
    "/v1/accounts/{account_id}/licenses/{product_code}/assignments/{user_id}",
    response_model=LicenseOut,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Take a seat back from a user",
)
async def unassign_seat(
    account_id: UUID,
    product_code: str,
    user_id: str,
    command: CommandDep,
) -> Response:
    def run() -> Response:
        principal, ctx = command.check()
        ledger = command.ledger
        account_for(ledger, principal, account_id, Access.SELF_SERVICE)
        return _license_after(ledger, ledger.unassign_seat(ctx, account_id, product_code, user_id))

    return await in_a_thread(run)
