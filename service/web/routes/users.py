"""Users: Manage Billing, free identity licenses ("n of 100 free"), seats, new users,
removing a user (administrators, as over the API)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain import catalog
from domain.account import Account
from domain.errors import NotFound
from projections import account_overview as overview
from service.access import user_removal
from service.http.access import Access
from service.http.reads import FreshReads, Reads
from service.http.schemas.accounts import UserIn
from service.ledger.application import Receipt
from service.web.account_view import account_context, change_account
from service.web.deps import SignedIn, Visit
from service.web.forms import Form, Posted, new_key
from service.web.pages import page
from service.web.refusals import Refusal

router = APIRouter()
USERS = "/accounts/{account_id}/users"


def _users_page(
    current: Visit,
    account_id: UUID,
    reads: Reads,
    refused: tuple[str, Refusal, dict[str, str]] | None = None,
) -> HTMLResponse:
    context = account_context(current, account_id, "users")
    with reads.sql() as sql:
        seats = overview.licenses_of(sql, account_id)
    form, refusal, entered = refused if refused else ("", None, {})
    return page(
        current,
        "users.html",
        **context,
        seats=[(catalog.product(s["product_code"]).name, s) for s in seats],
        free_limit=catalog.FREE_IDENTITY_LICENSES,
        refused_form=form,
        refusal=refusal,
        entered=entered,
        key=new_key(),
    )


@router.get(USERS, response_class=HTMLResponse)
def users_page(account_id: UUID, current: SignedIn, reads: FreshReads) -> Response:
    return _users_page(current, account_id, reads)


def _on_users(
    posted: Posted,
    account_id: UUID,
    reads: Reads,
    form: str,
    notice: str,
    run: Callable[[Account], Receipt],
) -> Response:
    return change_account(
        posted,
        account_id,
        "users",
        notice,
        run,
        lambda found: _users_page(posted.visit, account_id, reads, (form, found, posted.fields)),
    )


@router.post(USERS)
def add_user(account_id: UUID, posted: Form, reads: FreshReads) -> Response:
    def run(account: Account) -> Receipt:
        body = posted.model(
            UserIn,
            user_id=posted.text("user_id"),
            name=posted.text("name"),
            email=posted.text("email"),
        )
        return posted.visit.ledger.add_user(posted.ctx, account.id, body.to_domain())

    return _on_users(posted, account_id, reads, "add", "user-added", run)


# (path tail, use case, notice) for the buttons on each user's row
USER_ACTIONS: dict[str, tuple[str, str]] = {
    "manage-billing/grant": ("grant_manage_billing", "manage-billing-granted"),
    "manage-billing/revoke": ("revoke_manage_billing", "manage-billing-revoked"),
    "identity-license/assign": ("assign_identity_license", "identity-license-assigned"),
    "identity-license/release": ("release_identity_license", "identity-license-released"),
}


@router.post(USERS + "/{user_id}/{permission}/{action}")
def change_user(
    account_id: UUID, user_id: str, permission: str, action: str, posted: Form, reads: FreshReads
) -> Response:
    use_case, notice = USER_ACTIONS.get(f"{permission}/{action}", ("", ""))

    def run(account: Account) -> Receipt:
        if not use_case:
            raise NotFound(f"no action {permission}/{action}")
        method: Callable[..., Receipt] = getattr(posted.visit.ledger, use_case)
        return method(posted.ctx, account.id, user_id)

    return _on_users(posted, account_id, reads, f"user-{user_id}", notice, run)


@router.post("/accounts/{account_id}/seats/{product_code}/{action}")
def change_seat(
    account_id: UUID, product_code: str, action: str, posted: Form, reads: FreshReads
) -> Response:
    """Assign a seat of a product to a user, or take it back."""

    def run(account: Account) -> Receipt:
        ledger = posted.visit.ledger
        user_id = posted.text("user_id")
        if action == "assign":
            return ledger.assign_seat(posted.ctx, account.id, product_code, user_id)
        return ledger.unassign_seat(posted.ctx, account.id, product_code, user_id)

    notice = "seat-assigned" if action == "assign" else "seat-unassigned"
    return _on_users(posted, account_id, reads, f"seat-{product_code}", notice, run)


def _removal_page(
    current: Visit, account_id: UUID, user_id: str, refusal: Refusal | None = None
) -> HTMLResponse:
    context = account_context(current, account_id, "users", Access.ACCOUNT_ADMIN)
    account: Account = context["account"]
    user = account.user(user_id)
    return page(
        current,
        "remove_user.html",
        **context,
        user=user,
        identity=user_id in account.identity_licenses,
        refusal=refusal,
        key=new_key(),
    )


@router.get(USERS + "/{user_id}/remove", response_class=HTMLResponse)
def removal_page(account_id: UUID, user_id: str, current: SignedIn) -> Response:
    """What removing the user takes with it, and the button (a removal is not undone)."""
    return _removal_page(current, account_id, user_id)


@router.post(USERS + "/{user_id}/remove")
def remove_user(account_id: UUID, user_id: str, posted: Form) -> Response:
    def run(account: Account) -> Receipt:
        return user_removal.remove_user(posted.visit.ledger, posted.ctx, account.id, user_id)

    return change_account(
        posted,
        account_id,
        "users",
        "user-removed",
        run,
        lambda found: _removal_page(posted.visit, account_id, user_id, found),
        Access.ACCOUNT_ADMIN,
    )
