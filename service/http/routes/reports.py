"""Book-wide reports for billing staff, account managers and auditors."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from domain.catalog import Edition
from projections.book import book_document, book_report
from projections.reports import invoice_ageing, upcoming_renewals
from service.http.access import Access, access_extra
from service.http.deps import LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import FreshReads, PointInTimeReads
from service.http.schemas.common import Day, MoneyOut, known_currency

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=PROBLEM_RESPONSES)


class BookOut(BaseModel):
    as_of: str
    effective: date
    active_contracts: int
    active_contracts_by_currency: dict[str, int]
    seats_held: dict[str, int]
    monthly_recurring_revenue: list[MoneyOut]
    open_balance: list[MoneyOut]
    open_invoices: int


class RenewalDueOut(BaseModel):
    subscription_id: UUID
    account_id: UUID
    account_name: str
    edition: Edition
    currency: str
    billing_period: str
    starts_on: date
    term_months: int
    value: MoneyOut


class AgeingOut(BaseModel):
    currency: str
    open_invoices: int
    open_balance: MoneyOut
    current: MoneyOut
    days_1_30: MoneyOut
    days_31_60: MoneyOut
    days_61_90: MoneyOut
    over_90: MoneyOut


@router.get(
    "/book",
    openapi_extra=access_extra(Access.REPORTS),
    summary="The book as known at as_of, in force on effective",
)
def book(ledger: LedgerDep, principal: PrincipalDep, reads: PointInTimeReads) -> BookOut:
    as_of = reads.as_of or ledger.clock.now()
    with reads.sql() as sql:
        report = book_report(sql, as_of, reads.effective)
    return BookOut.model_validate(book_document(report))


@router.get(
    "/renewals",
    openapi_extra=access_extra(Access.REPORTS),
    summary="Contracts renewing within N days, with edition and value",
)
def renewals(
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: FreshReads,
    within_days: Annotated[int, Query(ge=0, le=3660)] = 30,
    on: Annotated[Day | None, Query(description="From this day (default today)")] = None,
    edition: Edition | None = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> list[RenewalDueOut]:
    day = on or ledger.clock.now().date()
    with reads.sql() as sql:
        due = upcoming_renewals(sql, day, within_days, edition, known_currency(currency))
    return [RenewalDueOut.model_validate(d) for d in due]


@router.get(
    "/invoices",
    openapi_extra=access_extra(Access.REPORTS),
    summary="Open invoice balance and ageing per currency",
)
def invoices(
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: FreshReads,
    on: Annotated[Day | None, Query(description="Age on this day (default today)")] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> list[AgeingOut]:
    day = on or ledger.clock.now().date()
    with reads.sql() as sql:
        ageing = invoice_ageing(sql, day, known_currency(currency))
    return [AgeingOut.model_validate(a) for a in ageing]
