"""Accounts: billing details, payment method, contacts, users, Manage Billing, identity
licenses and upgrade requests (support cases: ``support_cases``)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from fastapi import APIRouter, Response, status

from domain.account import Account
from domain.errors import NotFound
from projections import account_overview as overview
from projections.documents import account_document
from service.access import user_removal
from service.access.tokens import Principal
from service.http.access import Access, access_extra, account_for, require
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import FreshReads, PointInTimeReads, aggregate_document, projected
from service.http.responses import written
from service.http.schemas.accounts import (
    AccountIn,
    AccountOut,
    BillingDetailsPatch,
    ContactIn,
    ContactOut,
    ContactPatch,
    EditionChangeIn,
    IdentityLicenseIn,
    OverviewOut,
    PaymentMethodIn,
    UpgradeRequestIn,
    UserIn,
)
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=PROBLEM_RESPONSES)


def _account_after(ledger: Ledger, receipt: Receipt, response: Response) -> AccountOut:
    written(response, receipt, ledger)
    return AccountOut.model_validate(
        account_document(ledger.account(receipt.aggregate_id, receipt.version))
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.STAFF),
    summary="Open an account (staff)",
)
def open_account(
    body: AccountIn, ledger: LedgerDep, principal: PrincipalDep, ctx: ContextDep, response: Response
) -> AccountOut:
    require(principal, Access.STAFF)
    receipt = ledger.open_account(
        ctx,
        body.name,
        body.edition,
        body.currency,
        body.billing_details.to_domain(),
        body.administrator.to_domain(administrator=True),
    )
    response.headers["Location"] = f"/v1/accounts/{receipt.aggregate_id}"
    return _account_after(ledger, receipt, response)


@router.get(
    "/{account_id}",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="An account (now, or as_of a recorded instant and in force on an effective date)",
)
def get_account(
    account_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: PointInTimeReads,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    found = aggregate_document(
        reads,
        ledger,
        Account,
        account_id,
        account_document,
        lambda sql: overview.account(sql, account_id),
        response,
    )
    return AccountOut.model_validate(found)


@router.get(
    "/{account_id}/overview",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="The account at a glance: contracts, seats, next renewal, open balance",
)
def get_overview(
    account_id: UUID, ledger: LedgerDep, principal: PrincipalDep, reads: FreshReads
) -> OverviewOut:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    found = projected(
        reads, lambda sql: overview.overview(sql, account_id), f"account {account_id}"
    )
    return OverviewOut.model_validate(found)


@router.patch(
    "/{account_id}/billing-details",
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Change billing details (only the fields given)",
)
def change_billing_details(
    account_id: UUID,
    body: BillingDetailsPatch,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account = account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.change_billing_details(ctx, account_id, body.merged(account.billing))
    return _account_after(ledger, receipt, response)


@router.put(
    "/{account_id}/payment-method",
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Set the payment-method reference",
)
def set_payment_method(
    account_id: UUID,
    body: PaymentMethodIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.set_payment_method(ctx, account_id, body.reference)
    return _account_after(ledger, receipt, response)


@router.post(
    "/{account_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Add a contact",
)
def add_contact(
    account_id: UUID,
    body: ContactIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> ContactOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.add_contact(ctx, account_id, body.to_domain())
    written(response, receipt, ledger)
    account = ledger.account(account_id, receipt.version)
    # the contact this command added is the one the previous version did not have
    before = ledger.account(account_id, receipt.version - 1) if receipt.version > 1 else None
    (contact_id,) = [c for c in account.contacts if before is None or c not in before.contacts]
    contact = account.contacts[contact_id]
    return ContactOut(
        id=contact_id,
        role=contact.role,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
    )


@router.patch(
    "/{account_id}/contacts/{contact_id}",
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Change a contact (only the fields given)",
)
def change_contact(
    account_id: UUID,
    contact_id: str,
    body: ContactPatch,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account = account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    current = account.contacts.get(contact_id)
    if current is None:
        raise NotFound(f"no contact {contact_id} in this account")
    receipt = ledger.change_contact(ctx, account_id, contact_id, body.merged(current))
    return _account_after(ledger, receipt, response)


@router.delete(
    "/{account_id}/contacts/{contact_id}",
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Remove a contact",
)
def remove_contact(
    account_id: UUID,
    contact_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.remove_contact(ctx, account_id, contact_id)
    return _account_after(ledger, receipt, response)


@router.post(
    "/{account_id}/users",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Add a user",
)
def add_user(
    account_id: UUID,
    body: UserIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.add_user(ctx, account_id, body.to_domain())
    return _account_after(ledger, receipt, response)


@router.delete(
    "/{account_id}/users/{user_id}",
    openapi_extra=access_extra(Access.ACCOUNT_ADMIN),
    summary="Remove a user: their seats, identity license and API tokens go with them",
)
def remove_user(
    account_id: UUID,
    user_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.ACCOUNT_ADMIN)
    receipt = user_removal.remove_user(ledger, ctx, account_id, user_id)
    return _account_after(ledger, receipt, response)


@router.put(
    "/{account_id}/users/{user_id}/permissions/manage_billing",
    openapi_extra=access_extra(Access.ACCOUNT_ADMIN),
    summary="Grant Manage Billing to a user (administrators only)",
)
def grant_manage_billing(
    account_id: UUID,
    user_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.ACCOUNT_ADMIN)
    receipt = ledger.grant_manage_billing(ctx, account_id, user_id)
    return _account_after(ledger, receipt, response)


@router.delete(
    "/{account_id}/users/{user_id}/permissions/manage_billing",
    openapi_extra=access_extra(Access.ACCOUNT_ADMIN),
    summary="Revoke Manage Billing from a user (administrators only)",
)
def revoke_manage_billing(
    account_id: UUID,
    user_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.ACCOUNT_ADMIN)
    receipt = ledger.revoke_manage_billing(ctx, account_id, user_id)
    return _account_after(ledger, receipt, response)


@router.post(
    "/{account_id}/identity-licenses",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Assign a free identity license (100 per account)",
)
def assign_identity_license(
    account_id: UUID,
    body: IdentityLicenseIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.assign_identity_license(ctx, account_id, body.user_id)
    return _account_after(ledger, receipt, response)


@router.delete(
    "/{account_id}/identity-licenses/{user_id}",
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Release an identity license",
)
def release_identity_license(
    account_id: UUID,
    user_id: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.release_identity_license(ctx, account_id, user_id)
    return _account_after(ledger, receipt, response)


@router.post(
    "/{account_id}/upgrade-requests",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Ask for a higher edition (an account manager follows up)",
)
def request_upgrade(
    account_id: UUID,
    body: UpgradeRequestIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.request_upgrade(ctx, account_id, body.edition, body.note)
    return _account_after(ledger, receipt, response)


@router.put(
    "/{account_id}/edition",
    openapi_extra=access_extra(Access.EDITION),
    summary="Change the edition (staff or account manager, with a reason)",
)
def change_edition(
    account_id: UUID,
    body: EditionChangeIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> AccountOut:
    """Moves no money: contracts keep the prices they were sold at (its preview, at
    ``/preview``, lists no invoice)."""
    receipt = upgrade(ledger, principal, ctx, account_id, body)
    return _account_after(ledger, receipt, response)


def upgrade(
    ledger: Ledger,
    principal: Principal,
    ctx: CommandContext,
    account_id: UUID,
    body: EditionChangeIn,
) -> Receipt:
    """The edition change, called by its route and by its preview (routes/previews.py)."""
    account_for(ledger, principal, account_id, Access.EDITION)
    return ledger.change_edition(replace(ctx, reason=body.reason), account_id, body.edition)
