"""The overview: contracts, seats, the next renewal, the open balance, recent invoices."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from projections import account_overview as overview
from service.http.reads import FreshReads, projected
from service.web.account_view import account_context
from service.web.deps import SignedIn
from service.web.pages import page

router = APIRouter()
RECENT_INVOICES = 5


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def overview_page(account_id: UUID, current: SignedIn, reads: FreshReads) -> Response:
    context = account_context(current, account_id, "overview")
    found = projected(reads, lambda sql: overview.overview(sql, account_id), "account")
    with reads.sql() as sql:
        invoices = overview.invoices_of(sql, account_id)
    return page(
        current,
        "overview.html",
        **context,
        overview=found,
        recent=list(reversed(invoices))[:RECENT_INVOICES],
        today=current.ledger.clock.now().date().isoformat(),
    )
