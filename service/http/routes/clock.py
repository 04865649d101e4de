"""The test clock (ADR 0015): read it, and move it forward to rehearse billing.

Only a ledger served with ``--test-clock`` (``SUBLEDGER_CLOCK=test``) has one; on any
other both routes answer 404, so nothing can move a production clock."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.clock.test_clock import ClockControl
from service.http.access import Access, access_extra
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import get_read_side
from service.http.responses import versioned
from service.http.schemas.clock import ClockMoveIn, ClockMoveOut, ClockOut
from service.ledger.application import Ledger

router = APIRouter(prefix="/v1/test-clock", tags=["test clock"], responses=PROBLEM_RESPONSES)


def _control(request: Request, ledger: Ledger) -> ClockControl:
    return ClockControl(ledger, get_read_side(request).settings, request.app.state.billing)


@router.get(
    "",
    openapi_extra=access_extra(Access.CLOCK),
    summary="The test clock's instant (404 unless served with --test-clock)",
)
def get_test_clock(
    request: Request, ledger: LedgerDep, principal: PrincipalDep, response: Response
) -> ClockOut:
    clock = _control(request, ledger).clock()
    versioned(response, clock.version)
    return ClockOut.of(clock)


@router.post(
    "",
    openapi_extra=access_extra(Access.CLOCK_CONTROL),
    summary="Move the test clock forward and run billing up to it (staff, operators)",
    description="Give `advance` (an ISO 8601 duration) or `to` (an instant). The billing "
    "run stops on each day a step falls due, the clock standing at that day's start, so "
    "invoices are issued, fall due and go overdue on the days they would have; the answer "
    "lists what it did. An earlier instant answers 409 (`clock-cannot-go-back`) and writes "
    "nothing. A retry with the same `Idempotency-Key` moves nothing and answers the clock "
    "as it is, without the billing it ran the first time.",
)
def move_test_clock(
    request: Request,
    body: ClockMoveIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    response: Response,
) -> ClockMoveOut:
    control = _control(request, ledger)
    duration = body.duration
    if duration is not None:
        move = control.advance(ctx, duration)
    else:
        assert body.to is not None  # the body names one of the two
        move = control.move_to(ctx, body.to)
    clock = control.clock()
    versioned(response, move.receipt.version)
    position = move.position if move.position is not None else ledger.head_position()
    response.headers["Ledger-Position"] = str(position)
    if move.receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ClockMoveOut.of_move(move, clock)
