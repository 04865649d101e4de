"""Liveness, readiness (the store, the read models' lag, failures and runner) and metrics.

Readiness answers 503 while a read model fails on an event (naming it) or while no
process has held the projection runner's lock for longer than a few seconds: either way
the read models fall behind the log, and a load balancer should know.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from service.http.access import Access, access_extra
from service.http.deps import LedgerDep
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
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 503: PROBLEM_RESPONSES[503]},
    summary="Prometheus metrics: log head, read-model positions, lag and failures",
)
def metrics(ledger: LedgerDep, read_side: ReadSideDep) -> PlainTextResponse:
    head = ledger.head_position()
    positions = read_side.positions()
    failing = read_side.failures()
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
        "# HELP subledger_projection_failing 1 while a read model fails on an event.",
        "# TYPE subledger_projection_failing gauge",
        *(
            f'subledger_projection_failing{{projection="{n}"}} {int(n in failing)}'
            for n in positions
        ),
        "# HELP subledger_projection_failed_position The log position a read model fails at.",
        "# TYPE subledger_projection_failed_position gauge",
        *(
            f'subledger_projection_failed_position{{projection="{n}"}} {f.position}'
            for n, f in failing.items()
        ),
        "# HELP subledger_projection_failed_attempts Attempts at the event a read model fails at.",
        "# TYPE subledger_projection_failed_attempts gauge",
        *(
            f'subledger_projection_failed_attempts{{projection="{n}"}} {f.attempts}'
            for n, f in failing.items()
        ),
        "# HELP subledger_projection_runner_here 1 if this process runs the projections.",
        "# TYPE subledger_projection_runner_here gauge",
        f"subledger_projection_runner_here {int(read_side.running_here)}",
        "# HELP subledger_projection_runner_present 1 if a process runs the projections.",
        "# TYPE subledger_projection_runner_present gauge",
        f"subledger_projection_runner_present {int(read_side.runner_present())}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
