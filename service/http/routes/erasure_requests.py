"""Erasure requests (GDPR art. 17): a customer administrator erases a contact or user of
its account, or its buyer identity (as far as the retention of its invoices allows:
the answer says what is held, and until when; ADR 0027); staff erase any subject of any
account, support cases' text and share links' visitors too (ADR 0023)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from fastapi import APIRouter, Response, status

from domain.personal_data import SubjectKind
from service.access.tokens import CUSTOMER_ROLES
from service.http.access import Access, access_extra, account_for
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES, forbidden
from service.http.responses import written
from service.http.schemas.privacy import ErasureOut, ErasureRequestIn
from service.privacy.erasure import Erasures

router = APIRouter(
    prefix="/v1/accounts/{account_id}/erasure-requests",
    tags=["personal data"],
    responses=PROBLEM_RESPONSES,
)

CUSTOMER_ERASES = (SubjectKind.CONTACT, SubjectKind.USER, SubjectKind.BUYER)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.ACCOUNT_ADMIN),
    summary="Erase a contact's, user's, support case's, share link visitors' or buyer's "
    "personal data (a buyer's as far as retention allows: the answer says what is held)",
)
def request_erasure(
    account_id: UUID,
    body: ErasureRequestIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> ErasureOut:
    account_for(ledger, principal, account_id, Access.ACCOUNT_ADMIN)
    kind = SubjectKind(body.kind)
    if principal.role in CUSTOMER_ROLES and kind not in CUSTOMER_ERASES:
        raise forbidden("only staff erase a support case's text or a share link's visitors")
    erasing = replace(ctx, reason=body.reason)
    erasure = Erasures(ledger).erase(erasing, account_id, kind, body.subject_id)
    written(response, erasure.receipt, ledger)
    return ErasureOut.of(erasure)
