"""The FastAPI application: routers, middleware, error handlers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError
from service.http import accounts, catalog, health, invoices, subscriptions, tokens_api
from service.http.middleware import BodyGuard, RequestLog, configure_logging
from service.http.problems import (
    ApiError,
    on_api_error,
    on_domain_error,
    on_http_error,
    on_unexpected,
    on_validation_error,
    problem,
)
from service.ledger import Ledger
from service.store_errors import STORE_ERRORS
from service.tokens import Tokens

DESCRIPTION = """\
The subscription ledger behind the self-service account app.

Authenticate with `Authorization: Bearer <token>`. Every state-changing response carries
`Ledger-Position` (the global log position of its last event) and an `ETag` (the
resource version); send `If-Match` to refuse a change based on a stale version, and
`Idempotency-Key` to make a retry safe. Errors are RFC 9457 problem details.
Amounts are decimal strings.
"""


async def on_store_error(request: Request, error: Exception) -> JSONResponse:
    return problem(
        503,
        "store-unavailable",
        "Service Unavailable",
        "the event store cannot be reached; retry shortly",
        request,
        {"Retry-After": "2"},
    )


def create_app(ledger: Ledger) -> FastAPI:
    configure_logging()
    app = FastAPI(title="subledger", version="1", description=DESCRIPTION)
    app.state.ledger = ledger
    app.state.tokens = Tokens(ledger)
    for router in (
        health.router,
        catalog.router,
        accounts.router,
        subscriptions.router,
        invoices.router,
        tokens_api.router,
    ):
        app.include_router(router)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for error in STORE_ERRORS:
        app.add_exception_handler(error, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_middleware(BodyGuard)
    app.add_middleware(RequestLog)
    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory: the store named by the environment, the system clock."""
    from service.bootstrap import bootstrap

    return create_app(bootstrap())
