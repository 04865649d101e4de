"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.http.access import Access, access_extra
from service.http.deps import LedgerDep
from service.http.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    position: int


@router.get("/healthz", openapi_extra=access_extra(Access.PUBLIC), summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    openapi_extra=access_extra(Access.PUBLIC),
    responses={503: PROBLEM_RESPONSES[503]},
    summary="The store is reachable",
)
def readyz(ledger: LedgerDep) -> Readiness:
    return Readiness(status="ready", position=ledger.head_position())
