"""The billing run: what the calendar asks of every contract, done by the application clock.

Up to a day (today unless told), in date order across the book: the invoice of each
billing period once the period has begun; a renewal reminder some days before a term
ends; at term end, the renewal of an auto-renewing contract or the expiry of one whose
renewal was cancelled; and, the day after an invoice fell due unpaid, its overdue mark.

Each step is found from the ledger's own state (deterministic invoice ids, the contract's
term and reminder, the invoice's status), never from a record of earlier runs. So a run
is idempotent, and a run after downtime does every missed step once, in date order, also
across a renewal. Steps are recorded *now*, by the clock, as the system actor: an invoice
issued late is issued today for the period it covers (ADR "billing by the clock").
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import IntEnum
from uuid import UUID, uuid4

from prometheus_client import Counter

from adapters.store import StoreSettings
from domain.errors import DomainError, InvalidValue
from domain.invoice import Invoice
from domain.period import billing_periods
from domain.subscription import Subscription
from projections.billing_agenda import Contract, contracts_due, unsettled_due
from service.config.settings import Settings
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models
from service.workers.periodic import PeriodicRun

log = logging.getLogger("subledger.billing")

STEPS = Counter(
    "subledger_billing_steps",
    "Billing-run steps by kind (invoice, reminder, renewal, expiry, overdue) and result.",
    ["kind", "result"],
)

BILLING_ACTOR = "subledger-billing"
BILLING_LOCK = "billing"  # the RunnerLock name: one billing run at a time per store


@dataclass(frozen=True)
class BillingSettings:
    interval: float = 3600.0  # seconds between runs in `subledger serve`; 0 turns them off
    reminder_days: int = 30  # days before a term ends that its reminder goes; 0: none

    @classmethod
    def from_settings(cls, settings: Settings) -> BillingSettings:
        return cls(settings.billing_interval, settings.renewal_reminder_days)


class Kind(IntEnum):
    """What a step does; on one day, steps run in this order."""

    INVOICE = 0
    REMINDER = 1
    RENEWAL = 2
    EXPIRY = 3
    OVERDUE = 4


@dataclass(frozen=True, order=True)
class Step:
    day: date  # the day the step fell due: its effective date
    kind: Kind
    subject: UUID  # the contract, or the invoice for OVERDUE
    period_start: date | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BillingAction:
    day: date
    kind: Kind
    subject: UUID
    detail: str
    position: int | None


@dataclass(frozen=True)
class BillingFailure:
    day: date
    kind: Kind
    subject: UUID
    error: str


@dataclass
class BillingReport:
    until: date
    actions: list[BillingAction] = field(default_factory=list)
    failures: list[BillingFailure] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"billing run up to {self.until}:"]
        for a in self.actions:
            out.append(f"  {a.day}  {a.kind.name.lower():9} {a.subject}  {a.detail}")
        for f in self.failures:
            out.append(f"  {f.day}  {f.kind.name.lower():9} {f.subject}  FAILED: {f.error}")
        out.append(f"{len(self.actions)} done, {len(self.failures)} failed")
        return out


class BillingRun:
    def __init__(self, ledger: Ledger, reminder_days: int = BillingSettings.reminder_days) -> None:
        self.ledger = ledger
        self.reminder_days = reminder_days

    def run(self, until: date | None = None) -> BillingReport:
        """Do every step due on or before ``until`` that is not done yet, in date order."""
        today = self.ledger.clock.now().date()
        until = until or today
        if until > today:
            raise InvalidValue(
                f"billing cannot run ahead of the clock: {until} is after {today}"
                " (only a test clock can be moved forward, ADR 0015)"
            )
        ctx = CommandContext(BILLING_ACTOR, "system", correlation_id=f"billing-run:{uuid4().hex}")
        report = BillingReport(until)
        agenda = self._agenda(until, today)
        while agenda:
            step = heapq.heappop(agenda)
            try:
                action = self._do(ctx, step)
            except DomainError as error:
                # This contract or invoice waits for staff, or the next run; the rest go on.
                failure = BillingFailure(step.day, step.kind, step.subject, str(error))
                log.warning("billing step failed: %s", failure)
                report.failures.append(failure)
                STEPS.labels(step.kind.name.lower(), "failed").inc()
                continue
            if action is not None:
                report.actions.append(action)
                STEPS.labels(step.kind.name.lower(), "done").inc()
            if step.kind is not Kind.OVERDUE:
                self._plan_next(agenda, self.ledger.subscription(step.subject), until, today)
        return report

    def next_due(self, after: date, until: date) -> date | None:
        """The first day after ``after``, up to ``until``, on which a step falls due: where
        a test clock moving forward stops to run billing (ADR 0015). A contract whose
        earliest step is refused on or before ``after`` waits, as in a run."""
        days = [step.day for step in self._agenda(until, after) if step.day > after]
        return min(days, default=None)

    # -- finding what is due ----------------------------------------------------------

    def _agenda(self, until: date, today: date) -> list[Step]:
        """Each active contract's earliest step due by ``until``, and each overdue mark:
        from the billing agenda read model, caught up to the log's head first, so that
        nothing recorded before the run is missed however far the runner lags."""
        with own_read_models(self.ledger).agenda.reading() as sql:
            contracts = contracts_due(sql, until, self.reminder_days)
            unsettled = unsettled_due(sql, until)
        agenda: list[Step] = []
        for contract in contracts:
            self._plan(agenda, contract, until, today)
        for invoice_id, due_on in unsettled:
            heapq.heappush(agenda, Step(due_on + timedelta(days=1), Kind.OVERDUE, invoice_id))
        return agenda

    def _plan_next(self, agenda: list[Step], sub: Subscription, until: date, today: date) -> None:
        """Put the contract's earliest step due by ``until`` on the agenda (after each step,
        the next is found from the contract's new state)."""
        if not sub.is_active:
            return
        invoice_on = None
        for period in billing_periods(sub.term, sub.billing_period):
            if period.start > until:
                break
            if not self.ledger._exists(period_invoice_id(sub.id, period.start)):
                invoice_on = period.start
                break
        contract = Contract(
            sub.id,
            sub.term.start,
            sub.term.end,
            sub.billing_period,
            sub.reminded_for,
            sub.renewal is not None,
            invoice_on,
        )
        self._plan(agenda, contract, until, today)

    def _plan(self, agenda: list[Step], contract: Contract, until: date, today: date) -> None:
        due: list[Step] = []
        sub_id, term_end = contract.subscription_id, contract.term_end
        if contract.invoice_on is not None and contract.invoice_on <= until:
            due.append(Step(contract.invoice_on, Kind.INVOICE, sub_id, contract.invoice_on))
        remind_on = max(contract.term_start, term_end - timedelta(days=self.reminder_days))
        if (
            self.reminder_days
            and contract.reminded_for != term_end
            and remind_on <= until
            and today < term_end  # once the term has ended, a reminder is no news
        ):
            due.append(Step(remind_on, Kind.REMINDER, sub_id))
        if term_end <= until:
            due.append(Step(term_end, Kind.RENEWAL if contract.renews else Kind.EXPIRY, sub_id))
        if due:
            heapq.heappush(agenda, min(due))

    # -- doing it ---------------------------------------------------------------------

    def _do(self, ctx: CommandContext, step: Step) -> BillingAction | None:
        ledger = self.ledger
        if step.kind is Kind.INVOICE:
            assert step.period_start is not None
            receipt = ledger.invoice_billing_period(ctx, step.subject, step.period_start)
            if receipt.position is None:
                return None  # issued meanwhile by someone else
            detail = _invoice_detail(ledger.invoice(receipt.aggregate_id))
        elif step.kind is Kind.REMINDER:
            receipt = ledger.send_renewal_reminder(ctx, step.subject)
            sub = ledger.subscription(step.subject)
            detail = f"term ends {sub.term.end}, " + ("renews" if sub.renewal else "does not renew")
        elif step.kind is Kind.RENEWAL:
            receipt = ledger.renew(ctx, step.subject)
            sub = ledger.subscription(step.subject)
            first = ledger.invoice(period_invoice_id(sub.id, sub.term.start))
            detail = f"new term {sub.term.start} to {sub.term.end}; {_invoice_detail(first)}"
        elif step.kind is Kind.EXPIRY:
            receipt = ledger.expire(ctx, step.subject)
            detail = f"ended {ledger.subscription(step.subject).ended_on}"
        else:
            receipt = ledger.mark_overdue(ctx, step.subject)
            invoice = ledger.invoice(step.subject)
            detail = f"{invoice.number} was due {invoice.due_on}, {invoice.balance} open"
        if receipt.position is None:
            return None
        return BillingAction(step.day, step.kind, step.subject, detail, receipt.position)


def _invoice_detail(invoice: Invoice) -> str:
    first = invoice.lines[0]
    return f"{invoice.number} for {first.period_start} to {first.period_end}: {invoice.total}"


class BillingWorker(PeriodicRun[BillingReport]):
    """The billing run every ``interval`` seconds, in a thread of ``subledger serve``,
    under the store's billing lock (as ``subledger billing run`` takes it)."""

    def __init__(self, store: StoreSettings, ledger: Ledger, settings: BillingSettings) -> None:
        def run() -> BillingReport:
            report = BillingRun(ledger, settings.reminder_days).run()
            if report.actions or report.failures:
                log.info("\n".join(report.lines()))
            return report

        super().__init__(store, BILLING_LOCK, settings.interval, run, log)
        self.ledger = ledger
        self.settings = settings
