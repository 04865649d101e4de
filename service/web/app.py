"""The web app, mounted in the API's process under ``/app``.

It is a FastAPI app of its own so that its errors are pages rather than problem+json
and its responses carry the page security headers, and so that its routes stay out of
the API's OpenAPI document; it shares the API app's ``state``: the same Ledger, read
side and sessions.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError
from domain.payment_provider import PaymentProviderUnavailable
from service.http.problems import ApiError
from service.ledger.store_errors import STORE_ERRORS
from service.web import i18n
from service.web.deps import SignInRequired, visit
from service.web.forms import CsrfRefused
from service.web.pages import page
from service.web.refusals import Refusal, refusal, refusal_of
from service.web.routes import (
    accounts,
    audit,
    buy,
    contracts,
    corrections,
    invoices,
    requests,
    session,
    settings,
    staff,
    users,
)
from service.web.security import SecurityHeaders

PREFIX = "/app"
STATIC = i18n.HERE / "static"


def _error_page(request: Request, found: Refusal) -> HTMLResponse:
    current = visit(request)
    template = "errors/manage_billing.html" if found.code == "forbidden" else "errors/error.html"
    context: dict[str, object] = {"problem": found}
    if found.code == "forbidden" and current.principal and current.principal.account_id:
        account = current.ledger.account(current.principal.account_id)
        context["administrators"] = [u for u in account.users.values() if u.administrator]
        context["account_name"] = account.name
    return page(current, template, found.status, None, **context)


async def on_refused(request: Request, error: Exception) -> Response:
    return _error_page(request, refusal_of(error))


async def on_sign_in_required(request: Request, error: Exception) -> Response:
    return page(visit(request), "signed_out.html", 401)


async def on_csrf(request: Request, error: Exception) -> Response:
    return _error_page(request, refusal(403, "csrf", ""))


async def on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    return _error_page(request, refusal(error.status_code, "http", str(error.detail)))


async def on_invalid(request: Request, error: Exception) -> Response:
    return _error_page(request, refusal(404, "not-found", "no such page"))


async def on_store_error(request: Request, error: Exception) -> Response:
    return _error_page(request, refusal(503, "store-unavailable", "the store cannot be reached"))


def create_web_app(state: State) -> FastAPI:
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    web.state = state  # the API app's: one Ledger, one read side
    for router in (
        session.router,
        accounts.router,
        contracts.router,
        buy.router,
        invoices.router,
        settings.router,
        users.router,
        requests.router,
        corrections.router,
        staff.router,
        audit.router,
    ):
        web.include_router(router)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    web.add_exception_handler(SignInRequired, on_sign_in_required)
    web.add_exception_handler(CsrfRefused, on_csrf)
    for refused in (DomainError, ApiError, PaymentProviderUnavailable):
        web.add_exception_handler(refused, on_refused)
    web.add_exception_handler(RequestValidationError, on_invalid)
    web.add_exception_handler(StarletteHTTPException, on_http_error)
    for error in STORE_ERRORS:
        web.add_exception_handler(error, on_store_error)
    web.add_middleware(SecurityHeaders)
    return web
