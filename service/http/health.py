"""Liveness, readiness (the store and the read models' lag) and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from service.http.access import Access, access_extra
from service.http.deps import LedgerDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import get_read_side
from service.read_side import ReadSide

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
    summary="The store is reachable; the read models' lag",
)
def readyz(ledger: LedgerDep, read_side: ReadSideDep) -> Readiness:
    return Readiness(
        status="ready",
        position=ledger.head_position(),
        lag=read_side.lag(),
        runner="here" if read_side.running_here else "elsewhere",
    )


@router.get(
    "/metrics",
    openapi_extra=access_extra(Access.PUBLIC),
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 503: PROBLEM_RESPONSES[503]},
    summary="Prometheus metrics: log head, read-model positions and lag",
)
def metrics(ledger: LedgerDep, read_side: ReadSideDep) -> PlainTextResponse:
    head = ledger.head_position()
    positions = read_side.positions()
    lines = [
        "# HELP subledger_log_head_position Position of the newest event in the global log.",
        "# TYPE subledger_log_head_position gauge",
        f"subledger_log_head_position {head}",
        "# HELP subledger_projection_position Last log position applied by each read model.",
        "# TYPE subledger_projection_position gauge",
        *(f'subledger_projection_position{{projection="{n}"}} {p}' for n, p in positions.items()),
        "# HELP subledger_projection_lag Events in the log not yet applied by each read model.",
        "# TYPE subledger_projection_lag gauge",
        *(
            f'subledger_projection_lag{{projection="{n}"}} {max(head - p, 0)}'
            for n, p in positions.items()
        ),
        "# HELP subledger_projection_runner_here 1 if this process runs the projections.",
        "# TYPE subledger_projection_runner_here gauge",
        f"subledger_projection_runner_here {int(read_side.running_here)}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
