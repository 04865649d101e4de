"""Support cases: customers open them ("contact us") and read them back; staff reply and
close them. Reads come from the account overview's read model (``min_position`` to read
your own writes)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from domain.errors import NotFound
from domain.support_case import SupportCase, SupportCaseStatus
from projections import account_overview as overview
from projections.documents import support_case_document
from service.access.tokens import Principal
from service.http.access import Access, access_extra, account_for
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import FreshReads, projected
from service.http.responses import versioned, written
from service.http.schemas.support_cases import (
    SupportCaseCloseIn,
    SupportCaseIn,
    SupportCaseOut,
    SupportCaseReplyIn,
)
from service.ledger.application import Ledger, Receipt

router = APIRouter(
    prefix="/v1/accounts/{account_id}/support-cases",
    tags=["support cases"],
    responses=PROBLEM_RESPONSES,
)


def case_for(
    ledger: Ledger, principal: Principal, account_id: UUID, case_id: UUID, level: Access
) -> SupportCase:
    """The account's case, if the principal may act on the account at ``level``; a case of
    another account answers 404 as a missing one does."""
    account_for(ledger, principal, account_id, level)
    case = ledger.support_case(case_id)
    if case.account_id != account_id:
        raise NotFound(f"no support case {case_id}")
    return case


def _case_after(ledger: Ledger, receipt: Receipt, response: Response) -> SupportCaseOut:
    written(response, receipt, ledger)
    case = ledger.support_case(receipt.aggregate_id, receipt.version)
    return SupportCaseOut.model_validate(support_case_document(case))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Open a support case",
)
def open_support_case(
    account_id: UUID,
    body: SupportCaseIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> SupportCaseOut:
    account_for(ledger, principal, account_id, Access.SELF_SERVICE)
    receipt = ledger.open_support_case(ctx, account_id, body.subject, body.description)
    response.headers["Location"] = f"/v1/accounts/{account_id}/support-cases/{receipt.aggregate_id}"
    return _case_after(ledger, receipt, response)


@router.get(
    "",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="The account's support cases, oldest first",
)
def list_support_cases(
    account_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: FreshReads,
    case_status: Annotated[
        SupportCaseStatus | None, Query(alias="status", description="Only cases in this status")
    ] = None,
) -> list[SupportCaseOut]:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    with reads.sql() as sql:
        documents = overview.support_cases_of(sql, account_id, case_status)
    return [SupportCaseOut.model_validate(d) for d in documents]


@router.get(
    "/{case_id}",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="A support case with its replies",
)
def get_support_case(
    account_id: UUID,
    case_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: FreshReads,
    response: Response,
) -> SupportCaseOut:
    case_for(ledger, principal, account_id, case_id, Access.ACCOUNT_READ)
    out = SupportCaseOut.model_validate(
        projected(reads, lambda sql: overview.support_case(sql, case_id), f"support case {case_id}")
    )
    versioned(response, out.version)
    return out


@router.post(
    "/{case_id}/replies",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.STAFF),
    summary="Reply to a support case (staff); the case is then answered",
)
def reply_to_support_case(
    account_id: UUID,
    case_id: UUID,
    body: SupportCaseReplyIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> SupportCaseOut:
    case_for(ledger, principal, account_id, case_id, Access.STAFF)
    receipt = ledger.reply_to_support_case(ctx, case_id, body.message)
    return _case_after(ledger, receipt, response)


@router.post(
    "/{case_id}/close",
    openapi_extra=access_extra(Access.STAFF),
    summary="Close a support case (staff); a closed case takes no more replies",
)
def close_support_case(
    account_id: UUID,
    case_id: UUID,
    body: SupportCaseCloseIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> SupportCaseOut:
    case_for(ledger, principal, account_id, case_id, Access.STAFF)
    receipt = ledger.close_support_case(ctx, case_id, body.resolution)
    return _case_after(ledger, receipt, response)
