"""Reads served from the read models: freshness (read your writes) and point in time.

A read may name a log position (``min_position`` or ``Ledger-Min-Position``, usually
the ``Ledger-Position`` a command returned): it is served once every read model has
reached it, or answers 503 with ``Retry-After`` past the bound. A read ``as_of`` an
instant waits for the events recorded up to now, so that the recorded-time index is
complete for any past instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from domain.base import LedgerAggregate
from domain.errors import InvalidValue, NotFound
from projections.documents import Document
from projections.store import Sql
from service.http.problems import ApiError
from service.http.responses import versioned
from service.http.schemas.common import Day
from service.ledger.application import Ledger
from service.reads.point_in_time import aggregate_at, parse_as_of
from service.reads.read_side import ProjectionsBehind, ReadSide

MAX_POSITION = 2**63 - 1
T = TypeVar("T")


def get_read_side(request: Request) -> ReadSide:
    read_side: ReadSide = request.app.state.read_side
    return read_side


def _wait(read_side: ReadSide, position: int) -> None:
    try:
        read_side.wait_for(position, read_side.read_wait_seconds)
    except ProjectionsBehind as behind:
        raise ApiError(
            503,
            "read-models-behind",
            "Service Unavailable",
            f"{behind}; retry shortly",
            {"Retry-After": "1"},
        ) from None


def caught_up(read_side: ReadSide) -> None:
    """Wait until the read models (the recorded-time index too) reach the log's head."""
    _wait(read_side, read_side.ledger.head_position())


@dataclass(frozen=True)
class Reads:
    """The read models, caught up to what the request asked for."""

    side: ReadSide
    as_of: datetime | None
    effective: date | None

    @contextmanager
    def sql(self) -> Iterator[Sql]:
        with self.side.readers.transaction() as sql:
            yield sql


def fresh_reads(
    read_side: Annotated[ReadSide, Depends(get_read_side)],
    min_position: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="Serve once the read models reach this position"),
    ] = None,
    ledger_min_position: Annotated[
        int | None, Header(ge=0, le=MAX_POSITION, description="As min_position, as a header")
    ] = None,
) -> Reads:
    wanted = max(min_position or 0, ledger_min_position or 0)
    head = read_side.ledger.head_position()
    if wanted > head:
        raise InvalidValue(f"position {wanted} is beyond the end of the log ({head})")
    if wanted:
        _wait(read_side, wanted)
    return Reads(read_side, None, None)


def point_in_time_reads(
    reads: Annotated[Reads, Depends(fresh_reads)],
    as_of: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Recorded time (ISO 8601): fold only what the ledger knew then",
        ),
    ] = None,
    effective: Annotated[
        Day | None,
        Query(description="Business date: what was in force then (default: as_of's day)"),
    ] = None,
) -> Reads:
    if as_of is None and effective is None:
        return reads
    try:
        moment = parse_as_of(as_of) if as_of is not None else reads.side.ledger.clock.now()
    except InvalidValue as error:
        # a malformed query parameter, answered like any other (naming the field)
        raise RequestValidationError(
            [{"loc": ("query", "as_of"), "msg": str(error), "type": "value_error"}]
        ) from None
    _wait(reads.side, reads.side.ledger.head_position())
    return Reads(reads.side, moment, effective)


def dated_reads(reads: Annotated[Reads, Depends(point_in_time_reads)]) -> Reads:
    """Point-in-time reads that are always dated: without ``as_of`` and ``effective``, as
    known now and in force today (by the ledger's clock), for a read whose answer depends
    on the day (seats that start next month are not held today)."""
    if reads.as_of is not None:
        return reads
    _wait(reads.side, reads.side.ledger.head_position())
    return Reads(reads.side, reads.side.ledger.clock.now(), None)


def projected(reads: Reads, fetch: Callable[[Sql], T | None], what: str) -> T:
    """A document the read models should hold. The thing exists (the caller checked it in
    the event store), so if it is not projected yet, wait for the head once."""
    with reads.sql() as sql:
        found = fetch(sql)
    if found is None:
        _wait(reads.side, reads.side.ledger.head_position())
        with reads.sql() as sql:
            found = fetch(sql)
    if found is None:
        raise NotFound(f"no {what}")
    return found


def aggregate_document(
    reads: Reads,
    ledger: Ledger,
    kind: type[LedgerAggregate],
    aggregate_id: UUID,
    document: Callable[[Any], Document],
    fetch: Callable[[Sql], Document | None],
    response: Response,
) -> Document:
    """One aggregate's document, as a GET of it asks: ``as_of`` an instant (in force on
    ``effective``), rebuilt from the log; else the read model's, whose version is the ETag."""
    if reads.as_of is not None:
        with reads.sql() as sql:
            then = aggregate_at(ledger, sql, aggregate_id, reads.as_of, reads.effective, kind)
        return document(then.aggregate)
    found = projected(reads, fetch, f"{kind.__name__.lower()} {aggregate_id}")
    versioned(response, found["version"])
    return found


FreshReads = Annotated[Reads, Depends(fresh_reads)]
PointInTimeReads = Annotated[Reads, Depends(point_in_time_reads)]
DatedReads = Annotated[Reads, Depends(dated_reads)]
