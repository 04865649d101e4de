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
idempotent: a key already recorded erased is never recorded twice, and destroyed again
only if it is still live (a crash came between the record and the destruction).

What is due, and what an account's invoices hold, are read from the retention agenda
(projections/retention.py), caught up to the log's head first (ADR 0029): a pass reads
from the log only what the agenda has not applied yet, not every invoice ever issued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID, uuid4

from adapters.store import StoreSettings
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.personal_data import SubjectKind, subject_name
from domain.retention import Retention
from projections import retention as retention_agenda
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models
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
    with own_read_models(ledger).retention.reading() as sql:
        invoices = retention_agenda.invoices_of(sql, account_id)
    needed: dict[str, tuple[str, date, list[str]]] = {}
    for invoice in invoices:
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
        return self._agenda(today)[0]

    def _agenda(self, today: date) -> tuple[dict[tuple[UUID, str], date], set[tuple[UUID, str]]]:
        """What is due by ``today``, and which of it is recorded erased already: from the
        retention agenda (projections/retention.py), caught up to the log's head."""
        retention = self.ledger.retention
        with own_read_models(self.ledger).retention.reading() as sql:
            keys = retention_agenda.keys_due(sql, last_year_ended(retention, today), today)
        due: dict[tuple[UUID, str], date] = {}
        recorded: set[tuple[UUID, str]] = set()
        for key in keys:
            at = (key.account_id, key.subject_id)
            # A hold ended overrides the year's own end (both are the same day unless the
            # settings changed between); a hold not ended yet does not.
            if key.held_until is not None and key.held_until <= today:
                due[at] = key.held_until
            elif key.financial_year is not None and retention.ends(key.financial_year) <= today:
                due[at] = retention.ends(key.financial_year)
            else:
                continue
            if key.erased:
                recorded.add(at)
        return due, recorded

    def run(self, until: date | None = None) -> RetentionReport:
        """Destroy every buyer key whose retention has ended by ``until`` (default today)."""
        today = self.ledger.clock.now().date()
        until = min(until or today, today)
        report = RetentionReport(until)
        due, recorded = self._agenda(until)
        # A key recorded erased by an earlier pass is destroyed already, unless a crash came
        # between the record and the destruction: only those still live are destroyed
        # again, found in one query per 500 rather than one destruction each.
        subjects = {key: subject_name(SubjectKind.BUYER.value, *key) for key in due}
        live = self.ledger.data_keys.live([subjects[key] for key in recorded])
        for (account_id, within), ends in sorted(due.items(), key=_by_day):
            subject = subjects[(account_id, within)]
            position = None
            if (account_id, within) not in recorded or within == "":
                position = self._record(account_id, within, ends)
            elif subject not in live:
                continue
            destroyed = self.ledger.data_keys.destroy(subject, self.ledger.clock.now())
            if position is not None or destroyed:
                report.destroyed.append(Destroyed(account_id, subject, position, destroyed))
        if report.destroyed:
            self.ledger.data_keys.scrub()
        return report

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


def last_year_ended(retention: Retention, today: date) -> int:
    """The latest financial year whose retention has ended by ``today`` (the end of a
    year's retention comes later for each later year)."""
    year = today.year - retention.years + 1
    while retention.ends(year) > today:
        year -= 1
    return year


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
