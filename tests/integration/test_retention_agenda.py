"""The retention agenda read model (projections/retention.py) on both stores: at every step
of a story of erasure requests, invoices of several years (one issued before invoices
kept their buyer) and retention runs, what the run finds due, what it finds recorded and
what an erasure request holds are what scanning the log finds (the run's source before
it); the rows kept step by step are those a rebuild from position 0 makes; a key whose
erasure is recorded is not recorded again, and is destroyed again only if a key for it
is live; and a pass reads from the log only what its agenda has not applied yet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from adapters.clock import ControllableClock
from adapters.store import StoreSettings
from domain.account import Account
from domain.invoice import Invoice
from domain.personal_data import SubjectKind, subject_name
from domain.retention import Retention
from projections import retention as agenda
from projections.runner import positions
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models
from service.privacy.erasure import Erasures
from service.privacy.retention import Hold, RetentionRun, holds, last_year_ended
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.integration.test_retention import ASKED, ENDED, _customer_with_an_invoice, _v1_invoice

ADMIN = CommandContext("ada", "admin")
Key = tuple[UUID, str]


def scanned_due(ledger: Ledger, today: date) -> dict[Key, date]:
    """The oracle: ``RetentionRun.due`` as it was before the read model, scanning the log."""
    retention = ledger.retention
    due: dict[Key, date] = {}
    for event in ledger.events_of_types(Invoice.InvoiceIssued):
        assert isinstance(event, Invoice.InvoiceIssued)
        if event.financial_year is not None:
            ends = retention.ends(event.financial_year)
            if ends <= today:
                due[(event.account_id, str(event.financial_year))] = ends
    held: dict[Key, date] = {}
    for event in ledger.events_of_types(Account.PersonalDataHeld, Account.PersonalDataErased):
        assert isinstance(event, (Account.PersonalDataHeld, Account.PersonalDataErased))
        if event.kind != SubjectKind.BUYER.value:
            continue
        key = (event.originator_id, event.subject_id)
        if isinstance(event, Account.PersonalDataHeld):
            held[key] = event.until
        else:
            held.pop(key, None)
    due.update({key: until for key, until in held.items() if until <= today})
    return due


def scanned_recorded(ledger: Ledger) -> set[Key]:
    found = set()
    for event in ledger.events_of_types(Account.PersonalDataErased):
        assert isinstance(event, Account.PersonalDataErased)
        if event.kind == SubjectKind.BUYER.value:
            found.add((event.originator_id, event.subject_id))
    return found


def scanned_holds(ledger: Ledger, account_id: UUID) -> dict[str, Hold]:
    """The oracle: ``holds`` as it was, from every invoice of the account loaded."""
    needed: dict[str, tuple[date, list[str]]] = {}
    for invoice in ledger.invoices_of(account_id):
        year = invoice.financial_year
        within = "" if year is None else str(year)
        until = ledger.retention.ends(
            year if year is not None else ledger.retention.financial_year(invoice.issued_on)
        )
        latest, numbers = needed.get(within, (until, []))
        needed[within] = (max(latest, until), [*numbers, invoice.number])
    found = {}
    for within, (until, numbers) in needed.items():
        subject = subject_name(SubjectKind.BUYER.value, account_id, within)
        found[subject] = Hold(subject, within, until, tuple(numbers))
    return found


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def table_rows(ledger: Ledger) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with own_read_models(ledger).retention.reading() as sql:
        return agenda.rows(sql)


DAYS = (date(2026, 1, 5), date(2036, 12, 31), date(2037, 1, 1), date(2038, 1, 1))


def check(ledger: Ledger, accounts: Sequence[UUID]) -> None:
    """The agenda's answers are the scans' on every day that matters to the story."""
    run = RetentionRun(ledger)
    for day in DAYS:
        due, recorded = run._agenda(day)
        assert due == scanned_due(ledger, day), day
        assert recorded == scanned_recorded(ledger) & set(due), day
    for account_id in accounts:
        assert holds(ledger, account_id) == scanned_holds(ledger, account_id)


def test_the_agenda_is_what_scanning_the_log_finds_and_what_a_rebuild_makes(
    store: StoreSettings, ledger: Ledger, clock: ControllableClock
):
    side = ReadSide(store, ledger)
    try:
        erasures = Erasures(ledger)
        a, a_sub, _ = _customer_with_an_invoice(ledger)
        b = open_account(ledger, ENDED)
        _v1_invoice(ledger, b)
        c, _, _ = _customer_with_an_invoice(ledger)  # never asked: destroyed all the same
        check(ledger, (a, b, c))
        side.runner.catch_up()  # the runner has applied this much; the rest, the readers
        ledger.cancel_subscription(ENDED, a_sub)
        erasures.erase(ASKED, a, SubjectKind.BUYER, str(a))  # holds 2026, erases ""
        erasures.erase(ASKED, b, SubjectKind.BUYER, str(b))  # holds "" (a v1 invoice)
        check(ledger, (a, b, c))
        clock.set(at(date(2027, 3, 1)))
        d, _, _ = _customer_with_an_invoice(ledger)  # financial year 2027
        check(ledger, (a, b, c, d))

        clock.set(at(date(2037, 1, 1)))
        report = RetentionRun(ledger).run()
        assert sorted(done.subject for done in report.destroyed) == sorted(
            [f"buyer:{a}:2026", f"buyer:{b}", f"buyer:{c}:2026"]
        )
        check(ledger, (a, b, c, d))
        # The billing details' key, held and now erased, is no longer due; the years'
        # keys are, recorded: nothing more is recorded or destroyed.
        due, recorded = RetentionRun(ledger)._agenda(date(2037, 1, 1))
        assert (b, "") not in due
        assert recorded == {(a, "2026"), (c, "2026")} == set(due)
        head = ledger.head_position()
        assert RetentionRun(ledger).run().destroyed == []
        assert ledger.head_position() == head

        # A key recorded erased but live again (a crash came between the record and the
        # destruction) is destroyed by the next pass, and not recorded twice.
        ledger.data_keys.key_for(f"buyer:{c}:2026")
        (again,) = RetentionRun(ledger).run().destroyed
        assert (again.subject, again.position, again.keys_destroyed) == (
            f"buyer:{c}:2026",
            None,
            1,
        )
        assert ledger.head_position() == head

        clock.set(at(date(2038, 1, 1)))
        (done,) = RetentionRun(ledger).run().destroyed
        assert done.subject == f"buyer:{d}:2027"
        check(ledger, (a, b, c, d))

        kept = table_rows(ledger)  # applied a few events at a time, by its readers
        side.runner.catch_up()  # the runner finds them applied: it skips them
        assert table_rows(ledger) == kept
        side.runner.reset(side.projection("retention"))
        side.runner.catch_up()  # rebuilt from position 0, by the runner alone
        assert table_rows(ledger) == kept
        # Four invoices; five keys: a's year and billing details, b's, c's and d's years.
        assert (len(kept[1]), len(kept[0])) == (4, 5)
    finally:
        side.stop()


class CountedReads:
    """How many events the ledger reads from its log (every scan by type and every
    catch-up of a read model goes through ``select_notifications``)."""

    def __init__(self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events = 0
        select: Callable[..., Sequence[Any]] = ledger.recorder.select_notifications

        def counted(*args: Any, **kwargs: Any) -> Sequence[Any]:
            found = select(*args, **kwargs)
            self.events += len(found)
            return found

        monkeypatch.setattr(ledger.recorder, "select_notifications", counted)


def test_a_pass_reads_from_the_log_only_what_its_agenda_has_not_applied(
    store: StoreSettings,
    ledger: Ledger,
    clock: ControllableClock,
    monkeypatch: pytest.MonkeyPatch,
):
    side = ReadSide(store, ledger)
    try:
        customers = [_customer_with_an_invoice(ledger)[0] for _ in range(3)]
        side.runner.catch_up()
        reads = CountedReads(ledger, monkeypatch)
        clock.set(at(date(2037, 1, 1)))
        report = RetentionRun(ledger).run()
        assert len(report.destroyed) == len(customers)
        assert reads.events == 0  # the runner had applied the whole log: none of it is read

        for _ in range(4):  # more history, which the runner does not apply
            _customer_with_an_invoice(ledger)
        with own_read_models(ledger).retention.store.transaction() as sql:
            (reached,) = positions(sql, ["retention"]).values()
        unapplied = len(ledger.recorder.select_notifications(reached + 1, 10_000))
        reads.events = 0
        assert RetentionRun(ledger).run().destroyed == []
        assert reads.events == unapplied  # each event not applied yet, read once
        reads.events = 0
        assert RetentionRun(ledger).run().destroyed == []
        assert holds(ledger, customers[0]) != {}
        assert reads.events == 0  # nothing new: nothing read, however long the log
    finally:
        side.stop()


def test_the_last_year_ended_follows_the_settings():
    for retention in (Retention(), Retention(years=6, year_end_month=3, year_end_day=31)):
        for day in (date(2036, 12, 31), date(2037, 1, 1), date(2032, 3, 31), date(2032, 4, 1)):
            year = last_year_ended(retention, day)
            assert retention.ends(year) <= day < retention.ends(year + 1), (retention, day)
