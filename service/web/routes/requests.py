"""Asking the vendor: an upgrade to a higher edition, and support cases."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain.account import Account
from domain.catalog import Edition
from projections import account_overview as overview
from service.http.reads import FreshReads, Reads
from service.http.schemas.accounts import UpgradeRequestIn
from service.http.schemas.support_cases import SupportCaseIn
from service.ledger.application import Receipt
from service.web.account_view import account_context, change_account
from service.web.deps import SignedIn, Visit
from service.web.forms import Form, new_key
from service.web.pages import page
from service.web.refusals import Refusal

router = APIRouter()
UPGRADE = "/accounts/{account_id}/upgrade"
SUPPORT = "/accounts/{account_id}/support"


def render_upgrade(
    current: Visit,
    account_id: UUID,
    refusal: Refusal | None = None,
    entered: dict[str, str] | None = None,
    form: str = "",
) -> HTMLResponse:
    """The upgrade page; a refusal is shown beside ``form`` (empty: the request's)."""
    context = account_context(current, account_id, "upgrade")
    edition: Edition = context["account"].edition
    higher = [e for e in Edition if e.rank > edition.rank]
    return page(
        current,
        "upgrade.html",
        **context,
        higher=higher,
        editions=list(Edition),
        refusal=refusal,
        refused_form=form,
        carry_key=new_key(),
        entered=entered or {},
        key=new_key(),
    )


@router.get(UPGRADE, response_class=HTMLResponse)
def upgrade_page(account_id: UUID, current: SignedIn) -> Response:
    return render_upgrade(current, account_id)


@router.post(UPGRADE)
def request_upgrade(account_id: UUID, posted: Form) -> Response:
    def run(account: Account) -> Receipt:
        body = posted.model(
            UpgradeRequestIn, edition=posted.text("edition"), note=posted.text("note")
        )
        return posted.visit.ledger.request_upgrade(posted.ctx, account.id, body.edition, body.note)

    return change_account(
        posted,
        account_id,
        "upgrade",
        "upgrade-requested",
        run,
        lambda found: render_upgrade(posted.visit, account_id, found, posted.fields),
    )


def render_support(
    current: Visit,
    account_id: UUID,
    reads: Reads,
    refusal: Refusal | None = None,
    entered: dict[str, str] | None = None,
    form: str = "",
) -> HTMLResponse:
    """The support page; a refusal is shown beside ``form`` (empty: the new case's)."""
    context = account_context(current, account_id, "support")
    with reads.sql() as sql:
        cases = overview.support_cases_of(sql, account_id)
    return page(
        current,
        "support.html",
        **context,
        cases=list(reversed(cases)),
        refusal=refusal,
        refused_form=form,
        entered=entered or {},
        key=new_key(),
    )


@router.get(SUPPORT, response_class=HTMLResponse)
def support_page(account_id: UUID, current: SignedIn, reads: FreshReads) -> Response:
    return render_support(current, account_id, reads)


@router.post(SUPPORT)
def open_case(account_id: UUID, posted: Form, reads: FreshReads) -> Response:
    def run(account: Account) -> Receipt:
        body = posted.model(
            SupportCaseIn, subject=posted.text("subject"), description=posted.text("description")
        )
        return posted.visit.ledger.open_support_case(
            posted.ctx, account.id, body.subject, body.description
        )

    return change_account(
        posted,
        account_id,
        "support",
        "case-opened",
        run,
        lambda found: render_support(posted.visit, account_id, reads, found, posted.fields),
    )
