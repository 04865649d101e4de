"""Request and response bodies of the test clock (ADR 0015)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.errors import InvalidValue
from service.billing.run import BillingReport
from service.clock.durations import EXAMPLES, Duration, parse_duration
from service.clock.test_clock import ClockMove, StoredClock
from service.http.schemas.common import Body, Instant, safe

StepKind = Literal["invoice", "reminder", "renewal", "expiry", "overdue"]


class ClockMoveIn(Body):
    """Exactly one of ``advance`` and ``to``."""

    advance: Annotated[str, safe(40)] | None = Field(
        None,
        max_length=40,
        description=f"An ISO 8601 duration forward in time, e.g. {EXAMPLES}; months and "
        "years are calendar months (31 January + P1M = the last day of February)",
        examples=["P1M"],
    )
    to: Instant | None = Field(
        None,
        description="The instant to move to (ISO 8601 with a time zone); not before the "
        "clock's own",
        examples=["2027-03-01T00:00:00Z"],
    )

    @field_validator("advance")
    @classmethod
    def _is_a_duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except InvalidValue as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("to")
    @classmethod
    def _has_a_time_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the instant a time zone, e.g. 2027-03-01T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _one_of_the_two(self) -> ClockMoveIn:
        if (self.advance is None) == (self.to is None):
            raise ValueError('name exactly one of "advance" (a duration) and "to" (an instant)')
        return self

    @property
    def duration(self) -> Duration | None:
        return None if self.advance is None else parse_duration(self.advance)


class ClockOut(BaseModel):
    now: datetime = Field(description="The clock's instant: the recorded time of every change")
    today: date = Field(description="Its day (UTC): what billing and `effective` defaults use")
    version: int

    @classmethod
    def of(cls, clock: StoredClock) -> ClockOut:
        return cls(
            now=clock.instant, today=clock.instant.astimezone(UTC).date(), version=clock.version
        )


class BillingActionOut(BaseModel):
    day: date = Field(description="The day the step fell due (the clock stood at its start)")
    kind: StepKind
    subject: UUID = Field(description="The contract, or the invoice for an overdue mark")
    detail: str
    position: int | None


class BillingFailureOut(BaseModel):
    day: date
    kind: StepKind
    subject: UUID
    error: str


class ClockMoveOut(ClockOut):
    previous: datetime = Field(description="Where the clock stood before this move")
    actions: list[BillingActionOut] = Field(description="What the billing run did, in order")
    failures: list[BillingFailureOut] = Field(description="Steps refused (they stay due)")

    @classmethod
    def of_move(cls, move: ClockMove, clock: StoredClock) -> ClockMoveOut:
        report: BillingReport = move.billing
        return cls(
            **ClockOut.of(clock).model_dump(),
            previous=move.previous,
            actions=[
                BillingActionOut(
                    day=a.day,
                    kind=a.kind.name.lower(),  # type: ignore[arg-type]
                    subject=a.subject,
                    detail=a.detail,
                    position=a.position,
                )
                for a in report.actions
            ],
            failures=[
                BillingFailureOut(
                    day=f.day,
                    kind=f.kind.name.lower(),  # type: ignore[arg-type]
                    subject=f.subject,
                    error=f.error,
                )
                for f in report.failures
            ],
        )
