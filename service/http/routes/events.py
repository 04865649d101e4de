"""The public event feed over HTTP: its JSON Schemas, pages by cursor, and a live stream.

The schemas are public (they describe the contract, not anyone's data). The feed and the
stream answer at the ``events`` level: staff, auditors and integration tokens read the
whole book or one account; a customer token reads only its own account's events (and
needs Manage Billing there), and naming another account answers 404. An open stream
checks both again at every heartbeat, and ends when either is gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.types import Receive, Scope, Send

from domain.errors import InvalidValue, NotFound
from projections.event_schemas import all_schemas
from service.access.tokens import CUSTOMER_ROLES, Principal, Tokens
from service.http.access import Access, access_extra, account_for
from service.http.deps import LedgerDep, PrincipalDep, TokensDep
from service.http.event_stream import LogWatch, StreamSettings, StreamSlots, event_stream
from service.http.problems import PROBLEM_RESPONSES, ApiError
from service.http.reads import FreshReads, get_read_side
from service.ledger.application import Ledger
from service.reads.event_feed import EventFeed, FeedQuery
from service.reads.read_side import ReadSide

router = APIRouter(tags=["events"], responses=PROBLEM_RESPONSES)
SCHEMA_JSON = "application/schema+json"
# One event of the stream (OpenAPI < 3.2 describes each event with ``schema``).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The event's log position"},
        "event": {"type": "string", "description": "The CloudEvents type"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "The CloudEvent (see CloudEvent)",
        },
        "retry": {"type": "integer"},
    },
}


def _schemas(request: Request) -> dict[str, dict[str, Any]]:
    return all_schemas(request.app.state.public_url)


class SchemaRef(BaseModel):
    type: str
    schema_url: str = Field(serialization_alias="schema")
    description: str


class SchemaIndex(BaseModel):
    types: list[SchemaRef]


class CloudEvent(BaseModel):
    """CloudEvents 1.0, structured JSON; ``data`` follows the schema at ``dataschema``."""

    model_config = ConfigDict(extra="allow")

    specversion: str
    id: str = Field(description="Unique and stable: <aggregate id>/<version>")
    source: str
    type: str = Field(description="subledger.<aggregate>.<Event>.v<N>")
    subject: str = Field(description="The aggregate's id")
    time: str = Field(description="When the ledger recorded the event (RFC 3339)")
    sequence: str = Field(description="The log position, zero-padded to 19 digits")
    datacontenttype: str
    dataschema: str
    actorid: str
    actorrole: str
    requestid: str
    correlationid: str
    effectiveat: str | None = Field(None, description="When it takes effect, where it has a date")
    reason: str | None = Field(None, description="Why, for a staff correction")
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[CloudEvent]
    next_after: int = Field(description="Pass as `after` for the next page")
    caught_up: bool = Field(description="Nothing more to read now: wait before the next page")


@router.get(
    "/v1/events/schemas",
    openapi_extra=access_extra(Access.PUBLIC),
    summary="The public event types and where their JSON Schemas are",
    response_model_by_alias=True,
)
def schema_index(request: Request) -> SchemaIndex:
    return SchemaIndex(
        types=[
            SchemaRef(type=kind, schema_url=schema["$id"], description=schema["description"])
            for kind, schema in sorted(_schemas(request).items())
        ]
    )


@router.get(
    "/v1/events/schemas/{event_type}",
    openapi_extra=access_extra(Access.PUBLIC),
    summary="The JSON Schema (draft 2020-12) of one event type's data",
    responses={200: {"content": {SCHEMA_JSON: {"schema": {"type": "object"}}}}},
    response_class=JSONResponse,
)
def event_schema(
    request: Request, event_type: Annotated[str, Path(max_length=200)]
) -> JSONResponse:
    schema = _schemas(request).get(event_type)
    if schema is None:
        raise NotFound(f"no event type {event_type}")
    return JSONResponse(schema, media_type=SCHEMA_JSON)


Types = Annotated[
    list[Annotated[str, StringConstraints(max_length=200)]] | None,
    Query(
        alias="type",
        max_length=20,
        description="CloudEvents types, or prefixes of whole segments (subledger.invoice); "
        "repeat for several",
    ),
]
AccountFilter = Annotated[
    UUID | None, Query(alias="account", description="Only this account's events")
]
After = Annotated[int, Query(ge=0, description="Cursor: events after this log position")]


def _query(
    ledger: Ledger, principal: Principal, types: list[str] | None, account: UUID | None
) -> FeedQuery:
    """The feed a caller may read: a customer is confined to its own account."""
    if principal.role in CUSTOMER_ROLES:
        account = account or principal.account_id
    if account is not None:
        account_for(ledger, principal, account, Access.EVENTS)
    return FeedQuery(tuple(types or ()), account)


def _check_cursor(ledger: Ledger, after: int) -> None:
    head = ledger.head_position()
    if after > head:
        raise InvalidValue(f"position {after} is beyond the end of the log ({head})")


def _feed(request: Request, ledger: Ledger) -> EventFeed:
    return EventFeed(ledger, get_read_side(request), request.app.state.public_url)


@router.get(
    "/v1/events",
    openapi_extra=access_extra(Access.EVENTS),
    summary="Public events after a position, in log order, as CloudEvents",
    response_model=EventPage,
)
def events(
    request: Request,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: FreshReads,  # with min_position: once the account index has reached it
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    types: Types = None,
    account: AccountFilter = None,
) -> JSONResponse:
    query = _query(ledger, principal, types, account)
    _check_cursor(ledger, after)
    page = _feed(request, ledger).page(query, after, limit)
    return JSONResponse(
        {"events": page.events, "next_after": page.next_after, "caught_up": page.caught_up}
    )


def _settings(request: Request) -> StreamSettings:
    settings: StreamSettings | None = getattr(request.app.state, "event_stream", None)
    if settings is None:
        settings = StreamSettings.from_settings(request.app.state.settings)
        request.app.state.event_stream = settings
    return settings


def _slots(request: Request, settings: StreamSettings) -> StreamSlots:
    state = request.app.state
    slots: StreamSlots | None = getattr(state, "event_stream_slots", None)
    if slots is None or slots.limit != settings.max_per_token:
        slots = state.event_stream_slots = StreamSlots(settings.max_per_token)
    return slots


def _still_allowed(
    ledger: Ledger, tokens: Tokens, principal: Principal, query: FeedQuery
) -> Callable[[], bool]:
    """Whether the stream's caller may still read it: the token is live and, for an
    account's stream, the caller may still read that account (a customer's Manage
    Billing, read afresh)."""

    def allowed() -> bool:
        if not tokens.is_live(principal.token_id):
            return False
        if query.account_id is not None:
            try:
                account_for(ledger, principal, query.account_id, Access.EVENTS)
            except (NotFound, ApiError):
                return False
        return True

    return allowed


class _HoldingSlot(EventSourceResponse):
    """A stream that gives its token's slot back when it ends, however it ends (even if
    the client left before its first byte, when the body is never iterated)."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _watch(request: Request, feed: EventFeed, settings: StreamSettings) -> LogWatch:
    """One watch per read side (tests swap the read side of a long-lived app)."""
    state = request.app.state
    found: tuple[ReadSide, LogWatch] | None = getattr(state, "event_watch", None)
    if found is None or found[0] is not feed.read_side:
        found = state.event_watch = (feed.read_side, LogWatch(feed.progress, settings.poll))
    return found[1]


@router.get(
    "/v1/events/stream",
    openapi_extra=access_extra(Access.EVENTS),
    summary="Public events as they are recorded: Server-Sent Events, resumable",
    # Not EventSourceResponse: FastAPI would take the function for a generator endpoint.
    # It returns one (``_HoldingSlot``), made after the checks that may refuse it.
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A stream of Server-Sent Events, one CloudEvent each, that stays "
            "open: heartbeat comments while idle; resume with Last-Event-ID",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        }
    },
)
def stream(
    request: Request,
    ledger: LedgerDep,
    tokens: TokensDep,
    principal: PrincipalDep,
    after: After = 0,
    types: Types = None,
    account: AccountFilter = None,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, description="The last id received: resume right after it (wins over after)"),
    ] = None,
) -> StreamingResponse:
    query = _query(ledger, principal, types, account)
    start = after if last_event_id is None else last_event_id
    _check_cursor(ledger, start)
    feed = _feed(request, ledger)
    settings = _settings(request)
    allowed = _still_allowed(ledger, tokens, principal, query)
    slots = _slots(request, settings)
    if not slots.take(principal.token_id):
        raise ApiError(
            429,
            "too-many-streams",
            "Too Many Requests",
            f"this token already holds {slots.limit} open event streams; close one first",
            {"Retry-After": "5"},
        )
    watch = _watch(request, feed, settings)
    body = event_stream(feed, watch, query, start, settings, allowed)
    return _HoldingSlot(body, lambda: slots.give_back(principal.token_id))
