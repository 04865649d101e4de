"""The FastAPI application: routers, middleware, error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.clock import SystemClock
from adapters.signing import SigningKeyUnusable
from adapters.webhook_destinations import Destinations
from domain.clock import Clock
from domain.errors import DomainError
from domain.payment_provider import PaymentProviderUnavailable
from service.access.tokens import Tokens
from service.billing.run import BillingSettings, BillingWorker
from service.bootstrap import bootstrap
from service.config.collector import freeze_what_started, tune_for_long_running
from service.config.logs import configure_logging
from service.config.public_url import (
    DEFAULT_PUBLIC_URL,
    checked_public_url,
)
from service.config.settings import Settings, load_settings
from service.http.deps import unchecked
from service.http.middleware import BodyGuard, RequestLog
from service.http.openapi import install as install_openapi
from service.http.openapi import operation_id
from service.http.problems import (
    ApiError,
    on_api_error,
    on_domain_error,
    on_http_error,
    on_provider_unavailable,
    on_unexpected,
    on_validation_error,
    problem,
)
from service.http.routes import (
    accounts,
    audit,
    audit_chain,
    catalog,
    clock,
    credit_notes,
    erasure_requests,
    events,
    health,
    invoices,
    payments,
    portal_sessions,
    previews,
    reports,
    share_links,
    subscriptions,
    support_cases,
)
from service.http.routes import tokens as tokens_api
from service.http.routes import webhooks as webhooks_api
from service.ledger.store_errors import STORE_ERRORS
from service.privacy.retention import RetentionWorker
from service.reads.read_side import ReadSide
from service.sharing.openings import Openings
from service.web.app import PREFIX as WEB_PREFIX
from service.web.app import create_web_app
from service.webhooks.worker import WebhookWorker

log = logging.getLogger("subledger.http")

DESCRIPTION = """\
The subscription ledger behind the self-service account app.

Authenticate with `Authorization: Bearer <token>`. Every state-changing response carries
`Ledger-Position` (the global log position of its last event) and an `ETag` (the
resource version); send `If-Match` to refuse a change based on a stale version, and
`Idempotency-Key` to make a retry safe. Errors are RFC 9457 problem details, one rule
per kind of refusal (404: the path names nothing; 409: already in that state, or refused
by a rule; 422: the request is invalid, or names an unknown product or currency).
Amounts are decimal strings.

Every command that moves money has a preview: `POST <its path>/preview` with the same
body runs the command's own checks and pricing, answers the invoices it would issue (and
the payment it would charge), and writes nothing. Its `ETag`, sent as `If-Match` with the
command, makes the command issue exactly what the preview showed, or refuse (412).
"""


# The routers, in the order the OpenAPI document lists their paths.
DOCUMENTED: tuple[APIRouter, ...] = (
    health.router,
    catalog.router,
    accounts.router,
    support_cases.router,
    erasure_requests.router,
    subscriptions.router,
    invoices.router,
    credit_notes.router,
    payments.router,
    previews.router,
    share_links.router,
    reports.router,
    audit.router,
    audit_chain.router,
    tokens_api.router,
    events.router,
    webhooks_api.router,
    clock.router,
    portal_sessions.router,
)
# The order FastAPI tries them in for each request: the contracts' commands, the writes
# customers make most, right after /healthz rather than sixth (each router tried before
# the one that matches cost a POST about 40 Python calls and 100 of C functions, ADR
# 0005). No two routers have a path that matches one request with one method
# (tests/e2e/test_command_hand_offs.py), so the order decides nothing else.
FIRST = (health.router, subscriptions.router)
MATCHED = (*FIRST, *(router for router in DOCUMENTED if router not in FIRST))


async def on_store_error(request: Request, error: Exception) -> JSONResponse:
    return problem(
        503,
        "store-unavailable",
        "Service Unavailable",
        "the event store cannot be reached; retry shortly",
        request,
        {"Retry-After": "2"},
    )


async def on_invalid_request(request: Request, error: Exception) -> Response:
    """A 422 of FastAPI's (an invalid header, path or body), after the caller's refusals:
    a route that checks its caller in its command's thread (``service.http.deps.Caller``)
    has not checked it yet when FastAPI refuses the request, so it is checked here first,
    as ``PrincipalDep`` would have before."""
    pending = unchecked(request)
    if pending is not None:
        try:
            await run_in_threadpool(pending.check)
        except ApiError as refusal:
            return await on_api_error(request, refusal)
        except STORE_ERRORS as failure:
            return await on_store_error(request, failure)
    return await on_validation_error(request, error)


async def on_signing_key_unusable(request: Request, error: Exception) -> JSONResponse:
    log.error("the signing key cannot be used: %s", error)
    return problem(
        503,
        "signing-key-unusable",
        "Service Unavailable",
        "the ledger's signing key cannot be used; the operator is told in the service's log",
        request,
    )


def create_app(
    read_side: ReadSide,
    run_projections: bool = True,
    billing: BillingSettings | None = None,
    webhooks: WebhookWorker | None = None,
    public_url: str = DEFAULT_PUBLIC_URL,
    webhook_destinations: Destinations | None = None,
    settings: Settings | None = None,
    real_time: Clock | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """The API over ``read_side.ledger``. With ``run_projections`` this process also
    competes to run the projections (one runner per store is elected); with ``billing``
    (and a non-zero interval) it runs the billing run on that schedule; with ``webhooks``
    it competes to run that delivery worker. Links and schema URIs it hands out are built
    from ``public_url``; webhook endpoints may be registered at ``webhook_destinations``
    (default: public addresses only). ``settings`` (default: the environment's) name the
    signing key and the event streams' limits. Web sessions and sign-in links expire on
    ``real_time`` (default: the system clock), never on the ledger's (ADR 0017). With
    ``freeze_heap`` (a served process, not the tests' many apps) the garbage collector
    runs less often and no longer walks what was alive once the app started (ADR 0031)."""
    settings = settings or load_settings()
    configure_logging(settings)
    billing_worker = (
        BillingWorker(read_side.settings, read_side.ledger, billing)
        if billing is not None and billing.interval > 0
        else None
    )
    # Buyer keys whose retention has ended go on the billing run's schedule (ADR 0027).
    retention_worker = (
        RetentionWorker(read_side.settings, read_side.ledger, billing.interval)
        if billing is not None and billing.interval > 0
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_projections:
            read_side.start()
        if billing_worker is not None:
            billing_worker.start()
        if retention_worker is not None:
            retention_worker.start()
        if webhooks is not None:
            webhooks.start()
        if freeze_heap:
            tune_for_long_running()
            freeze_what_started()
        yield
        if webhooks is not None:
            webhooks.stop()
        if retention_worker is not None:
            retention_worker.stop()
        if billing_worker is not None:
            billing_worker.stop()
        read_side.stop()

    app = FastAPI(
        title="subledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.ledger = read_side.ledger
    app.state.read_side = read_side
    app.state.tokens = Tokens(read_side.ledger)
    app.state.billing = billing or BillingSettings()  # a test clock's moves run billing
    app.state.public_url = checked_public_url(public_url)
    app.state.share_link_openings = Openings()
    app.state.webhook_destinations = webhook_destinations or Destinations()
    app.state.real_time = real_time or SystemClock()
    for router in MATCHED:
        app.include_router(router)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(PaymentProviderUnavailable, on_provider_unavailable)
    app.add_exception_handler(SigningKeyUnusable, on_signing_key_unusable)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for error in STORE_ERRORS:
        app.add_exception_handler(error, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
    app.mount(WEB_PREFIX, create_web_app(app.state), name="web")  # the "Your Account" pages
    app.add_middleware(BodyGuard, form_prefix=WEB_PREFIX)
    app.add_middleware(RequestLog)
    install_openapi(app, DOCUMENTED)
    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory: the service the environment's settings describe (checked by
    ``subledger serve`` before it started uvicorn); ``SUBLEDGER_PROJECTIONS=off`` and
    ``SUBLEDGER_WEBHOOKS=off`` leave those to separate workers."""
    settings = load_settings()
    svc = bootstrap(settings)  # on the test clock with SUBLEDGER_CLOCK=test
    return create_app(
        svc.read_side,
        run_projections=settings.projections == "on",
        billing=svc.billing(),
        webhooks=svc.webhook_worker() if settings.webhooks == "on" else None,
        public_url=settings.public_url,
        webhook_destinations=settings.destinations(),
        settings=settings,
        freeze_heap=True,
    )
