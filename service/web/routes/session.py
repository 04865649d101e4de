"""Signing in with a link, signing out, the language, and the first page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from projections import account_overview as overview
from service.access.tokens import CUSTOMER_ROLES
from service.http.reads import FreshReads
from service.ledger.context import CommandContext
from service.web import i18n
from service.web.deps import SESSION_COOKIE, AnyVisit, SignedIn
from service.web.forms import CsrfRefused, Form, from_this_site
from service.web.pages import page
from service.web.portal_session import LinkNotUsable
from service.web.refusals import refusal_of

router = APIRouter()

# The sign-in page's URL holds the link's secret: send it nowhere else.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


@router.get("/", response_class=HTMLResponse)
def home(current: SignedIn, reads: FreshReads, q: str = "") -> Response:
    """A customer's home is its account; staff and auditors find one (by name, id or
    invoice number) or choose it from the list."""
    principal = current.principal
    assert principal is not None
    root = current.request.scope.get("root_path", "")
    if principal.role in CUSTOMER_ROLES:
        query = current.request.url.query
        target = f"{root}/accounts/{principal.account_id}" + (f"?{query}" if query else "")
        return RedirectResponse(target, status_code=303)
    wanted = q.strip()[:200]
    with reads.sql() as sql:
        accounts = overview.find_accounts(sql, wanted) if wanted else overview.all_accounts(sql)
    return page(current, "accounts.html", accounts=accounts, q=wanted)


@router.get("/sign-in/{token}", response_class=HTMLResponse)
def sign_in_page(token: str, current: AnyVisit) -> Response:
    """Who the link signs in, and a button: opening a link does not consume it, so a
    mail scanner or a link preview that fetches it cannot use it up."""
    try:
        pending = current.sessions.links.pending(token)
    except LinkNotUsable as error:
        return page(current, "sign_in.html", 404, NO_REFERRER, problem=refusal_of(error))
    account = current.ledger.account(pending.account_id) if pending.account_id else None
    user = account.user(pending.user_id) if account and pending.user_id else None
    return page(
        current, "sign_in.html", 200, NO_REFERRER, pending=pending, account=account, user=user
    )


@router.post("/sign-in/{token}")
def sign_in(token: str, current: AnyVisit) -> Response:
    if not from_this_site(current.request):
        raise CsrfRefused()
    request = current.request
    ctx = CommandContext("anonymous", "anonymous", request_id=request.state.request_id)
    try:
        cookie, session = current.sessions.sign_in(ctx, token)
    except LinkNotUsable as error:
        return page(current, "sign_in.html", 404, NO_REFERRER, problem=refusal_of(error))
    request.state.principal = session.principal
    root = request.scope.get("root_path", "")
    # what the ledger holds now is what the first page shows (read your writes)
    head = current.ledger.head_position()
    response = RedirectResponse(f"{root}/?notice=signed-in&min_position={head}", status_code=303)
    lifetime = current.sessions.policy.lifetime
    set_cookie(response, request, SESSION_COOKIE, cookie, int(lifetime.total_seconds()))
    return response


@router.post("/sign-out")
def sign_out(posted: Form) -> Response:
    current = posted.visit
    current.sessions.sign_out(posted.ctx, current.session_cookie)
    root = current.request.scope.get("root_path", "")
    response = RedirectResponse(f"{root}/signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/signed-out", response_class=HTMLResponse)
def signed_out(current: AnyVisit) -> Response:
    return page(current, "signed_out.html", signed_out=True)


@router.get("/language")
def language(to: str, current: AnyVisit, next: str = "/") -> Response:
    """Switch the language (a cookie for a year), back to the page it was chosen on."""
    root = current.request.scope.get("root_path", "")
    # only a path of this app: never an open redirect
    target = next if next.startswith(root + "/") and not next.startswith("//") else root + "/"
    response = RedirectResponse(target, status_code=303)
    if to in i18n.LANGUAGES:
        set_cookie(response, current.request, i18n.LANGUAGE_COOKIE, to, 365 * 24 * 3600)
    return response
