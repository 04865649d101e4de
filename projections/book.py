"""The whole book at a point in time: temporal tables, so a report is a query, not a replay.

Every fact the book report counts is a row valid over two ranges of time:

- **effective** ``[effective_from, effective_to)``, in business days (``effective_to``
  NULL: open-ended): the days on which the fact is in force;
- **recorded** ``[valid_from, valid_to)``, in recorded time, with the log positions of
  the events that opened and closed the row (``valid_to`` NULL: still believed).

The facts: a contract in force (``book_contracts``), each of its lines
(``book_contract_lines``), the seats an account holds of a product (``book_seats``),
an invoice's open balance (``book_invoices``). "In force" follows ADR 0004
(``projections.in_force``). Amounts are integers of minor units.

When an event arrives, only the days on or after the first day it is in force can
change: the aggregate's facts on those days are recomputed from its state in force on
each day where anything can change (its events' dates), and compared with the rows
believed so far that reach the first of those days. Rows that no longer hold are closed
at the event's recorded time (or deleted, if opened at that same instant: no instant
ever saw them); new ones are opened. Rows that still hold are left alone.

The states in force are what ``fold_in_force`` folds from the aggregate's history, but
kept per aggregate (``Timeline``) and brought up to date event by event, so that the
usual event (in force today, recorded today) costs the same on a contract's ten
thousandth change as on its first. Memory: up to 16 states per aggregate for the
``TIMELINES`` aggregates kept. A backdated change whose day cannot start from an earlier
kept day is still folded from the first event.
"""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import EventStore

from domain.base import LedgerAggregate
from domain.invoice import Invoice, InvoiceStatus
from domain.license import License
from domain.money import Money
from domain.subscription import Subscription
from projections.audit_trail import recorded
from projections.documents import MoneyDocument, id_text, minor_units, money_of_units
from projections.in_force import (
    InForceDays,
    apply_in_force,
    created,
    days_of,
    in_force,
    in_force_on,
)
from projections.projection import LoggedEvent, missing_kept
from projections.store import Sql

# Many aggregates' events up to a version each, at once: {id: version} -> {id: events}.
Histories = Callable[[dict[UUID, int]], dict[UUID, list[Any]]]


@dataclass(frozen=True)
class Temporal:
    """A temporal table: per aggregate and row key, values valid over both ranges."""

    name: str
    columns: tuple[tuple[str, str], ...]  # the value columns: (name, SQL type)

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


CONTRACTS = Temporal("book_contracts", (("account_id", "TEXT"), ("currency", "TEXT")))
LINES = Temporal(
    "book_contract_lines",
    (
        ("account_id", "TEXT"),
        ("currency", "TEXT"),
        ("product_code", "TEXT"),
        ("quantity", "INTEGER"),
        ("amount_minor", "BIGINT"),  # one billing period of the line
        ("annual_minor", "BIGINT"),  # a year of the line: amount x billing periods per year
    ),
)
SEATS = Temporal(
    "book_seats", (("account_id", "TEXT"), ("product_code", "TEXT"), ("held", "INTEGER"))
)
INVOICES = Temporal(
    "book_invoices",
    (
        ("account_id", "TEXT"),
        ("currency", "TEXT"),
        ("balance_minor", "BIGINT"),
        ("due_on", "TEXT"),
    ),
)
TABLES = (CONTRACTS, LINES, SEATS, INVOICES)
# The columns ``book_report`` groups and sums, per table.
REPORTED = {
    CONTRACTS.name: ("currency",),
    LINES.name: ("currency", "annual_minor"),
    SEATS.name: ("product_code", "held"),
    INVOICES.name: ("currency", "balance_minor"),
}

# The book's totals (ADR 0025, "The book's totals"): per table, the column the report
# groups by and the one it sums (None: it only counts rows).
TOTALS = "book_totals"
TOTALLED: dict[str, tuple[str, str | None]] = {
    CONTRACTS.name: ("currency", None),
    LINES.name: ("currency", "annual_minor"),
    SEATS.name: ("product_code", "held"),
    INVOICES.name: ("currency", "balance_minor"),
}

# The same as places in a row's values: table -> (group, summed or None).
_TOTALLED_AT = {
    t.name: (
        t.value_names.index(TOTALLED[t.name][0]),
        None if (summed := TOTALLED[t.name][1]) is None else t.value_names.index(summed),
    )
    for t in TABLES
}

# Facts on one day: (table, row key) -> values.
Facts = dict[tuple[Temporal, str], tuple[Any, ...]]


class Row(NamedTuple):
    """A fact over a range of days (``end`` None: open-ended).

    A named tuple: made, hashed and compared in C, a few times per event (a frozen
    dataclass does each in Python)."""

    table: str
    key: str
    start: str
    end: str | None
    values: tuple[Any, ...]


# Events that change no fact of the book (seat assignments, the renewal plan).
NO_BOOK_FACTS: tuple[type[LedgerAggregate.Event], ...] = (
    License.SeatAssigned,
    License.SeatUnassigned,
    Subscription.RenewalScheduled,
    Subscription.RenewalChanged,
    Subscription.RenewalCancelled,
)
BOOKED = (Subscription.Event, License.Event, Invoice.Event)

# Each class of event's part in the book, found once per class (two isinstance tests of
# tuples per event, otherwise): not booked, booked with no facts, or booked.
_NOT_BOOKED, _NO_FACTS, _FACTS = 0, 1, 2
_ROLES: dict[type, int] = {}


def _role(kind: type) -> int:
    role = _ROLES.get(kind)
    if role is None:
        if not issubclass(kind, BOOKED):
            role = _NOT_BOOKED
        elif issubclass(kind, NO_BOOK_FACTS):
            role = _NO_FACTS
        else:
            role = _FACTS
        _ROLES[kind] = role
    return role


# The tables an aggregate has rows in (``_contributed``), by the class of its events.
_TABLES_OF: dict[type, tuple[Temporal, ...]] = {}


def _tables_of(event_class: type) -> tuple[Temporal, ...]:
    tables = _TABLES_OF.get(event_class)
    if tables is None:
        if issubclass(event_class, Subscription.Event):
            tables = (CONTRACTS, LINES)
        elif issubclass(event_class, License.Event):
            tables = (SEATS,)
        elif issubclass(event_class, Invoice.Event):
            tables = (INVOICES,)
        else:
            tables = TABLES  # booked, of no kind known here: every table, as before
        _TABLES_OF[event_class] = tables
    return tables


def facts(aggregate: Any, on: date) -> Facts:
    """What ``aggregate``, in its state in force on ``on``, contributes to the book that day."""
    return _contributed(aggregate) if in_force(aggregate, on) else {}


def _contributed(aggregate: Any) -> Facts:
    """What ``aggregate`` contributes to the book on a day it is in force (``facts``: the
    day counts only through ``in_force``)."""
    found: Facts = {}
    account_id = id_text(aggregate.account_id)
    if isinstance(aggregate, Subscription):
        found[(CONTRACTS, "")] = (account_id, aggregate.currency)
        per_year = 12 // aggregate.billing_period.months
        for line in aggregate.lines.values():
            amount = minor_units(line.amount)
            found[(LINES, line.line_id)] = (
                account_id,
                aggregate.currency,
                line.product_code,
                line.quantity,
                amount,
                amount * per_year,
            )
    elif isinstance(aggregate, License):
        found[(SEATS, "")] = (account_id, aggregate.product_code, aggregate.held)
    elif isinstance(aggregate, Invoice) and (balance := _open_balance(aggregate)) > 0:
        found[(INVOICES, "")] = (
            account_id,
            aggregate.currency,
            balance,
            aggregate.due_on.isoformat(),
        )
    return found


def _open_balance(invoice: Invoice) -> int:
    """``minor_units(invoice.balance)``: the same Decimal operations, in the same order,
    without a Money made for each (``balance`` was a tenth of the book's time)."""
    if invoice.status is InvoiceStatus.VOID:
        return 0
    currency = invoice.currency
    subtotal = tax = Money.zero(currency).amount
    for line in invoice.lines:
        subtotal += line.amount.amount
    for line in invoice.lines:
        tax += line.tax.amount
    balance = subtotal + tax - invoice.credited.amount - invoice.paid.amount
    return minor_units(Money(balance, currency)) if balance > 0 else 0


def _rows(days: Sequence[date], each_day: Sequence[Facts]) -> list[Row]:
    """Step functions over ``days`` (each day's facts hold until the next day) as rows."""
    rows: list[Row] = []
    open_: dict[tuple[Temporal, str], tuple[str, tuple[Any, ...]]] = {}
    # The slots open after a day are that day's facts: a day with the same facts (the
    # same dict, for the days of one state in force) changes nothing.
    last: Facts = {}
    for day, found in zip(days, each_day, strict=True):
        if found is last or (not found and not last):
            continue
        last = found
        iso = day.isoformat()
        for slot in list(open_):
            start, values = open_[slot]
            if found.get(slot) != values:
                rows.append(Row(slot[0].name, slot[1], start, iso, values))
                del open_[slot]
        for slot, values in found.items():
            if slot not in open_:
                open_[slot] = (iso, values)
    rows += [Row(t.name, key, start, None, values) for (t, key), (start, values) in open_.items()]
    return rows


def _merged(rows: list[Row]) -> set[Row]:
    """Join rows of one slot that meet with equal values: one fact, one row."""
    merged: list[Row] = []
    for row in sorted(rows, key=lambda r: (r.table, r.key, r.start)):
        last = merged[-1] if merged else None
        if last is not None and (last.table, last.key, last.end, last.values) == (
            row.table,
            row.key,
            row.start,
            row.values,
        ):
            merged[-1] = Row(row.table, row.key, last.start, row.end, row.values)
        else:
            merged.append(row)
    return set(merged)


def _before(rows: set[Row], day: str) -> list[Row]:
    """The parts of ``rows`` on days before ``day``."""
    kept = []
    for row in rows:
        if row.start < day:
            end = day if row.end is None or row.end > day else row.end
            kept.append(Row(row.table, row.key, row.start, end, row.values))
    return kept


def _each_day(timeline: Timeline, days: Sequence[date]) -> list[Facts]:
    """``[facts(timeline.in_force(day), day) for day in days]`` (``days`` ascending), each
    state asked for and read once for a run of days no event comes into force between:
    the same state, in force or not on each day by ``in_force`` alone. (A creation's days,
    for one, are all one state's: the rebuild benchmark's 100,000 events asked for
    118,404 states, one per day, and now ask for 59,345.)"""
    each_day: list[Facts] = []
    previous = date.max
    state: Any = None
    found: Facts | None = None
    for day in days:
        if state is None or timeline.changes_between(previous, day):
            state = timeline.in_force(day)
            found = None
        previous = day
        if in_force(state, day):
            if found is None:
                found = _contributed(state)
            each_day.append(found)  # shared by the run's days: only read
        else:
            each_day.append({})
    return each_day


@dataclass(slots=True)  # no __dict__: one object fewer per state kept
class _InForce:
    """An aggregate's state in force on a day, having seen the history's first ``seen`` events;
    ``moved``: days it was carried forward since a copy of it was last left behind."""

    aggregate: Any
    seen: int
    moved: int = 0


# The aggregates whose timelines ``Timelines`` keeps. A log interleaves many: at 2,000,
# one in six of the book's events in a 100,000-event rebuild found its aggregate gone,
# to be loaded, decoded and folded again. About 5 to 8 kB each (measured on the rebuild
# benchmark's log: 2 to 3 events and 1.5 states per aggregate), some 300 MiB when full.
# The gap between an aggregate's events grows with the log: at 20,000, the benchmark's
# million-event rebuild reloads the aggregate of about one in six of the book's events
# (ADR 0025, "The book's timelines at a million events").
TIMELINES = 50_000

# A state carried forward to a later day than any kept leaves a copy of itself behind
# once in this many days, and is moved, not copied, the other times (see ``_derived``).
CHECKPOINT = 8


class Timeline:
    """One aggregate's history, kept so that a new event costs the days it can change.

    Besides the events: the first day each is in force (``in_force_days``, one step per
    event), the sorted distinct days ``Book.apply`` looks at (so "the days after" is a
    bisect), and a few states in force on a day (least recently used out).

    A kept state is brought up to date when asked for: the events appended since, applied
    in version order when in force on its day, are exactly what ``fold_in_force`` folds
    after the ones it has seen, since every new event comes last. A day not kept starts
    from the nearest earlier kept day when ``fold_in_force`` would fold the same events in
    the same order (the usual case: a new day, its events the latest); else it is folded
    from scratch. It starts from a copy of that day's state, or, for a day later than any
    kept, from the state itself, carried forward (a copy left behind every ``CHECKPOINT``
    days).
    """

    # A rebuild keeps 20,000 timelines: no __dict__ for each (memory, and one object
    # fewer for the garbage collector to walk).
    __slots__ = (
        "_by_day",
        "_capacity",
        "_days",
        "_in_force",
        "_rule",
        "_states",
        "history",
        "since",
    )

    def __init__(self, states: int = 16) -> None:
        self.history: list[LedgerAggregate.Event] = []
        self._in_force: list[date | None] = []  # each event's day, as in_force_days says
        self._rule = InForceDays()
        self._by_day: list[tuple[date, int]] = []  # (day in force, index), sorted; no creation
        self._days: list[date] = []  # sorted, distinct
        # Least recently used first: each use pops a state and puts it back (a dict: an
        # OrderedDict is twice its size, kept per timeline).
        self._states: dict[date, _InForce] = {}
        self._capacity = states
        # The first day the latest event is in force on its own (date.min: a creation).
        self.since = date.min

    def append(self, event: LedgerAggregate.Event) -> date | None:
        """Add the next event; returns ``in_force_on(event)``, its own first day in force."""
        days = days_of(event)
        in_force_day = self._rule.moved(event, days[0])
        if in_force_day is not None:
            insort(self._by_day, (in_force_day, len(self.history)))
        self.history.append(event)
        self._in_force.append(in_force_day)
        known = self._days
        for day in days:
            if day is not None:
                at = bisect_left(known, day)
                if at == len(known) or known[at] != day:
                    known.insert(at, day)
        return days[0]

    def days_after(self, since: date) -> list[date]:
        """The days of the history's events (in force, effective, recorded) after ``since``."""
        return self._days[bisect_right(self._days, since) :]

    def in_force(self, on: date) -> Any:
        """The aggregate in force on ``on``, as ``fold_in_force(history, on)`` folds it.

        Kept for the next event: read it, never change it."""
        # Out of the cache while it changes: an event that fails to apply drops it.
        state = self._states.pop(on, None)
        if state is None:
            # Else folded from the first event, as ``fold_in_force`` does: the creation,
            # then (``_catch_up``) each later event in force on ``on``, by the same days.
            derived = self._derived(on) if self._states else None
            state = derived or _InForce(created(self.history[0]), 1)
        if state.seen < len(self.history):
            self._catch_up(state, on)
        self._keep(on, state)
        return state.aggregate

    def changes_between(self, earlier: date, later: date) -> bool:
        """Whether any event is first in force after ``earlier``, on or before ``later``:
        else the state in force on ``later`` is the one in force on ``earlier``."""
        after = len(self.history)  # sorts after every (day, index) of a day
        by_day = self._by_day
        return bisect_right(by_day, (earlier, after)) != bisect_right(by_day, (later, after))

    def _catch_up(self, state: _InForce, on: date) -> None:
        for seen in range(state.seen, len(self.history)):
            day = self._in_force[seen]
            if day is None or day <= on:
                apply_in_force(state.aggregate, self.history[seen])
        state.seen = len(self.history)

    def _keep(self, on: date, state: _InForce) -> None:
        if self._capacity > 0:
            self._states[on] = state
            if len(self._states) > self._capacity:
                del self._states[next(iter(self._states))]

    def _derived(self, on: date) -> _InForce | None:
        """The state in force on ``on`` from the nearest earlier kept day's, or None.

        The fold on ``on`` is the fold on the earlier day plus the events in force in
        between, if each of those follows (in version order) every event the earlier
        day folds: no event after the first of them is in force on the earlier day.
        """
        earlier: date | None = None
        latest = True  # no day kept after ``on`` (``on`` itself is not kept: asked for)
        for day in self._states:
            if day > on:
                latest = False
            elif earlier is None or day > earlier:
                earlier = day
        if earlier is None:
            return None
        base = self._states.pop(earlier)
        try:
            self._catch_up(base, earlier)
        except Exception:
            return None  # dropped: folded from scratch, and failing there, if ever asked for
        self._keep(earlier, base)
        between = self._in_force_between(earlier, on)
        if between and any(
            day is None or day <= earlier for day in self._in_force[between[0] + 1 :]
        ):
            return None
        if base.moved < CHECKPOINT - 1 and latest:
            # The usual event: a new day, later than any kept. Copying the whole state
            # for each new day was a fifth of the book's time; the state moves forward
            # instead, leaving a copy behind only every CHECKPOINT days, where a
            # backdated change can start from (one before any kept day folds from the
            # first event, as it always did).
            del self._states[earlier]
            base.moved += 1
            for index in between:
                apply_in_force(base.aggregate, self.history[index])
            return base
        state = _InForce(copy.deepcopy(base.aggregate), base.seen)
        for index in between:
            apply_in_force(state.aggregate, self.history[index])
        return state

    def _in_force_between(self, earlier: date, on: date) -> list[int]:
        """The indexes, in version order, of the events first in force after ``earlier``,
        on or before ``on``."""
        after = len(self.history)  # sorts after every (day, index) of a day
        low = bisect_right(self._by_day, (earlier, after))
        high = bisect_right(self._by_day, (on, after))
        return sorted(index for _, index in self._by_day[low:high])


def _last_version(timeline: Timeline) -> int:
    return timeline.history[-1].originator_version


class Timelines:
    """Each aggregate's timeline so far, from a bounded cache or the event store."""

    def __init__(
        self,
        events: EventStore[UUID],
        capacity: int = TIMELINES,
        states: int = 16,
        histories: Histories | None = None,
    ) -> None:
        self._events = events
        self._histories = histories
        self._capacity = capacity
        self._states = states
        # Keyed by the id's number: a UUID's hash and equality are Python code, a few
        # times per event.
        self._cache: OrderedDict[int, Timeline] = OrderedDict()
        self._batch = 0  # the aggregates of the batch being applied: all of them kept

    def prefetch(self, events: Sequence[LedgerAggregate.Event]) -> None:
        """Load the histories of a batch's aggregates not kept, in a few queries.

        Every aggregate of the batch is then kept until the batch is applied, even beyond
        the capacity (a rebuild's batches are large): those kept move ahead of the others,
        so that what makes room is never one the batch has yet to use."""
        if self._histories is None:
            return
        cache = self._cache
        wanted, self._batch = missing_kept(events, cache, _last_version)
        for aggregate_id, history in self._histories(wanted).items() if wanted else ():
            if not history or history[-1].originator_version != wanted[aggregate_id]:
                continue  # not what the store should hold: left to ``after`` to load
            timeline = Timeline(self._states)
            for stored in history:
                if isinstance(stored, LedgerAggregate.Event):
                    timeline.append(stored)
            cache[aggregate_id.int] = timeline
            cache.move_to_end(aggregate_id.int)
        self._trim()

    def _trim(self) -> None:
        while len(self._cache) > max(self._capacity, self._batch):
            self._cache.popitem(last=False)

    def after(self, event: LedgerAggregate.Event) -> Timeline:
        aggregate_id = event.originator_id
        timeline = self._cache.pop(aggregate_id.int, None)
        if event.originator_version == 1:
            timeline = Timeline(self._states)  # a creation has no past: no need to ask the store
        elif (
            timeline is None
            or timeline.history[-1].originator_version != event.originator_version - 1
        ):
            timeline = Timeline(self._states)
            for stored in self._events.get(aggregate_id, lte=event.originator_version - 1):
                if isinstance(stored, LedgerAggregate.Event):
                    timeline.append(stored)
        timeline.since = timeline.append(event) or date.min
        self._cache[aggregate_id.int] = timeline
        if len(self._cache) > self._capacity:
            self._trim()
        return timeline

    def forget(self) -> None:
        self._cache.clear()


def _report_indexes() -> tuple[str, ...]:
    statements = []
    for table in TABLES:
        # The report's index holds every column the report reads (a covering index): as
        # of a recent instant nearly every row is in range, and reading each one's table
        # row as well cost twice a plain scan of the table on SQLite.
        reported = ", ".join(REPORTED[table.name])
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {table.name}_as_of ON {table.name}"
            f" (valid_from, valid_to, effective_from, effective_to, {reported})"
        )
        # The report's rows closed on the day of its instant (see ``book_report``); the
        # rows still believed (most, as they are written) need no entry.
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {table.name}_closed_at ON {table.name} (valid_to)"
            " WHERE valid_to IS NOT NULL"
        )
    return tuple(statements)


class Book:
    name = "book"
    version = 1
    tables: tuple[str, ...] = (*(t.name for t in TABLES), TOTALS)
    reader_indexes = _report_indexes()  # projections.projection.reader_indexes

    def __init__(
        self,
        events: EventStore[UUID],
        capacity: int = TIMELINES,
        states: int = 16,
        histories: Histories | None = None,
    ) -> None:
        # capacity: aggregates kept in memory; states: days in force kept per aggregate;
        # histories: loads many aggregates' events at once (else one at a time).
        self.timelines = Timelines(events, capacity, states, histories)
        # The last event's recorded time, and its text (``recorded``).
        self._recorded: tuple[datetime, str] = (datetime.min, recorded(datetime.min))

    def create(self, sql: Sql) -> None:
        for table in TABLES:
            values = ", ".join(f"{name} {kind} NOT NULL" for name, kind in table.columns)
            sql.execute(
                f"""CREATE TABLE IF NOT EXISTS {table.name} (
                    aggregate_id TEXT NOT NULL,
                    row_key TEXT NOT NULL,
                    {values},
                    effective_from TEXT NOT NULL,
                    effective_to TEXT,
                    valid_from_position BIGINT NOT NULL,
                    valid_from TEXT NOT NULL,
                    valid_to_position BIGINT,
                    valid_to TEXT,
                    PRIMARY KEY (aggregate_id, row_key, effective_from, valid_from_position)
                )"""
            )
            sql.execute(f"DROP INDEX IF EXISTS {table.name}_valid")
            sql.execute(f"DROP INDEX IF EXISTS {table.name}_closed")
            # The fold reads an aggregate's rows still believed by this one; the report's
            # indexes (``reader_indexes``) come once the book is at the log's end.
            sql.execute(
                f"CREATE INDEX IF NOT EXISTS {table.name}_open"
                f" ON {table.name} (aggregate_id, valid_to_position)"
            )
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {TOTALS} (
                table_name TEXT NOT NULL,
                grp TEXT NOT NULL,
                recorded_day TEXT NOT NULL,
                effective TEXT NOT NULL,
                n BIGINT NOT NULL,
                amount BIGINT NOT NULL,
                PRIMARY KEY (table_name, recorded_day, effective, grp)
            )"""
        )
        # A book kept before the totals were: sum its rows once (a fresh book has none).
        if sql.scalar(f"SELECT 1 FROM {TOTALS} LIMIT 1") is None:
            fill_totals(sql)

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        """Fold the batch against the rows believed (read for all its aggregates at once,
        then kept in memory), and write what changed at the end: per table, one
        ``executemany`` of deletes, one of closings and one multi-row insert."""
        changes = _Changes()
        # Known by their topics: the events of no booked kind (accounts', numbers') are
        # never decoded.
        batch = [logged for logged in batch if _role(logged.kind) != _NOT_BOOKED]
        self.timelines.prefetch([logged.event for logged in batch])
        self._read_believed(sql, batch, changes)
        for logged in batch:
            self._fold(logged, changes)
        changes.write(sql)

    def _fold(self, logged: LoggedEvent, changes: _Changes) -> None:
        event = logged.event
        role = _role(type(event))
        timeline = self.timelines.after(event)
        if role == _NO_FACTS:
            return
        since = timeline.since  # in_force_on(event) or date.min
        # in_force_days only ever moves an event to another event's day: no more days.
        days = [since, *timeline.days_after(since)]
        rows = _rows(days, _each_day(timeline, days))
        # A creation finds no rows of its aggregate.
        held = changes.believed.setdefault(event.originator_id.int, {})
        if not held and not rows:
            return  # nothing believed, nothing to open (seats opened, none held yet)
        if event.timestamp != self._recorded[0]:  # the events of a command share it
            self._recorded = (event.timestamp, recorded(event.timestamp))
        at = self._recorded[1]
        text = changes.text(event.originator_id)
        if not held:
            for row in rows:  # ``_rows`` makes each row once
                held[row] = changes.open(text, row, logged.position, at)
            return
        reach = since.isoformat()
        believed = {row for row in held if row.end is None or row.end >= reach}
        before = _before(believed, reach)
        # ``_rows`` makes no two rows of a slot that meet with equal values: only a part
        # kept from before can join one.
        wanted = _merged(before + rows) if before else set(rows)
        for row in believed - wanted:
            changes.close(text, row, held.pop(row), logged.position, at)
        for row in wanted - believed:
            held[row] = changes.open(text, row, logged.position, at)

    def _read_believed(self, sql: Sql, batch: Sequence[LoggedEvent], changes: _Changes) -> None:
        """The rows still believed of the batch's aggregates that its events can change:
        those that reach the first day any of them is in force (end on or after it).

        An event in force from a day leaves the rows before it as they are: ``_before``
        keeps them whole, and they join no row (the rows believed are already merged), so
        there is no need to read them: one a day a slot changed, ever more as an
        aggregate ages. An aggregate created in the batch has none."""
        # By the ids' numbers (a UUID's hash and equality are Python code).
        first_seen: set[int] = set()
        reach: dict[int, date] = {}
        kinds: dict[int, LedgerAggregate.Event] = {}  # each aggregate's first event
        for logged in batch:  # booked events only
            event = logged.event
            aggregate_id = event.originator_id.int
            if aggregate_id not in first_seen:
                first_seen.add(aggregate_id)
                if event.originator_version == 1:
                    continue  # born in this batch: nothing stored yet
                reach[aggregate_id] = date.max
                kinds[aggregate_id] = event
            if aggregate_id in reach and _role(type(event)) == _FACTS:
                reach[aggregate_id] = min(reach[aggregate_id], in_force_on(event) or date.min)
        ids: dict[str, int] = {}
        # Only the tables an aggregate's kind has rows in (a contract's two, a seat pool's
        # and an invoice's one each): a command's batch asked all four tables, each a query.
        wanted: dict[Temporal, list[tuple[str, str]]] = {}
        for aggregate_id, day in reach.items():
            if day < date.max:
                first = kinds[aggregate_id]
                text = changes.text(first.originator_id)
                ids[text] = aggregate_id
                for table in _tables_of(type(first)):
                    wanted.setdefault(table, []).append((text, day.isoformat()))
        for table in TABLES:
            pairs = wanted.get(table, [])
            for chunk in range(0, len(pairs), 400):
                changes.believe(table, _believed_rows(sql, table, pairs[chunk : chunk + 400]), ids)
        for aggregate_id in reach:
            changes.believed.setdefault(aggregate_id, {})

    def forget(self) -> None:
        self.timelines.forget()


def _believed_rows(sql: Sql, table: Temporal, reach: list[tuple[str, str]]) -> list[Any]:
    """The rows of ``table`` still believed that reach each (aggregate, day) of ``reach``:
    one query for them all."""
    marks = ", ".join("(?, ?)" for _ in reach)
    values = ", ".join(f"t.{name}" for name in table.value_names)
    return sql.execute(
        f"WITH reach(aggregate_id, day) AS (VALUES {marks})"
        f" SELECT t.aggregate_id, t.row_key, t.effective_from, t.effective_to, t.valid_from,"
        f" t.valid_from_position, {values}"
        f" FROM {table.name} AS t JOIN reach ON t.aggregate_id = reach.aggregate_id"
        " WHERE t.valid_to_position IS NULL"
        " AND (t.effective_to IS NULL OR t.effective_to >= reach.day)",
        [value for pair in reach for value in pair],
    ).fetchall()


class _Held(NamedTuple):
    """A row believed now: when it was opened, by which event, and whether it is stored
    already (else it is one of the batch's inserts)."""

    opened: str
    position: int
    stored: bool


# A stored row: (aggregate id, row key, effective_from, valid_from_position).
_Key = tuple[str, str, str, int]


class _Changes:
    """What a batch does to the book's tables, kept in memory until its end.

    ``believed``: per aggregate the batch touches, its rows believed now (as read, then
    as the batch's events left them)."""

    def __init__(self) -> None:
        # By the aggregate id's number.
        self.believed: dict[int, dict[Row, _Held]] = {}
        self._texts: dict[int, str] = {}  # the batch's aggregate ids as text, made once
        self._deleted: dict[str, list[_Key]] = {t.name: [] for t in TABLES}
        self._closed: dict[str, list[tuple[int, str, *tuple[Any, ...]]]] = {
            t.name: [] for t in TABLES
        }
        # Rows opened by the batch, in order: (aggregate id as text, row, position, opened)
        # -> the position and time that closed it again (None: still believed).
        self._inserts: dict[tuple[str, Row, int, str], tuple[int, str] | None] = {}
        self.totals = _Totals()

    def text(self, aggregate_id: UUID) -> str:
        """``str(aggregate_id)``, made once per batch."""
        text = self._texts.get(aggregate_id.int)
        if text is None:
            text = self._texts[aggregate_id.int] = str(aggregate_id)
        return text

    def believe(self, table: Temporal, rows: list[Any], ids: dict[str, int]) -> None:
        """Rows read (``_believed_rows``); ``ids``: the aggregates' ids' numbers by their
        text."""
        for aggregate_id, key, start, end, opened, position, *values in rows:
            row = Row(table.name, key, start, end, tuple(values))
            held = _Held(opened, int(position), stored=True)
            self.believed.setdefault(ids[aggregate_id], {})[row] = held

    def open(self, aggregate_id: str, row: Row, position: int, at: str) -> _Held:
        self._inserts[(aggregate_id, row, position, at)] = None
        return _Held(at, position, stored=False)

    def close(self, aggregate_id: str, row: Row, held: _Held, position: int, at: str) -> None:
        """No longer believed from ``at``; deleted if opened at that same instant: no one
        ever saw it."""
        if not held.stored:
            opened = (aggregate_id, row, held.position, held.opened)
            if held.opened == at:
                del self._inserts[opened]
            else:
                self._inserts[opened] = (position, at)
            return
        key = (aggregate_id, row.key, row.start, held.position)
        self.totals.add(row, at, -1)  # deleted (opened at ``at``) or closed at ``at``
        if held.opened == at:
            self._deleted[row.table].append(key)
        else:
            self._closed[row.table].append((position, at, *key))

    def write(self, sql: Sql) -> None:
        where = (
            "WHERE aggregate_id = ? AND row_key = ? AND effective_from = ?"
            " AND valid_from_position = ?"
        )
        # The inserts by table, each row's totals added: one pass over them.
        inserts: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in TABLES}
        add = self.totals.add
        for (aggregate_id, row, position, at), closed in self._inserts.items():
            inserts[row.table].append(
                (aggregate_id, row.key, *row.values, row.start, row.end, position, at)
                + (closed or (None, None))
            )
            add(row, at, 1)
            if closed is not None:
                add(row, closed[1], -1)
        for table in TABLES:
            sql.executemany(f"DELETE FROM {table.name} {where}", self._deleted[table.name])
            sql.executemany(
                f"UPDATE {table.name} SET valid_to_position = ?, valid_to = ? {where}",
                self._closed[table.name],
            )
            columns = ("aggregate_id", "row_key", *table.value_names, "effective_from")
            columns += ("effective_to", "valid_from_position", "valid_from")
            columns += ("valid_to_position", "valid_to")
            sql.insert_many(table.name, columns, inserts[table.name])
        self.totals.write(sql)


class _Totals:
    """What a batch adds to ``book_totals``.

    A row counts in the report as of instant ``t`` on day ``d`` when ``valid_from <= t <
    valid_to`` and ``effective_from <= d < effective_to``. As a sum of steps, that is
    ``[valid_from <= t] - [valid_to <= t]`` times ``[effective_from <= d] -
    [effective_to <= d]``: four corners (recorded, effective), each signed (an open end
    adds none). The totals keep the corners' sums (count and amount) per table, group,
    recorded *day* and effective day; ``book_report`` adds up those of the days before
    its instant's and takes the rows of its instant's own day from the book's tables."""

    def __init__(self) -> None:
        self.deltas: dict[tuple[str, str, str, str], list[int]] = {}

    def add(self, row: Row, recorded: str, sign: int) -> None:
        """``row`` believed from ``recorded`` (sign 1), or no longer (sign -1)."""
        group, summed = _TOTALLED_AT[row.table]
        grp = str(row.values[group])
        amount = 0 if summed is None else int(row.values[summed])
        day = recorded[:10]
        self._add((row.table, grp, day, row.start), sign, amount)
        if row.end is not None:
            self._add((row.table, grp, day, row.end), -sign, amount)

    def _add(self, key: tuple[str, str, str, str], sign: int, amount: int) -> None:
        delta = self.deltas.setdefault(key, [0, 0])
        delta[0] += sign
        delta[1] += sign * amount

    def write(self, sql: Sql) -> None:
        changed = [(*key, n, amount) for key, (n, amount) in self.deltas.items() if n or amount]
        sums = sql.returning_many(
            f"INSERT INTO {TOTALS} (table_name, grp, recorded_day, effective, n, amount)",
            "ON CONFLICT (table_name, recorded_day, effective, grp)"
            f" DO UPDATE SET n = {TOTALS}.n + excluded.n,"
            f" amount = {TOTALS}.amount + excluded.amount"
            " RETURNING table_name, grp, recorded_day, effective, n, amount",
            6,
            changed,
        )
        # No sums of zero kept: the totals are the same however the log was batched. Only
        # those the upsert left at zero are deleted (most batches: none, no statement).
        sql.executemany(
            f"DELETE FROM {TOTALS} WHERE table_name = ? AND grp = ? AND recorded_day = ?"
            " AND effective = ? AND n = 0 AND amount = 0",
            [row[:4] for row in sums if not int(row[4]) and not int(row[5])],
        )


def fill_totals(sql: Sql) -> None:
    """``book_totals`` from the book's rows, set-based: what the batches add, all at once
    (a book kept before the totals were; the benchmarks' copied books)."""
    for table in TABLES:
        group, summed = TOTALLED[table.name]
        amount = "0" if summed is None else summed
        sql.execute(
            f"INSERT INTO {TOTALS} (table_name, grp, recorded_day, effective, n, amount)"
            f" SELECT '{table.name}', grp, recorded_day, effective, SUM(n), SUM(amount)"
            f" FROM ("
            f" SELECT {group} AS grp, substr(valid_from, 1, 10) AS recorded_day,"
            f" effective_from AS effective, 1 AS n, {amount} AS amount FROM {table.name}"
            f" UNION ALL SELECT {group}, substr(valid_from, 1, 10), effective_to, -1,"
            f" -{amount} FROM {table.name} WHERE effective_to IS NOT NULL"
            f" UNION ALL SELECT {group}, substr(valid_to, 1, 10), effective_from, -1,"
            f" -{amount} FROM {table.name} WHERE valid_to IS NOT NULL"
            f" UNION ALL SELECT {group}, substr(valid_to, 1, 10), effective_to, 1,"
            f" {amount} FROM {table.name}"
            " WHERE valid_to IS NOT NULL AND effective_to IS NOT NULL"
            ") AS corners GROUP BY grp, recorded_day, effective"
            " HAVING SUM(n) <> 0 OR SUM(amount) <> 0"
        )


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BookReport:
    """The book as known at ``as_of`` (recorded time), in force on ``effective``.

    Amounts are integers of the currency's minor unit. Monthly recurring revenue per
    currency: the exact sum of a year of every line in force (a monthly line's period
    amount x 12, an annual line's amount), divided by 12 and rounded half-up to the
    minor unit once, at the end.
    """

    as_of: datetime
    effective: date
    active_contracts: dict[str, int]  # currency -> contracts in force
    seats_held: dict[str, int]  # product code -> seats held
    monthly_recurring_revenue: dict[str, int]  # currency -> minor units
    open_balance: dict[str, int]  # currency -> minor units
    open_invoices: dict[str, int]  # currency -> invoices with a balance


def _in_view(table: Temporal, columns: str, group: str) -> str:
    return (
        f"SELECT {group}, {columns} FROM {table.name}"
        " WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
        " AND effective_from <= ? AND (effective_to IS NULL OR effective_to > ?)"
        f" GROUP BY {group} ORDER BY {group}"
    )


def _totalled(table: Temporal) -> str:
    """The report's sums of ``table`` from the totals: the corners recorded before the
    instant's day, plus the rows opened, less those closed, on that day up to the instant."""
    group, summed = TOTALLED[table.name]
    amount = "0" if summed is None else summed
    in_force = "effective_from <= ? AND (effective_to IS NULL OR effective_to > ?)"
    return (
        f"SELECT grp, SUM(n), SUM(amount) FROM ("
        f" SELECT grp, n, amount FROM {TOTALS}"
        f" WHERE table_name = '{table.name}' AND recorded_day < ? AND effective <= ?"
        f" UNION ALL SELECT {group}, 1, {amount} FROM {table.name}"
        f" WHERE valid_from >= ? AND valid_from <= ? AND {in_force}"
        f" UNION ALL SELECT {group}, -1, -{amount} FROM {table.name}"
        f" WHERE valid_to >= ? AND valid_to <= ? AND {in_force}"
        ") AS parts GROUP BY grp HAVING SUM(n) <> 0 ORDER BY grp"
    )


def book_report(sql: Sql, as_of: datetime, effective: date | None = None) -> BookReport:
    """The book as known at ``as_of``, in force on ``effective`` (default: as_of's UTC day),
    from ``book_totals``: the same figures as ``book_report_scanned``, without reading
    every row of the book."""
    day = (effective or as_of.astimezone(UTC).date()).isoformat()
    at = recorded(as_of)
    params = (at[:10], day, at[:10], at, day, day, at[:10], at, day, day)

    def totalled(table: Temporal) -> list[tuple[str, int, int]]:
        rows = sql.execute(_totalled(table), params).fetchall()
        return [(str(g), int(n), int(amount)) for g, n, amount in rows]

    invoices = totalled(INVOICES)
    return BookReport(
        as_of=as_of,
        effective=date.fromisoformat(day),
        active_contracts={c: n for c, n, _ in totalled(CONTRACTS)},
        seats_held={p: held for p, _, held in totalled(SEATS) if held},
        # Half-up to the minor unit, as the scan rounds: (sum + 6) // 12 (sums are >= 0).
        monthly_recurring_revenue={c: (s + 6) // 12 for c, _, s in totalled(LINES)},
        open_balance={c: s for c, _, s in invoices},
        open_invoices={c: n for c, n, _ in invoices},
    )


def book_report_scanned(sql: Sql, as_of: datetime, effective: date | None = None) -> BookReport:
    """``book_report`` from the book's rows alone: every row in range read and summed (the
    report before the totals; tests and benchmarks hold the two equal)."""
    day = effective or as_of.astimezone(UTC).date()
    params = (recorded(as_of), recorded(as_of), day.isoformat(), day.isoformat())

    def grouped(table: Temporal, columns: str, group: str) -> list[Any]:
        return sql.execute(_in_view(table, columns, group), params).fetchall()

    contracts = grouped(CONTRACTS, "COUNT(*)", "currency")
    seats = grouped(SEATS, "SUM(held)", "product_code")
    # Integer arithmetic on both databases: (sum + 6) / 12 rounds half-up (sums are >= 0).
    revenue = grouped(LINES, "(CAST(SUM(annual_minor) AS BIGINT) + 6) / 12", "currency")
    invoices = grouped(INVOICES, "SUM(balance_minor), COUNT(*)", "currency")
    return BookReport(
        as_of=as_of,
        effective=day,
        active_contracts={str(c): int(n) for c, n in contracts},
        seats_held={str(p): int(n) for p, n in seats if n},
        monthly_recurring_revenue={str(c): int(n) for c, n in revenue},
        open_balance={str(c): int(n) for c, n, _ in invoices},
        open_invoices={str(c): int(k) for c, _, k in invoices},
    )


def book_document(report: BookReport) -> dict[str, Any]:
    """The report as JSON-ready values: amounts as decimal strings with their currency."""

    def amounts(by_currency: dict[str, int]) -> list[MoneyDocument]:
        return [money_of_units(units, currency) for currency, units in by_currency.items()]

    return {
        "as_of": report.as_of.isoformat(),
        "effective": report.effective.isoformat(),
        "active_contracts": sum(report.active_contracts.values()),
        "active_contracts_by_currency": report.active_contracts,
        "seats_held": report.seats_held,
        "monthly_recurring_revenue": amounts(report.monthly_recurring_revenue),
        "open_balance": amounts(report.open_balance),
        "open_invoices": sum(report.open_invoices.values()),
    }
