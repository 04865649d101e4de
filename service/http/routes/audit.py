"""The audit trail over HTTP: filtered, cursor-paged, and exported as CSV or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from projections.audit_trail import COLUMNS, AuditFilter, audit_rows
from service.http.access import Access, access_extra, account_for
from service.http.deps import LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import FreshReads, Reads
from service.http.schemas.common import Instant

router = APIRouter(tags=["audit"], responses=PROBLEM_RESPONSES)
EXPORT_PAGE = 1000


class Format(Enum):
    JSON = "json"
    CSV = "csv"
    JSONL = "jsonl"


class AuditEventOut(BaseModel):
    position: int
    recorded_at: str
    effective_on: str | None
    aggregate_type: str
    aggregate_id: UUID
    aggregate_version: int
    account_id: UUID | None
    event_type: str
    actor: str
    role: str
    request_id: str
    correlation_id: str
    reason: str | None
    payload: dict[str, Any]


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_after: int | None  # pass as ``after`` for the next page; null at the end


EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of events (JSON), or every matching event (CSV, JSON Lines)",
        "content": {"text/csv": {}, "application/x-ndjson": {}},
    }
}


def _filter(
    account: UUID | None,
    aggregate: UUID | None,
    actor: str | None,
    event_type: str | None,
    recorded_from: datetime | None,
    recorded_to: datetime | None,
    after: int,
) -> AuditFilter:
    return AuditFilter(account, aggregate, actor, event_type, recorded_from, recorded_to, after)


def _answer(reads: Reads, where: AuditFilter, limit: int, fmt: Format) -> Any:
    if fmt is Format.JSON:
        with reads.sql() as sql:
            rows = audit_rows(sql, where, limit)
        next_after = rows[-1]["position"] if len(rows) == limit else None
        return AuditPage(
            events=[AuditEventOut.model_validate(r) for r in rows], next_after=next_after
        )
    lines = _csv(reads, where) if fmt is Format.CSV else _jsonl(reads, where)
    media = "text/csv" if fmt is Format.CSV else "application/x-ndjson"
    return StreamingResponse(
        lines,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit.{fmt.value}"'},
    )


def _pages(reads: Reads, where: AuditFilter) -> Iterator[list[dict[str, Any]]]:
    """Every matching row, a page per transaction, so an export never holds a long one."""
    after = where.after
    while True:
        with reads.sql() as sql:
            rows = audit_rows(sql, _with_after(where, after), EXPORT_PAGE)
        if not rows:
            return
        yield rows
        after = rows[-1]["position"]


def _with_after(where: AuditFilter, after: int) -> AuditFilter:
    return AuditFilter(
        where.account_id,
        where.aggregate_id,
        where.actor,
        where.event_type,
        where.recorded_from,
        where.recorded_to,
        after,
    )


# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection");
# actors, reasons and ids come from callers, so such a cell is written as text: 'cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(reads: Reads, where: AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for rows in _pages(reads, where):
        for row in rows:
            writer.writerow(
                [
                    _as_text(json.dumps(row[c], sort_keys=True) if c == "payload" else row[c])
                    for c in COLUMNS
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _jsonl(reads: Reads, where: AuditFilter) -> Iterator[str]:
    for rows in _pages(reads, where):
        yield "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)


Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (JSON only)")]
After = Annotated[int, Query(ge=0, description="Cursor: events after this position")]
Recorded = Annotated[Instant | None, Query(description="Recorded at or after (ISO 8601)")]
RecordedTo = Annotated[Instant | None, Query(description="Recorded before (ISO 8601)")]
Actor = Annotated[str | None, Query(max_length=200)]
EventType = Annotated[str | None, Query(max_length=100, description="e.g. Invoice.InvoicePaid")]


@router.get(
    "/v1/audit/events",
    openapi_extra=access_extra(Access.AUDIT),
    responses=EXPORTS,
    summary="Every event with who, when and why: filter, page, export",
)
def audit_events(
    principal: PrincipalDep,
    reads: FreshReads,
    account: UUID | None = None,
    aggregate: UUID | None = None,
    actor: Actor = None,
    event_type: EventType = None,
    recorded_from: Recorded = None,
    recorded_to: RecordedTo = None,
    after: After = 0,
    limit: Limit = 100,
    format: Format = Format.JSON,
) -> AuditPage:
    where = _filter(account, aggregate, actor, event_type, recorded_from, recorded_to, after)
    answer: AuditPage = _answer(reads, where, limit, format)
    return answer


@router.get(
    "/v1/accounts/{account_id}/history",
    openapi_extra=access_extra(Access.ACCOUNT_READ),
    responses=EXPORTS,
    summary="The account's own history: every event that concerns it",
)
def account_history(
    account_id: UUID,
    ledger: LedgerDep,
    principal: PrincipalDep,
    reads: FreshReads,
    aggregate: UUID | None = None,
    actor: Actor = None,
    event_type: EventType = None,
    recorded_from: Recorded = None,
    recorded_to: RecordedTo = None,
    after: After = 0,
    limit: Limit = 100,
    format: Format = Format.JSON,
) -> AuditPage:
    account_for(ledger, principal, account_id, Access.ACCOUNT_READ)
    where = _filter(account_id, aggregate, actor, event_type, recorded_from, recorded_to, after)
    answer: AuditPage = _answer(reads, where, limit, format)
    return answer
