"""Invoice and credit-note numbers: one continuous sequence per series and year, in the order
of the log, given only to documents that were saved (ADR 0022), under 16 concurrent writers
in two processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any
from uuid import UUID

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.errors import DomainError
from domain.invoice import Invoice
from domain.invoice_series import InvoiceSeries
from domain.money import Money
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict, PreconditionFailed
from tests.builders import open_account
from tests.conftest import T0

WRITERS_PER_PROCESS = 8
COMMANDS_PER_WRITER = 8
ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff", reason="goodwill")
NUMBER = re.compile(r"(?P<prefix>[FA])-(?P<year>\d{4})-(?P<sequence>\d{6})")


def _contract(ledger: Ledger) -> tuple[UUID, UUID]:
    """A contract of its own for a writer, and its first invoice."""
    account_id = open_account(ledger, STAFF)
    receipt = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 5})
    (invoice,) = ledger.invoices_of(account_id)
    return receipt.aggregate_id, invoice.id


def _write(ledger: Ledger, contract: UUID, invoice_id: UUID, tally: dict[str, int]) -> None:
    """Issues invoices (seats added) and credit notes, and commands that are refused after
    they took a number in their attempt (a stale If-Match) or before (no seats)."""
    for n in range(COMMANDS_PER_WRITER):
        try:
            if n % 4 == 0:
                ledger.issue_credit_note(STAFF, invoice_id, Money.of("0.01", "USD"))
                kind = "credit notes"
            elif n % 4 == 1:
                ledger.add_licenses(replace(ADMIN, expected_version=1), contract, "sales-cloud", 1)
                kind = "unexpected"
            elif n % 4 == 2:
                ledger.add_licenses(ADMIN, contract, "sales-cloud", 0)
                kind = "unexpected"
            else:
                ledger.add_licenses(ADMIN, contract, "sales-cloud", 1)
                kind = "invoices"
        except (DomainError, PreconditionFailed):
            kind = "refused"
        except ConcurrencyConflict:
            kind = "conflicts"
        tally[kind] = tally.get(kind, 0) + 1


def _writers(ledger: Ledger, work: list[tuple[UUID, UUID]], go: Any) -> dict[str, int]:
    tally: dict[str, int] = {}
    lock = threading.Lock()

    def run(contract: UUID, invoice_id: UUID) -> None:
        go.wait()
        mine: dict[str, int] = {}
        _write(ledger, contract, invoice_id, mine)
        with lock:
            for kind, count in mine.items():
                tally[kind] = tally.get(kind, 0) + count

    threads = [threading.Thread(target=run, args=pair) for pair in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def _other_process(
    store: StoreSettings,
    work: list[tuple[UUID, UUID]],
    ready: ProcessEvent,
    go: ProcessEvent,
    results: Any,
) -> None:
    ledger = Ledger(
        env=store.eventsourcing_env(),
        clock=ControllableClock(T0),
        payment_provider=FakePaymentProvider(),
    )
    try:
        ready.set()
        results.put(_writers(ledger, work, go))
    finally:
        ledger.close()


def _numbers(ledger: Ledger) -> dict[str, list[tuple[int, str]]]:
    """Per series (prefix and year), the sequence numbers of its documents in log order."""
    found: dict[str, list[tuple[int, str]]] = {}
    for event in ledger.events_of_types(Invoice.InvoiceIssued, Invoice.CreditNoteIssued):
        number = str(getattr(event, "number", ""))
        match = NUMBER.fullmatch(number)
        assert match, number
        series = f"{match['prefix']}-{match['year']}"
        found.setdefault(series, []).append((int(match["sequence"]), number))
    return found


def test_sixteen_writers_in_two_processes_number_without_gap_in_log_order(
    make_ledger: Callable[[], Ledger], store: StoreSettings
) -> None:
    ledger = make_ledger()
    pairs = [_contract(ledger) for _ in range(2 * WRITERS_PER_PROCESS)]
    mine, theirs = pairs[:WRITERS_PER_PROCESS], pairs[WRITERS_PER_PROCESS:]
    spawn = multiprocessing.get_context("spawn")
    ready, go, results = spawn.Event(), spawn.Event(), spawn.Queue()
    other = spawn.Process(target=_other_process, args=(store, theirs, ready, go, results))
    other.start()
    try:
        assert ready.wait(120), "the second process did not start"
        starter = threading.Timer(0.05, go.set)
        starter.start()
        tally = _writers(ledger, mine, go)
        other_tally = results.get(timeout=300)
    finally:
        other.join(60)
    for kind, count in other_tally.items():
        tally[kind] = tally.get(kind, 0) + count

    writers = 2 * WRITERS_PER_PROCESS
    assert tally == {
        "credit notes": writers * COMMANDS_PER_WRITER // 4,
        "invoices": writers * COMMANDS_PER_WRITER // 4,
        "refused": writers * COMMANDS_PER_WRITER // 2,
    }
    numbers = _numbers(ledger)
    assert set(numbers) == {"F-2026", "A-2026"}
    # Exactly 1..N in the order the log recorded them: no gap, no reuse, no refused
    # command's number (each writer's first invoice came before the run).
    invoices = writers + tally["invoices"]
    assert [sequence for sequence, _ in numbers["F-2026"]] == list(range(1, invoices + 1))
    assert [sequence for sequence, _ in numbers["A-2026"]] == list(
        range(1, tally["credit notes"] + 1)
    )
    # Each series is at its count, and names each number's document once.
    for series_name, documents in numbers.items():
        (opened,) = (
            e
            for e in ledger.events_of_types(InvoiceSeries.SeriesOpened)
            if e.number.startswith(series_name)
        )
        series = ledger.repository.get(opened.originator_id)
        assert series.version == len(documents)
        assert series.last_number == documents[-1][1]


def test_a_new_year_starts_a_new_series_and_old_numbers_stay(
    ledger: Ledger, clock: ControllableClock
) -> None:
    contract, invoice_id = _contract(ledger)
    assert ledger.invoice(invoice_id).number == "F-2026-000001"
    clock.advance(timedelta(days=361))  # 2027-01-01, still in the term
    ledger.add_licenses(ADMIN, contract, "sales-cloud", 1)
    ledger.issue_credit_note(STAFF, invoice_id, Money.of("1.00", "USD"))
    assert _numbers(ledger) == {
        "F-2026": [(1, "F-2026-000001")],
        "F-2027": [(1, "F-2027-000001")],
        "A-2027": [(1, "A-2027-000001")],
    }
    assert ledger.invoice(invoice_id).credit_note_numbers == {
        next(iter(ledger.invoice(invoice_id).credit_notes)): "A-2027-000001"
    }


def test_a_preview_shows_the_next_number_and_consumes_none(ledger: Ledger) -> None:
    contract, _ = _contract(ledger)
    preview = ledger.add_licenses(replace(ADMIN, preview=True), contract, "sales-cloud", 1)
    (shown,) = [a for a in preview.pending if isinstance(a, Invoice)]
    assert shown.number == "F-2026-000002"
    ledger.add_licenses(ADMIN, contract, "sales-cloud", 2)
    assert [n for _, n in _numbers(ledger)["F-2026"]] == ["F-2026-000001", "F-2026-000002"]
