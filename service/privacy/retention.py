"""The legal retention of buyer identities, and their destruction when it ends (ADR 0027).

An invoice names its buyer under the retention key of its account and financial year,
``buyer:<account>:<year>``, kept until the year's retention ends (``Retention.ends``) and
destroyed then, whether or not anyone asked: the law no longer allows keeping it. An
invoice issued before invoices kept their own buyer (InvoiceIssued v1) depends on the
account's own key, ``buyer:<account>`` (its billing details): an erasure request for the
buyer holds that key until the last such invoice's retention ends
(``Account.PersonalDataHeld``).

``RetentionRun`` destroys what is due, on the ledger's clock, and records
``PersonalDataErased`` on the account for each key (reason: retention ended). It is
idempotent: a key already recorded erased is destroyed again (a no-op unless a crash
came between the record and the destruction), never recorded twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID, uuid4

from adapters.store import StoreSettings
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.invoice import Invoice
from domain.personal_data import SubjectKind, subject_name
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.workers.periodic import PeriodicRun

log = logging.getLogger("subledger.privacy")

RETENTION_ACTOR = "subledger-retention"
RETENTION_LOCK = "privacy"  # the RunnerLock name: one retention run at a time per store


@dataclass(frozen=True)
class Hold:
    """A buyer key kept for the law: destroyed on ``until``, the first day after the
    retention of the invoices that need it (their numbers)."""

    subject: str
    subject_id: str  # within the account: a financial year, or "" for its billing details
    until: date
    invoices: tuple[str, ...]


def holds(ledger: Ledger, account_id: UUID) -> dict[str, Hold]:
    """The account's buyer keys that its invoices need, each until its retention ends
    (ended ones included: the caller compares with today)."""
    needed: dict[str, tuple[str, date, list[str]]] = {}
    for invoice in ledger.invoices_of(account_id):
        year = invoice.financial_year
        within = "" if year is None else str(year)
        # An invoice without its own buyer reads it from the account's key (v1).
        until = ledger.retention.ends(
            year if year is not None else ledger.retention.financial_year(invoice.issued_on)
        )
        _, latest, numbers = needed.get(within, (within, until, []))
        needed[within] = (within, max(latest, until), [*numbers, invoice.number])
    return {
        subject_name(SubjectKind.BUYER.value, account_id, within): Hold(
            subject_name(SubjectKind.BUYER.value, account_id, within),
            within,
            until,
            tuple(numbers),
        )
        for within, until, numbers in needed.values()
    }


@dataclass(frozen=True)
class Destroyed:
    account_id: UUID
    subject: str
    position: int | None  # of the PersonalDataErased recorded now; None if recorded before
    keys_destroyed: int


@dataclass
class RetentionReport:
    until: date
    destroyed: list[Destroyed] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"retention run up to {self.until}:"]
        for d in self.destroyed:
            at = f"PersonalDataErased at {d.position}" if d.position else "recorded before"
            out.append(f"  {d.subject}: {d.keys_destroyed} key(s) destroyed, {at}")
        out.append(f"{len(self.destroyed)} buyer key(s) past their retention")
        return out


class RetentionRun:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def due(self, today: date) -> dict[tuple[UUID, str], date]:
        """Each (account, subject id) whose retention ends on or before ``today``: every
        financial year's key, and the billing details' keys held by an erasure request."""
        retention = self.ledger.retention
        due: dict[tuple[UUID, str], date] = {}
        for event in self.ledger.events_of_types(Invoice.InvoiceIssued):
            assert isinstance(event, Invoice.InvoiceIssued)
            if event.financial_year is not None:
                ends = retention.ends(event.financial_year)
                if ends <= today:
                    due[(event.account_id, str(event.financial_year))] = ends
        held: dict[tuple[UUID, str], date] = {}
        for event in self.ledger.events_of_types(
            Account.PersonalDataHeld, Account.PersonalDataErased
        ):
            if event.kind != SubjectKind.BUYER.value:  # type: ignore[attr-defined]
                continue
            key = (event.originator_id, event.subject_id)  # type: ignore[attr-defined]
            if isinstance(event, Account.PersonalDataHeld):
                held[key] = event.until
            else:
                held.pop(key, None)  # erased since: a later request may hold it again
        due.update({key: until for key, until in held.items() if until <= today})
        return due

    def run(self, until: date | None = None) -> RetentionReport:
        """Destroy every buyer key whose retention has ended by ``until`` (default today)."""
        today = self.ledger.clock.now().date()
        until = min(until or today, today)
        report = RetentionReport(until)
        recorded = self._recorded()
        for (account_id, within), ends in sorted(self.due(until).items(), key=_by_day):
            subject = subject_name(SubjectKind.BUYER.value, account_id, within)
            position = None
            if (account_id, within) not in recorded or within == "":
                position = self._record(account_id, within, ends)
            destroyed = self.ledger.data_keys.destroy(subject, self.ledger.clock.now())
            if position is not None or destroyed:
                report.destroyed.append(Destroyed(account_id, subject, position, destroyed))
        if report.destroyed:
            self.ledger.data_keys.scrub()
        return report

    def _recorded(self) -> set[tuple[UUID, str]]:
        return {
            (event.originator_id, event.subject_id)  # type: ignore[attr-defined]
            for event in self.ledger.events_of_types(Account.PersonalDataErased)
            if event.kind == SubjectKind.BUYER.value  # type: ignore[attr-defined]
        }

    def _record(self, account_id: UUID, within: str, ends: date) -> int | None:
        what = f"financial year {within}" if within else "the billing details"
        ctx = CommandContext(
            RETENTION_ACTOR,
            "system",
            correlation_id=f"retention-run:{uuid4().hex}",
            reason=f"retention ended: {what} kept until {ends} (ADR 0027)",
        )

        def work(cause: Cause) -> list[LedgerAggregate]:
            account = self.ledger.account(account_id)
            account.erase_personal_data(SubjectKind.BUYER, within, cause)
            return [account]

        return self.ledger.execute(ctx, work, account_id).position


def _by_day(item: tuple[tuple[UUID, str], date]) -> tuple[date, str, str]:
    (account_id, within), ends = item
    return ends, str(account_id), within


class RetentionWorker(PeriodicRun[RetentionReport]):
    """The retention run every ``interval`` seconds, in a thread of ``subledger serve``,
    under the store's ``privacy`` lock: one process per store at a time."""

    def __init__(self, store: StoreSettings, ledger: Ledger, interval: float) -> None:
        def run() -> RetentionReport:
            report = RetentionRun(ledger).run()
            if report.destroyed:
                log.info("\n".join(report.lines()))
            return report

        super().__init__(store, RETENTION_LOCK, interval, run, log)
        self.ledger = ledger
