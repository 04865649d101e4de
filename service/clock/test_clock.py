"""The test clock: a clock kept in the ledger's own log, moved forward on request, for
rehearsing months of billing without touching production time (ADR 0015).

``subledger serve --test-clock`` (or ``SUBLEDGER_CLOCK=test``) puts the ledger on it: the
application clock then answers the instant of the store's ``StoredClock``, read from the
store on every call, so every process of the store agrees on it and it survives a
restart. Staff or operators move it forward; moving it runs the billing run up to the new
instant, stopping on each day a step falls due, so that invoices are issued, fall due and
go overdue on the days they would have. It never goes back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import EventStore, IntegrityError

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import DomainError, InvalidValue, NotFound
from service.billing.run import BILLING_LOCK, BillingReport, BillingRun, BillingSettings
from service.clock.durations import Duration
from service.ledger.application import Ledger, Receipt
from service.ledger.context import SYSTEM, CommandContext
from service.ledger.errors import PreconditionFailed

CLOCK_ID = uuid5(NAMESPACE_URL, "subledger:test-clock")
LONGEST_MOVE = timedelta(days=3660)  # ten years at once: a rehearsal, not a time machine
LOCK_WAIT_SECONDS = 10.0  # how long a move waits for a billing run in progress


class ClockCannotGoBack(DomainError):
    code = "clock-cannot-go-back"

    def __init__(self, now: datetime, asked: datetime) -> None:
        super().__init__(
            f"the test clock only moves forward: it is {now.isoformat()},"
            f" {asked.isoformat()} is earlier"
        )


class BillingRunInProgress(DomainError):
    code = "billing-run-in-progress"


class NoTestClock(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "no test clock: this ledger runs on the system clock"
            " (serve with --test-clock to rehearse billing)"
        )


class StoredClock(LedgerAggregate):
    """The test clock's instant; each event is the first one recorded at its instant."""

    class ClockStarted(LedgerAggregate.Created):
        instant: datetime

    class ClockAdvanced(LedgerAggregate.Event):
        instant: datetime

        def apply(self, clock: StoredClock) -> None:
            clock.instant = self.instant

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    @classmethod
    def start(cls, instant: datetime, cause: Cause) -> StoredClock:
        return cls._begin(cls.ClockStarted, CLOCK_ID, replace(cause, at=instant), instant=instant)

    def advance_to(self, instant: datetime, cause: Cause) -> None:
        """Move to ``instant`` (no event if it is the clock's already)."""
        if instant < self.instant:
            raise ClockCannotGoBack(self.instant, instant)
        if instant > self.instant:
            self._record(self.ClockAdvanced, replace(cause, at=instant), instant=instant)


class StoredTestClock:
    """The Clock port on a test clock: the stored instant, read afresh on every call
    (never cached: another process may have moved it a moment ago)."""

    def __init__(self, events: EventStore[UUID]) -> None:
        self._events = events

    def now(self) -> datetime:
        instant = stored_instant(self._events)
        if instant is None:
            raise NoTestClock()
        return instant


def stored_instant(events: EventStore[UUID]) -> datetime | None:
    """The store's test-clock instant, or None if it never had one."""
    for latest in events.get(CLOCK_ID, desc=True, limit=1):
        assert isinstance(latest, StoredClock.ClockStarted | StoredClock.ClockAdvanced)
        return latest.instant
    return None


def on_test_clock(ledger: Ledger) -> bool:
    return isinstance(ledger.clock, StoredTestClock)


def use_test_clock(ledger: Ledger, start: datetime | None = None) -> None:
    """Put ``ledger`` on its store's test clock, starting the clock first if the store has
    none: at ``start`` (default: the ledger's clock now), or at the last recorded event if
    that is later, since recorded time must never go back."""
    if stored_instant(ledger.events) is None:
        instant = start or ledger.clock.now()
        last = _last_recorded(ledger)
        if last is not None and last > instant:
            instant = last
        # another process may start it first: then that one stands
        with contextlib.suppress(IntegrityError):
            ledger.save(StoredClock.start(instant, SYSTEM.cause(instant)))
    ledger.clock = StoredTestClock(ledger.events)


def _last_recorded(ledger: Ledger) -> datetime | None:
    head = ledger.head_position()
    if not head:
        return None
    (notification,) = ledger.recorder.select_notifications(head, 1)
    event = ledger.mapper.to_domain_event(notification)
    assert isinstance(event, LedgerAggregate.Event)
    return event.timestamp


@dataclass(frozen=True)
class ClockMove:
    """What moving the clock did: from when to when, and the billing it ran."""

    previous: datetime
    now: datetime
    receipt: Receipt  # the last move of the clock (its version; replayed for a retry)
    billing: BillingReport
    position: int | None  # the last event the move wrote (None: nothing)


class ClockControl:
    """Reads and moves a ledger's test clock; NoTestClock if it runs on another."""

    def __init__(
        self, ledger: Ledger, store: StoreSettings, settings: BillingSettings | None = None
    ) -> None:
        if not on_test_clock(ledger):
            raise NoTestClock()
        self.ledger = ledger
        self.store = store
        self.reminder_days = (settings or BillingSettings()).reminder_days

    def clock(self) -> StoredClock:
        try:
            found: object = self.ledger.repository.get(CLOCK_ID)
        except AggregateNotFoundError:
            raise NoTestClock() from None
        assert isinstance(found, StoredClock)
        return found

    def advance(self, ctx: CommandContext, duration: Duration) -> ClockMove:
        return self._move(ctx, duration.after)

    def move_to(self, ctx: CommandContext, instant: datetime) -> ClockMove:
        if instant.tzinfo is None:
            raise InvalidValue("the test clock's new instant needs a time zone (e.g. Z)")
        return self._move(ctx, lambda _: instant.astimezone(UTC))

    def _move(self, ctx: CommandContext, target_of: Callable[[datetime], datetime]) -> ClockMove:
        replayed = self.ledger.replay(ctx)
        if replayed is not None:
            now = self.clock().instant
            return ClockMove(now, now, replayed, BillingReport(now.date()), replayed.position)
        lock = self._billing_lock()
        try:
            return self._walk(ctx, target_of)
        finally:
            lock.release()

    def _billing_lock(self) -> RunnerLock:
        """The store's billing lock: a move is a billing run (ADR 0006), one at a time."""
        lock = RunnerLock(self.store, BILLING_LOCK)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while not lock.try_acquire():
            if time.monotonic() > deadline:
                raise BillingRunInProgress("a billing run is in progress on this store; retry")
            time.sleep(0.1)
        return lock

    def _walk(self, ctx: CommandContext, target_of: Callable[[datetime], datetime]) -> ClockMove:
        clock = self.clock()
        previous, target = clock.instant, target_of(clock.instant)
        if ctx.expected_version is not None and ctx.expected_version != clock.version:
            raise PreconditionFailed(ctx.expected_version, clock.version)
        if target < previous:
            raise ClockCannotGoBack(previous, target)
        if target - previous > LONGEST_MOVE:
            raise InvalidValue("a test clock moves at most ten years at once")
        billing, positions = self._bill_until(
            replace(ctx, idempotency_key=None, expected_version=None), target
        )
        # The answer to keep for a retry: recorded apart, at the new instant, so that no
        # record of this request is stamped before the clock reached it.
        receipt = self.ledger.execute(
            replace(ctx, expected_version=None), lambda cause: [], CLOCK_ID
        )
        position = max((p for p in [*positions, receipt.position] if p is not None), default=None)
        return ClockMove(previous, target, receipt, billing, position)

    def _bill_until(
        self, ctx: CommandContext, target: datetime
    ) -> tuple[BillingReport, list[int | None]]:
        """Run billing on each day a step falls due up to the target, the clock standing at
        that day's start, then move it to the target and run billing there; what the runs
        did, and the positions of every event written."""
        run = BillingRun(self.ledger, self.reminder_days)
        reports = [run.run()]  # what was due already
        moves: list[int | None] = []
        while (day := run.next_due(self.ledger.clock.now().date(), target.date())) is not None:
            moves.append(self._set(ctx, _start_of(day)).position)
            reports.append(run.run(day))
        moves.append(self._set(ctx, target).position)
        reports.append(run.run(target.date()))
        billing = _merged(target.date(), reports)
        return billing, [*moves, *(action.position for action in billing.actions)]

    def _set(self, ctx: CommandContext, instant: datetime) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            clock = self.clock()
            clock.advance_to(instant, cause)
            return [clock]

        return self.ledger.execute(ctx, work, CLOCK_ID)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _merged(until: date, reports: list[BillingReport]) -> BillingReport:
    """One report of several runs; a step refused in each of them is reported once."""
    failures = {(f.day, f.kind, f.subject): f for r in reports for f in r.failures}
    return BillingReport(until, [a for r in reports for a in r.actions], list(failures.values()))
