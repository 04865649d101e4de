"""Webhook endpoints, managed by operators: register (the secret is shown once), change,
disable and enable, replay from a position, delete, and read the delivery log."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.http.access import Access, access_extra
from service.http.deps import ContextDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES, ApiError
from service.http.responses import versioned, written
from service.http.schemas.webhooks import (
    DeliveryOut,
    DeliveryPage,
    DisableIn,
    ReplayIn,
    WebhookEndpointCreatedOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointPatch,
)
from service.ledger.application import Receipt
from service.reads.read_side import ReadSide
from service.webhooks.endpoint import WebhookEndpoints
from service.webhooks.store import WebhookStore

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"], responses=PROBLEM_RESPONSES)
OPERATOR = access_extra(Access.OPERATOR)


def get_endpoints(request: Request) -> WebhookEndpoints:
    """The endpoints of the app's ledger; on PostgreSQL their tables are reached through
    the read side's pool (same database and schema as the ledger)."""
    read_side: ReadSide = request.app.state.read_side
    state = request.app.state
    endpoints: WebhookEndpoints | None = getattr(state, "webhook_endpoints", None)
    if endpoints is None or endpoints.ledger is not read_side.ledger:
        store = WebhookStore(read_side.settings, read_side.readers)
        endpoints = state.webhook_endpoints = WebhookEndpoints(
            read_side.ledger, store, state.webhook_destinations
        )
    return endpoints


EndpointsDep = Annotated[WebhookEndpoints, Depends(get_endpoints)]


def _out(
    endpoints: WebhookEndpoints, endpoint_id: UUID, version: int | None = None
) -> WebhookEndpointOut:
    endpoint = endpoints.get(endpoint_id, version)
    return WebhookEndpointOut.of(endpoint, endpoints.store.cursor(endpoint_id))


def _after(endpoints: WebhookEndpoints, receipt: Receipt, response: Response) -> WebhookEndpointOut:
    written(response, receipt, endpoints.ledger)
    return _out(endpoints, receipt.aggregate_id, receipt.version)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=OPERATOR,
    summary="Register an endpoint (its signing secret is shown once)",
)
def create_endpoint(
    body: WebhookEndpointIn,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> WebhookEndpointCreatedOut:
    registered = endpoints.register(ctx, body.url, body.event_types, body.description)
    if registered.receipt.replayed:
        # The first answer held the secret, which is shown once: it cannot be repeated.
        raise ApiError(
            409,
            "webhook-endpoint-already-registered",
            "Conflict",
            f"this request already registered endpoint {registered.endpoint_id}; its secret "
            "was shown once. Delete that endpoint and register again if it was lost.",
        )
    out = _after(endpoints, registered.receipt, response)
    return WebhookEndpointCreatedOut(**out.model_dump(), secret=registered.secret)


@router.get("", openapi_extra=OPERATOR, summary="Every endpoint (never its secret)")
def list_endpoints(endpoints: EndpointsDep, principal: PrincipalDep) -> list[WebhookEndpointOut]:
    cursors = endpoints.store.cursors()
    return [WebhookEndpointOut.of(e, cursors.get(e.id)) for e in endpoints.all()]


@router.get("/{endpoint_id}", openapi_extra=OPERATOR, summary="An endpoint and its delivery state")
def get_endpoint(
    endpoint_id: UUID, endpoints: EndpointsDep, principal: PrincipalDep, response: Response
) -> WebhookEndpointOut:
    out = _out(endpoints, endpoint_id)
    versioned(response, out.version)
    return out


@router.patch(
    "/{endpoint_id}", openapi_extra=OPERATOR, summary="Change URL, event types or description"
)
def update_endpoint(
    endpoint_id: UUID,
    body: WebhookEndpointPatch,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> WebhookEndpointOut:
    receipt = endpoints.change(ctx, endpoint_id, body.url, body.event_types, body.description)
    return _after(endpoints, receipt, response)


@router.delete(
    "/{endpoint_id}",
    openapi_extra=OPERATOR,
    summary="Delete an endpoint: deliveries stop, its secret, cursor and log are erased",
)
def delete_endpoint(
    endpoint_id: UUID,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> WebhookEndpointOut:
    return _after(endpoints, endpoints.delete(ctx, endpoint_id), response)


@router.post(
    "/{endpoint_id}/disable", openapi_extra=OPERATOR, summary="Stop deliveries, with a reason"
)
def disable_endpoint(
    endpoint_id: UUID,
    body: DisableIn,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> WebhookEndpointOut:
    return _after(endpoints, endpoints.disable(ctx, endpoint_id, body.reason), response)


@router.post(
    "/{endpoint_id}/enable",
    openapi_extra=OPERATOR,
    summary="Resume deliveries where they stopped (tried at once)",
)
def enable_endpoint(
    endpoint_id: UUID,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> WebhookEndpointOut:
    return _after(endpoints, endpoints.enable(ctx, endpoint_id), response)


@router.post(
    "/{endpoint_id}/replay",
    openapi_extra=OPERATOR,
    summary="Send again every wanted event from a log position on",
)
def replay_endpoint(
    endpoint_id: UUID,
    body: ReplayIn,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> WebhookEndpointOut:
    receipt = endpoints.replay(ctx, endpoint_id, body.from_position)
    return _after(endpoints, receipt, response)


@router.get(
    "/{endpoint_id}/deliveries",
    openapi_extra=OPERATOR,
    summary="The delivery log: each attempt, newest first",
)
def list_deliveries(
    endpoint_id: UUID,
    endpoints: EndpointsDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="An attempt's id: older ones")
    ] = None,
) -> DeliveryPage:
    endpoints.get(endpoint_id)
    found = endpoints.store.deliveries(endpoint_id, before, limit)
    return DeliveryPage(
        deliveries=[DeliveryOut.of(d) for d in found],
        next_before=found[-1].id if len(found) == limit else None,
    )
