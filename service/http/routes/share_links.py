"""Share links: customers share an invoice by a link that works without logging in.

Creating and revoking need Manage Billing; the links, and their recorded openings (when,
from which address, how many openings each stands for: at most one is recorded per link
per hour), page by page, are listed for whoever may read the account, and each recorded
opening is also in the account's history. The shared pages answer 404 for a link that is
unknown, expired or revoked alike, 429 to a link or an address that opens too often,
are never cached, and send no Referer onwards (the link's secret is in its URL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from domain.invoice import Invoice
from domain.share_link import DEFAULT_DAYS, MAX_DAYS, LinkStatus, ShareLink
from service.documents import invoices as rendered
from service.http.access import Access, access_extra
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES, ApiError
from service.http.responses import written
from service.http.routes import documents
from service.http.routes.invoices import invoice_for
from service.http.schemas.common import Body as BodyModel
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.sharing.links import ShareLinks
from service.sharing.openings import Openings, TooManyOpenings

router = APIRouter(tags=["sharing"], responses=PROBLEM_RESPONSES)

# The shared pages carry a secret in their URL: keep it out of caches, indexes and Referers.
SHARED_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
}
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


class ShareLinkIn(BodyModel):
    expires_in_days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS)


class ShareLinkOpeningOut(BaseModel):
    at: datetime
    client_address: str
    document: str = Field(description='"summary" (the page) or "pdf"')
    count: int = Field(
        description="The openings this record stands for: itself, and those since the "
        "previous record that were not recorded one by one (at most one per hour is)"
    )


class ShareLinkOpeningPage(BaseModel):
    openings: list[ShareLinkOpeningOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end")


class ShareLinkOut(BaseModel):
    id: UUID
    invoice_id: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: LinkStatus
    opened: int = Field(description="How many times it was opened, as recorded")
    last_opened_at: datetime | None = Field(description="When its last recorded opening was")

    @classmethod
    def of(cls, link: ShareLink, now: datetime) -> ShareLinkOut:
        return cls(
            id=link.id,
            invoice_id=link.invoice_id,
            created_at=link.created_on,
            expires_at=link.expires_at,
            revoked_at=link.revoked_at,
            status=link.status(now),
            opened=link.openings,
            last_opened_at=link.accesses[-1][0] if link.accesses else None,
        )


class ShareLinkCreatedOut(ShareLinkOut):
    url: str = Field(description="The link to share; shown only in this response")


@router.post(
    "/v1/invoices/{invoice_id}/share-links",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Share the invoice: a link that works without logging in (shown once)",
)
def create_share_link(
    invoice_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    request: Request,
    response: Response,
    body: Annotated[ShareLinkIn | None, Body()] = None,
) -> ShareLinkCreatedOut:
    invoice_for(ledger, principal, invoice_id, Access.SELF_SERVICE)
    links = ShareLinks(ledger)
    days = body.expires_in_days if body is not None else DEFAULT_DAYS
    created = links.create(ctx, invoice_id, days)
    if created.receipt.replayed:
        # The first answer held the link, which is never stored: it cannot be repeated.
        raise ApiError(
            409,
            "share-link-already-created",
            "Conflict",
            f"this request already created share link {created.link_id}; its URL was shown "
            "once and is not kept. Revoke that link and create another if it was lost.",
        )
    written(response, created.receipt, ledger)
    link = links.get(invoice_id, created.link_id, created.receipt.version)
    # From the configured public URL: the request's Host is the caller's to choose.
    url = request.app.state.public_url + request.app.url_path_for(
        "open_shared_invoice", token=created.token
    )
    return ShareLinkCreatedOut(**ShareLinkOut.of(link, ledger.clock.now()).model_dump(), url=url)


@router.get(
    "/v1/invoices/{invoice_id}/share-links",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="The invoice's share links and every opening of them (never their URLs)",
)
def list_share_links(
    invoice_id: UUID, ledger: LedgerDep, principal: PrincipalDep
) -> list[ShareLinkOut]:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    now = ledger.clock.now()
    return [ShareLinkOut.of(link, now) for link in ShareLinks(ledger).of_invoice(invoice_id)]


@router.get(
    "/v1/invoices/{invoice_id}/share-links/{link_id}/openings",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    summary="A share link's recorded openings, oldest first, a page at a time",
)
def list_share_link_openings(
    invoice_id: UUID,
    link_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, description="Openings already read (a cursor)")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ShareLinkOpeningPage:
    invoice_for(ledger, principal, invoice_id, Access.ACCOUNT_READ)
    link = ShareLinks(ledger).get(invoice_id, link_id)
    page = link.accesses[after : after + limit]
    return ShareLinkOpeningPage(
        openings=[
            ShareLinkOpeningOut(at=at, client_address=client, document=document, count=count)
            for at, client, document, count in page
        ],
        next_after=after + len(page) if after + len(page) < len(link.accesses) else None,
    )


@router.delete(
    "/v1/invoices/{invoice_id}/share-links/{link_id}",
    openapi_extra=access_extra(Access.SELF_SERVICE),
    summary="Revoke a share link: it answers 404 from now on",
)
def revoke_share_link(
    invoice_id: UUID,
    link_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> ShareLinkOut:
    invoice_for(ledger, principal, invoice_id, Access.SELF_SERVICE)
    links = ShareLinks(ledger)
    receipt = links.revoke(ctx, invoice_id, link_id)
    written(response, receipt, ledger)
    link = links.get(invoice_id, link_id, receipt.version)
    return ShareLinkOut.of(link, ledger.clock.now())


def _open(request: Request, ledger: Ledger, token: str, document: str) -> Invoice:
    """The invoice a visitor opens: nobody we know, from an address (the peer's, or a
    trusted proxy's X-Forwarded-For, as ``serve`` is told: service/http/server.py)."""
    ctx = CommandContext("anonymous", "anonymous", request_id=request.state.request_id)
    client = request.client.host if request.client else "unknown"
    openings: Openings = request.app.state.share_link_openings
    try:
        return ShareLinks(ledger, openings).open(ctx, token, client, document)
    except TooManyOpenings as error:
        raise ApiError(
            429,
            "too-many-openings",
            "Too Many Requests",
            str(error),
            {"Retry-After": str(error.retry_after), **SHARED_HEADERS},
        ) from None


PAGE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


@router.get(
    "/v1/shared/invoices/{token}",
    openapi_extra=access_extra(Access.PUBLIC),
    response_class=HTMLResponse,
    responses=PAGE,
    summary="A shared invoice: a summary page with its PDF (no login)",
)
def open_shared_invoice(token: str, ledger: LedgerDep, request: Request) -> HTMLResponse:
    invoice = _open(request, ledger, token, "summary")
    pdf_href = request.url_for("open_shared_invoice_pdf", token=token).path
    return HTMLResponse(
        rendered.shared_page(ledger, invoice, pdf_href),
        headers={**SHARED_HEADERS, "Content-Security-Policy": PAGE_POLICY},
    )


@router.get(
    "/v1/shared/invoices/{token}/pdf",
    openapi_extra=access_extra(Access.PUBLIC),
    response_class=Response,
    responses=documents.responses(documents.PDF),
    summary="A shared invoice's PDF (no login)",
)
def open_shared_invoice_pdf(token: str, ledger: LedgerDep, request: Request) -> Response:
    invoice = _open(request, ledger, token, "pdf")
    answer = documents.document(ledger, invoice, documents.PDF)
    answer.headers.update(SHARED_HEADERS)
    return answer
