"""Request and response bodies of the webhook endpoint routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from service.http.schemas.common import Body, Reason, safe
from service.webhooks.endpoint import WebhookEndpoint
from service.webhooks.store import Cursor, Delivery

Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    safe(2000),
    Field(examples=["https://crm.example.com/hooks/subledger"]),
]
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(max_length=200), safe(200)]],
    Field(
        max_length=200,
        description="CloudEvents types to send (see /v1/events/schemas); empty: every type",
        examples=[["subledger.invoice.InvoicePaid.v1"]],
    ),
]
Description = Annotated[str, StringConstraints(max_length=200), safe(200)]


class WebhookEndpointIn(Body):
    url: Url
    event_types: EventTypes = []
    description: Description = ""


class WebhookEndpointPatch(Body):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None


class DisableIn(Body):
    reason: Reason


class ReplayIn(Body):
    from_position: int = Field(
        ge=1, le=2**62, description="The first log position to send again (inclusive)"
    )


def _moment(unix: float | None) -> datetime | None:
    return None if not unix else datetime.fromtimestamp(unix, UTC)


class DeliveryStateOut(BaseModel):
    position: int = Field(description="The last log position acknowledged (or not wanted)")
    failures: int = Field(description="Failed attempts in a row at the next event")
    failing_since: datetime | None
    next_attempt_at: datetime | None = Field(description="While backing off after a failure")


class WebhookEndpointOut(BaseModel):
    id: UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    deleted: bool
    created_at: datetime
    version: int
    delivery: DeliveryStateOut

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, cursor: Cursor | None) -> WebhookEndpointOut:
        if cursor is None:  # the worker has not looked at it yet
            replay = endpoint.replay
            start = endpoint.start_after if replay is None else replay[1] - 1
            state = DeliveryStateOut(
                position=start, failures=0, failing_since=None, next_attempt_at=None
            )
        else:
            state = DeliveryStateOut(
                position=cursor.position,
                failures=cursor.failures,
                failing_since=_moment(cursor.failing_since),
                next_attempt_at=_moment(cursor.next_attempt_at),
            )
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            deleted=endpoint.deleted,
            created_at=endpoint.created_on,
            version=endpoint.version,
            delivery=state,
        )


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret: str = Field(description="The signing secret (whsec_...); shown only in this response")


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    position: int
    attempt: int = Field(description="1 for the first attempt at this event")
    status_code: int | None
    error: str | None = Field(description="Why no status code came back (timeout, reset...)")
    duration_ms: int
    attempted_at: datetime
    acknowledged: bool

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            position=delivery.position,
            attempt=delivery.attempt,
            status_code=delivery.status_code,
            error=delivery.error,
            duration_ms=delivery.duration_ms,
            attempted_at=delivery.attempted_at,
            acknowledged=delivery.acknowledged,
        )


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as ``before`` for older attempts")
