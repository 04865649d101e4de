"""The billing agenda: what the billing run needs to know of the book without reading it.

Two tables, kept by the projection runner like every read model:

- ``billing_agenda_contracts``: one row per active contract (dropped when it is
  cancelled or expires): its current term, its billing period, the term it was last
  reminded of, whether a renewal is scheduled, ``invoice_on``: the first billing period
  of the term whose invoice is not issued (NULL: all are), and ``invoiced_ahead``: the
  periods issued after ``invoice_on`` (out of order; NULL, almost always: none);
- ``billing_agenda_invoices``: one row per invoice neither paid, void nor marked overdue,
  with its due date.

From these the run finds each contract's next step by its dates alone (``Due.steps``),
so it neither scans the log by event type nor loads every active contract.

A period's invoice has an id fixed by the period (``period_invoice_id``, passed in: the
ledger's rule), so an ``InvoiceIssued`` whose id is that of a period its lines bill is
that period's invoice. The projection follows those in log order, as it follows the
contract's own events, and asks the event store nothing: ``invoice_on`` moves past a period when its
invoice is seen, and over the periods seen issued ahead of it. An issued invoice never
goes away (a void or a credit note leaves it issued, an erasure seals only the buyer's
details), so ``invoice_on`` only moves on within a term; a renewal starts it again at the
new term's first period. The ledger records a contract's start or renewal before the
invoice it issues with it, so at the log's head the row is exact; were an invoice ever
seen before its contract's row, it would be missed, and ``invoice_on`` would be earlier
than the truth, never later: the billing run checks the store before issuing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.base import LedgerAggregate
from domain.invoice import Invoice
from domain.period import BillingPeriod, DateRange, billing_periods
from domain.subscription import Subscription
from projections.projection import LoggedEvent
from projections.store import Sql

CONTRACTS = "billing_agenda_contracts"
INVOICES = "billing_agenda_invoices"
CHUNK = 500  # ids per IN list

# The id of the invoice of a contract's billing period starting on a day.
PeriodInvoiceId = Callable[[UUID, date], UUID]

_CONTRACT_COLUMNS = (
    "subscription_id",
    "term_start",
    "term_end",
    "billing_period",
    "reminded_for",
    "renews",
    "invoice_on",
    "invoiced_ahead",
)


@dataclass(frozen=True)
class Contract:
    """An active contract as the billing run sees it."""

    subscription_id: UUID
    term_start: date
    term_end: date
    billing_period: BillingPeriod
    reminded_for: date | None
    renews: bool
    invoice_on: date | None  # the first period of the term not invoiced; None: all are
    # Periods invoiced after invoice_on (the projection's bookkeeping, not the run's).
    ahead: tuple[date, ...] = field(default=(), compare=False)

    def row(self) -> tuple[object, ...]:
        return (
            str(self.subscription_id),
            self.term_start.isoformat(),
            self.term_end.isoformat(),
            self.billing_period.value,
            None if self.reminded_for is None else self.reminded_for.isoformat(),
            int(self.renews),
            None if self.invoice_on is None else self.invoice_on.isoformat(),
            " ".join(d.isoformat() for d in self.ahead) or None,
        )

    @classmethod
    def of_row(cls, row: Sequence[object]) -> Contract:
        sub_id, start, end, period, reminded, renews, invoice_on, ahead = row
        return cls(
            UUID(str(sub_id)),
            date.fromisoformat(str(start)),
            date.fromisoformat(str(end)),
            BillingPeriod(period),
            None if reminded is None else date.fromisoformat(str(reminded)),
            bool(renews),
            None if invoice_on is None else date.fromisoformat(str(invoice_on)),
            () if ahead is None else tuple(map(date.fromisoformat, str(ahead).split())),
        )

    @property
    def term(self) -> DateRange:
        return DateRange(self.term_start, self.term_end)


_INVOICE_EVENTS = (
    Invoice.InvoiceIssued,
    Invoice.InvoicePaid,
    Invoice.InvoiceVoided,
    Invoice.InvoiceOverdue,
)
# Read by topic, so that the other events of a batch are never decoded.
_TOPICS = {
    get_topic(cls)
    for cls in (
        *_INVOICE_EVENTS,
        Subscription.SubscriptionStarted,
        Subscription.SubscriptionRenewed,
        Subscription.RenewalScheduled,
        Subscription.RenewalChanged,
        Subscription.RenewalCancelled,
        Subscription.RenewalReminderSent,
        Subscription.SubscriptionCancelled,
        Subscription.SubscriptionExpired,
    )
}


class BillingAgenda:
    """A batch is folded in memory (the rows of the contracts it touches read in one query
    per 500) and written with one delete and one insert per table."""

    name = "billing_agenda"
    version = 2  # 2: invoiced_ahead; invoice_on followed in the log, not asked of the store
    tables: tuple[str, ...] = (CONTRACTS, INVOICES)

    def __init__(self, period_invoice_id: PeriodInvoiceId) -> None:
        self._period_invoice_id = period_invoice_id

    def create(self, sql: Sql) -> None:
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {CONTRACTS} (
                subscription_id TEXT PRIMARY KEY,
                term_start TEXT NOT NULL,
                term_end TEXT NOT NULL,
                billing_period TEXT NOT NULL,
                reminded_for TEXT,
                renews INTEGER NOT NULL,
                invoice_on TEXT,
                invoiced_ahead TEXT
            )"""
        )
        sql.execute(f"CREATE INDEX IF NOT EXISTS {CONTRACTS}_invoice ON {CONTRACTS} (invoice_on)")
        sql.execute(f"CREATE INDEX IF NOT EXISTS {CONTRACTS}_term_end ON {CONTRACTS} (term_end)")
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {INVOICES} (
                invoice_id TEXT PRIMARY KEY,
                due_on TEXT NOT NULL
            )"""
        )
        sql.execute(f"CREATE INDEX IF NOT EXISTS {INVOICES}_due ON {INVOICES} (due_on)")

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        events = [logged.event for logged in batch if logged.notification.topic in _TOPICS]
        if not events:
            return
        # The contracts the batch touches (a period invoice of theirs included), from
        # their rows as the last batch left them.
        touched: set[UUID] = set()
        periods: dict[UUID, date] = {}  # period invoice id: its period's start
        for e in events:
            if isinstance(e, Invoice.InvoiceIssued):
                start = self._period_of(e)
                if start is not None and e.subscription_id is not None:
                    periods[e.originator_id] = start
                    touched.add(e.subscription_id)
            elif not isinstance(e, _INVOICE_EVENTS):
                touched.add(e.originator_id)
        contracts = _contracts(sql, touched)
        stored = dict(contracts)  # as read: None for a contract without a row
        invoices: dict[UUID, date | None] = {}
        issued: set[UUID] = set()  # invoices the batch issues: none has a row yet
        for event in events:
            if isinstance(event, _INVOICE_EVENTS):
                # Issued: unsettled, until paid, voided or marked overdue (None: gone).
                due_on = event.due_on if isinstance(event, Invoice.InvoiceIssued) else None
                if event.originator_version == 1:
                    issued.add(event.originator_id)
                invoices[event.originator_id] = due_on
                if isinstance(event, Invoice.InvoiceIssued) and event.originator_id in periods:
                    sub_id = event.subscription_id
                    assert sub_id is not None
                    contract = contracts[sub_id]
                    if contract is not None:  # else inactive, or not seen started (above)
                        contracts[sub_id] = _invoiced(contract, periods[event.originator_id])
            else:
                sub_id = event.originator_id
                contracts[sub_id] = _fold_contract(contracts.get(sub_id), event)
        # Written: only what changed. Deleted: only rows there are (read above, or issued
        # before the batch): a command's batch issues an invoice, whose row is new.
        changed = {i: c for i, c in contracts.items() if _row(stored.get(i)) != _row(c)}
        sql.executemany(
            f"DELETE FROM {CONTRACTS} WHERE subscription_id = ?",
            [(str(i),) for i in changed if stored.get(i) is not None],
        )
        sql.insert_many(
            CONTRACTS, _CONTRACT_COLUMNS, [c.row() for c in changed.values() if c is not None]
        )
        sql.executemany(
            f"DELETE FROM {INVOICES} WHERE invoice_id = ?",
            [(str(i),) for i in invoices if i not in issued],
        )
        sql.insert_many(
            INVOICES,
            ("invoice_id", "due_on"),
            [(str(i), due.isoformat()) for i, due in invoices.items() if due is not None],
        )

    def _period_of(self, issued: Invoice.InvoiceIssued) -> date | None:
        """The start of the billing period ``issued`` is the period invoice of (its lines
        cover that whole period); None for an addition's own invoice or one of no contract."""
        if issued.subscription_id is None:
            return None
        for start in dict.fromkeys(line.period_start for line in issued.lines):
            if self._period_invoice_id(issued.subscription_id, start) == issued.originator_id:
                return start
        return None

    def forget(self) -> None:
        """Nothing is kept between batches: another runner may apply this projection too
        (a billing run catching it up), so every batch starts from the tables."""


def _invoiced(contract: Contract, start: date) -> Contract:
    """The row once the invoice of the period starting on ``start`` is seen issued."""
    if start < contract.term_start or start in contract.ahead:
        return contract  # an earlier term's (a renewal seen first), or seen already
    if start < (contract.term_end if contract.invoice_on is None else contract.invoice_on):
        return contract  # before invoice_on: known issued
    # invoice_on's own, one after it (out of order), or the next term's (seen before its
    # renewal, which the ledger never records so): settled against the term's periods.
    return _settle(replace(contract, ahead=tuple(sorted((*contract.ahead, start)))))


def _settle(contract: Contract) -> Contract:
    """``invoice_on`` moved over the periods known issued; the rest kept ahead of it."""
    first, ahead = contract.invoice_on, set(contract.ahead)
    if first is not None and first in ahead:
        starts = [p.start for p in billing_periods(contract.term, contract.billing_period)]
        later = (s for s in starts if s > first and s not in ahead)
        first = next(later, None)
    # After invoice_on (or, all invoiced, in a later term); before the term: gone by.
    after = contract.term_end if first is None else first
    kept = tuple(sorted(d for d in ahead if d > after or (first is None and d == after)))
    return replace(contract, invoice_on=first, ahead=kept)


def _fold_contract(contract: Contract | None, event: LedgerAggregate.Event) -> Contract | None:
    """The row after ``event``, as the domain's own ``apply`` changes what it keeps."""
    if isinstance(event, Subscription.SubscriptionStarted):
        return Contract(
            event.originator_id,
            event.term_start,
            event.term_end,
            event.billing_period,
            None,
            False,
            event.term_start,
        )
    if contract is None:  # not active (or not a contract this agenda keeps)
        return None
    if isinstance(event, (Subscription.SubscriptionCancelled, Subscription.SubscriptionExpired)):
        return None
    if isinstance(event, Subscription.SubscriptionRenewed):
        # A new term: its periods from the first, those seen issued already skipped.
        renewed = replace(
            contract,
            term_start=event.term_start,
            term_end=event.term_end,
            renews=False,
            invoice_on=event.term_start,
        )
        return _settle(renewed)
    if isinstance(event, Subscription.RenewalScheduled):  # RenewalChanged too
        return replace(contract, renews=True)
    if isinstance(event, Subscription.RenewalCancelled):
        return replace(contract, renews=False)
    if isinstance(event, Subscription.RenewalReminderSent):
        return replace(contract, reminded_for=event.term_end)
    return contract


def _row(contract: Contract | None) -> tuple[object, ...] | None:
    """A contract's row (None: none), every column compared (``ahead`` included)."""
    return None if contract is None else contract.row()


def _contracts(sql: Sql, ids: set[UUID]) -> dict[UUID, Contract | None]:
    """The rows of these contracts; an id without one (not active) maps to None."""
    found: dict[UUID, Contract | None] = dict.fromkeys(ids)
    wanted = [str(i) for i in ids]
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = sql.execute(
            f"SELECT {', '.join(_CONTRACT_COLUMNS)} FROM {CONTRACTS}"
            f" WHERE subscription_id IN ({marks})",
            chunk,
        ).fetchall()
        for row in rows:
            contract = Contract.of_row(row)
            found[contract.subscription_id] = contract
    return found


# -- reading -----------------------------------------------------------------------------


def contracts_due(sql: Sql, until: date, reminder_days: int) -> list[Contract]:
    """The contracts with a step on or before ``until``: a period to invoice, a reminder
    (``reminder_days`` before the term ends, if not sent) or the term's end."""
    remind_until = until + timedelta(days=reminder_days) if reminder_days else until
    rows = sql.execute(
        f"SELECT {', '.join(_CONTRACT_COLUMNS)} FROM {CONTRACTS}"
        " WHERE invoice_on <= ? OR term_end <= ?"
        " OR (term_end <= ? AND (reminded_for IS NULL OR reminded_for <> term_end))",
        (until.isoformat(), until.isoformat(), remind_until.isoformat()),
    ).fetchall()
    return [Contract.of_row(row) for row in rows]


def unsettled_due(sql: Sql, before: date) -> list[tuple[UUID, date]]:
    """Unsettled invoices due before ``before``, oldest due first."""
    rows = sql.execute(
        f"SELECT invoice_id, due_on FROM {INVOICES} WHERE due_on < ? ORDER BY due_on, invoice_id",
        (before.isoformat(),),
    ).fetchall()
    return [(UUID(str(i)), date.fromisoformat(str(d))) for i, d in rows]
