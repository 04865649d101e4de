"""Liveness, readiness (the store, the read models' lag, failures and runner) and metrics
(``service.http.metrics``).

Readiness answers 503 while a read model fails on an event (naming it) or while no
process has held the projection runner's lock for longer than a few seconds: either way
the read models fall behind the log, and a load balancer should know.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from service.http.access import Access, access_extra
from service.http.deps import LedgerDep
from service.http.metrics import CONTENT_TYPE, exposition
from service.http.problems import PROBLEM_RESPONSES, ApiError
from service.http.reads import get_read_side
from service.reads.read_side import ReadSide

router = APIRouter(tags=["operations"])
ReadSideDep = Annotated[ReadSide, Depends(get_read_side)]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    position: int
    lag: dict[str, int]  # per read model: log head minus its position
    runner: str  # "here", or "elsewhere" when another process runs the projections


@router.get("/healthz", openapi_extra=access_extra(Access.PUBLIC), summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    openapi_extra=access_extra(Access.PUBLIC),
    responses={503: PROBLEM_RESPONSES[503]},
    summary="The store is reachable, the read models run and none fails; their lag",
)
def readyz(ledger: LedgerDep, read_side: ReadSideDep) -> Readiness:
    if failing := read_side.failures():
        raise ApiError(
            503,
            "read-model-failing",
            "Service Unavailable",
            "; ".join(failure.describe() for failure in failing.values()),
            {"Retry-After": "5"},
            failing_projections=list(failing),
        )
    if not read_side.runner_present():
        raise ApiError(
            503,
            "no-projection-runner",
            "Service Unavailable",
            "no process has run the projections for more than "
            f"{read_side.runner_grace_seconds:.0f} s: start `subledger projections run` "
            "or `serve` with SUBLEDGER_PROJECTIONS on",
            {"Retry-After": "5"},
        )
    return Readiness(
        status="ready",
        position=ledger.head_position(),
        lag=read_side.lag(),
        runner="here" if read_side.running_here else "elsewhere",
    )


@router.get(
    "/metrics",
    openapi_extra=access_extra(Access.PUBLIC),
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 503: PROBLEM_RESPONSES[503]},
    summary="Prometheus metrics: requests, commands, read models, relays, webhooks, billing",
)
def metrics(ledger: LedgerDep, read_side: ReadSideDep) -> Response:
    return Response(exposition(ledger, read_side), media_type=CONTENT_TYPE)
