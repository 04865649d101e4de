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
change: the aggregate's facts on those days are recomputed by folding its history in
force on each day where anything can change (its events' dates), and compared with the
rows believed so far. Rows that no longer hold are closed at the event's recorded time
(or deleted, if opened at that same instant: no instant ever saw them); new ones are
opened. Rows that still hold are left alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import EventStore

from domain.base import LedgerAggregate
from domain.invoice import Invoice
from domain.license import License
from domain.subscription import Subscription
from projections.audit_trail import recorded
from projections.documents import MoneyDocument, minor_units, money_of_units
from projections.in_force import fold_in_force, in_force, in_force_on, recorded_day
from projections.projection import LoggedEvent
from projections.store import Sql


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

# Facts on one day: (table, row key) -> values.
Facts = dict[tuple[Temporal, str], tuple[Any, ...]]


@dataclass(frozen=True)
class Row:
    """A fact over a range of days (``end`` None: open-ended)."""

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


def facts(aggregate: Any, on: date) -> Facts:
    """What ``aggregate``, in its state in force on ``on``, contributes to the book that day."""
    found: Facts = {}
    if not in_force(aggregate, on):
        return found
    account_id = str(aggregate.account_id)
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
    elif isinstance(aggregate, Invoice) and aggregate.balance.is_positive:
        found[(INVOICES, "")] = (
            account_id,
            aggregate.currency,
            minor_units(aggregate.balance),
            aggregate.due_on.isoformat(),
        )
    return found


def _rows(days: Sequence[date], each_day: Sequence[Facts]) -> list[Row]:
    """Step functions over ``days`` (each day's facts hold until the next day) as rows."""
    rows: list[Row] = []
    open_: dict[tuple[Temporal, str], tuple[str, tuple[Any, ...]]] = {}
    for day, found in zip(days, each_day, strict=True):
        for slot in list(open_):
            start, values = open_[slot]
            if found.get(slot) != values:
                rows.append(Row(slot[0].name, slot[1], start, day.isoformat(), values))
                del open_[slot]
        for slot, values in found.items():
            if slot not in open_:
                open_[slot] = (day.isoformat(), values)
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


class Histories:
    """Each aggregate's events so far, from a bounded cache or the event store."""

    def __init__(self, events: EventStore[UUID], capacity: int = 2_000) -> None:
        self._events = events
        self._capacity = capacity
        self._cache: OrderedDict[UUID, list[LedgerAggregate.Event]] = OrderedDict()

    def after(self, event: LedgerAggregate.Event) -> list[LedgerAggregate.Event]:
        aggregate_id = event.originator_id
        history = self._cache.pop(aggregate_id, None)
        if event.originator_version == 1:
            history = []  # a creation has no past: no need to ask the store
        elif history is None or history[-1].originator_version != event.originator_version - 1:
            history = [
                stored
                for stored in self._events.get(aggregate_id, lte=event.originator_version - 1)
                if isinstance(stored, LedgerAggregate.Event)
            ]
        history.append(event)
        self._cache[aggregate_id] = history
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return history

    def forget(self) -> None:
        self._cache.clear()


class Book:
    name = "book"
    version = 1
    tables: tuple[str, ...] = tuple(t.name for t in TABLES)

    def __init__(self, events: EventStore[UUID]) -> None:
        self.histories = Histories(events)

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
            sql.execute(
                f"CREATE INDEX IF NOT EXISTS {table.name}_valid"
                f" ON {table.name} (valid_from, valid_to)"
            )
            sql.execute(
                f"CREATE INDEX IF NOT EXISTS {table.name}_open"
                f" ON {table.name} (aggregate_id, valid_to_position)"
            )

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        event = logged.event
        if not isinstance(event, BOOKED):
            return
        history = self.histories.after(event)
        if isinstance(event, NO_BOOK_FACTS):
            return
        since = in_force_on(event) or date.min
        days = sorted(
            {since}
            | {
                day
                for past in history
                for day in (in_force_on(past), past.effective(), recorded_day(past))
                if day is not None and day > since
            }
        )  # in_force_days only ever moves an event to another event's day: no more days
        each_day = [facts(fold_in_force(history, day).aggregate, day) for day in days]
        # A creation finds no rows of its aggregate: skip the four queries that would say so.
        believed = (
            {} if event.originator_version == 1 else self._open_rows(sql, event.originator_id)
        )
        wanted = _merged(_before(set(believed), since.isoformat()) + _rows(days, each_day))
        at = recorded(event.timestamp)
        for row in set(believed) - wanted:
            self._close(sql, event.originator_id, row, believed[row], logged.position, at)
        for row in wanted - set(believed):
            self._open(sql, event.originator_id, row, logged.position, at)

    def forget(self) -> None:
        self.histories.forget()

    def _open_rows(self, sql: Sql, aggregate_id: UUID) -> dict[Row, str]:
        """The aggregate's rows still believed, with the recorded time each was opened."""
        believed: dict[Row, str] = {}
        for table in TABLES:
            found = sql.execute(
                f"SELECT row_key, effective_from, effective_to, valid_from,"
                f" {', '.join(table.value_names)} FROM {table.name}"
                " WHERE aggregate_id = ? AND valid_to_position IS NULL",
                (str(aggregate_id),),
            ).fetchall()
            for key, start, end, opened, *values in found:
                believed[Row(table.name, key, start, end, tuple(values))] = opened
        return believed

    def _close(
        self, sql: Sql, aggregate_id: UUID, row: Row, opened: str, position: int, at: str
    ) -> None:
        where = (
            "WHERE aggregate_id = ? AND row_key = ? AND effective_from = ?"
            " AND valid_to_position IS NULL"
        )
        params = (str(aggregate_id), row.key, row.start)
        if opened == at:  # opened by an event of this same instant: no one ever saw it
            sql.execute(f"DELETE FROM {row.table} {where}", params)
        else:
            sql.execute(
                f"UPDATE {row.table} SET valid_to_position = ?, valid_to = ? {where}",
                (position, at, *params),
            )

    def _open(self, sql: Sql, aggregate_id: UUID, row: Row, position: int, at: str) -> None:
        table = next(t for t in TABLES if t.name == row.table)
        columns = ("aggregate_id", "row_key", *table.value_names)
        columns += ("effective_from", "effective_to", "valid_from_position", "valid_from")
        sql.execute(
            f"INSERT INTO {table.name} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            (str(aggregate_id), row.key, *row.values, row.start, row.end, position, at),
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


def book_report(sql: Sql, as_of: datetime, effective: date | None = None) -> BookReport:
    """The book as known at ``as_of``, in force on ``effective`` (default: as_of's UTC day)."""
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
