"""The legal retention of buyer identities (ADR 0027), on both stores and a test clock:
an erasure request for the buyer erases the account's billing details now and holds the
invoices' retention key until its year's retention ends; the invoices render in full
until then; the retention run destroys the key on that day (once), and the invoices then
name the buyer "[erased]" and still render, the chain intact, the name gone from the
store's bytes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from pypdf import PdfReader

from adapters.clock import ControllableClock
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.account import Account
from domain.errors import BuyerStillInvoiced
from domain.invoice import Invoice, InvoiceLine
from domain.money import Money
from domain.period import DateRange
from domain.personal_data import ERASED, SubjectKind
from domain.retention import Retention
from service.audit.verification import ChainVerifier
from service.documents.invoices import legal_document, pdf, shared_page, xml
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.privacy.erasure import Erasures
from service.privacy.retention import RETENTION_LOCK, Hold, RetentionRun, RetentionWorker
from service.reads.read_side import ReadSide
from tests.builders import cause, open_account
from tests.integration.test_erasure import raw_store, read_models

NAME, EMAIL = b"Acme Corp", b"ap@acme.example"
ASKED = CommandContext("staff-1", "billing_staff", reason="the customer asked (art. 17)")
ENDED = CommandContext("staff-1", "billing_staff", reason="the customer left")


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger) -> Iterator[ReadSide]:
    side = ReadSide(store, ledger)
    yield side
    side.stop()


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def renderings(ledger: Ledger, invoice_id: UUID) -> tuple[str, str, str, str]:
    """The invoice's buyer name as its legal document has it, its PDF's text, its XML and
    its share page, each rendered now by ``ledger``."""
    invoice = ledger.invoice(invoice_id)
    return (
        legal_document(ledger, invoice).buyer.legal_name,
        pdf_text(pdf(ledger, invoice)),
        xml(ledger, invoice).decode(),
        shared_page(ledger, invoice, "/pdf"),
    )


def _customer_with_an_invoice(ledger: Ledger) -> tuple[UUID, UUID, UUID]:
    account_id = open_account(ledger, ENDED)
    sub = ledger.start_subscription(CommandContext("ada", "admin"), account_id, {"sales-cloud": 1})
    (invoice,) = ledger.invoices_of(account_id)
    return account_id, sub.aggregate_id, invoice.id


def test_a_buyer_is_erased_now_where_it_can_be_and_on_its_retention_end_for_invoices(
    ledger: Ledger,
    make_ledger: Callable[[], Ledger],
    clock: ControllableClock,
    store: StoreSettings,
    read_side: ReadSide,
):
    account_id, sub_id, invoice_id = _customer_with_an_invoice(ledger)
    number = ledger.invoice(invoice_id).number
    erasures = Erasures(ledger)
    head = ledger.head_position()
    with pytest.raises(BuyerStillInvoiced):  # its next invoices would name no one
        erasures.erase(ASKED, account_id, SubjectKind.BUYER, str(account_id))
    assert ledger.head_position() == head
    ledger.cancel_subscription(ENDED, sub_id)

    erasure = erasures.erase(ASKED, account_id, SubjectKind.BUYER, str(account_id))

    # The default retention: 10 years after the end of the financial year 2026.
    kept = Hold(f"buyer:{account_id}:2026", "2026", date(2037, 1, 1), (number,))
    assert (erasure.erased, erasure.held) == ((f"buyer:{account_id}",), (kept,))
    assert erasure.keys_destroyed == 1 and erasure.not_erasable == ()
    held = list(ledger.events.get(account_id))[-1]
    assert isinstance(held, Account.PersonalDataHeld)
    assert (held.kind, held.subject_id, held.until) == ("buyer", "2026", date(2037, 1, 1))
    for reader in (ledger, make_ledger()):
        billing = reader.account(account_id).billing
        assert (billing.legal_name, billing.invoice_email, billing.country) == (
            ERASED,
            ERASED,
            "US",
        )
        name, text, e_invoice, page = renderings(reader, invoice_id)
        assert name == "Acme Corp"  # under retention: in full, from the invoice's own copy
        for rendered in (text, e_invoice, page):
            assert "Acme Corp" in rendered and "1 Main St" in rendered
    assert RetentionRun(ledger).run().destroyed == []  # not yet

    clock.set(datetime(2036, 12, 31, 23, 59, tzinfo=UTC))
    assert RetentionRun(ledger).run().destroyed == []
    assert renderings(make_ledger(), invoice_id)[0] == "Acme Corp"
    clock.set(datetime(2037, 1, 1, 0, 1, tzinfo=UTC))  # the day its retention ends
    report = RetentionRun(ledger).run()

    ((done),) = report.destroyed
    assert (done.subject, done.keys_destroyed) == (f"buyer:{account_id}:2026", 1)
    erased = list(ledger.events.get(account_id))[-1]
    assert isinstance(erased, Account.PersonalDataErased)
    assert (erased.kind, erased.subject_id) == ("buyer", "2026")
    assert erased.meta.reason is not None and erased.meta.reason.startswith("retention ended")
    head = ledger.head_position()
    assert RetentionRun(ledger).run().destroyed == [] and ledger.head_position() == head

    for reader in (ledger, make_ledger()):
        name, text, e_invoice, page = renderings(reader, invoice_id)
        assert name == ERASED
        for rendered in (text, e_invoice, page):
            assert (
                ERASED in rendered and "Acme Corp" not in rendered and "1 Main St" not in rendered
            )
    read_side.runner.catch_up()
    verification = ChainVerifier(ledger.recorder, read_side.readers).verify()
    assert verification.ok, verification.summary()
    held_bytes = raw_store(store) + read_models(store)
    assert NAME not in held_bytes and EMAIL not in held_bytes


def test_invoices_issued_before_they_kept_their_buyer_hold_the_account_key(
    ledger: Ledger, make_ledger: Callable[[], Ledger], clock: ControllableClock
):
    account_id = open_account(ledger, ENDED)
    old_id = _v1_invoice(ledger, account_id)

    erasure = Erasures(ledger).erase_subject(ASKED, f"buyer:{account_id}")

    # It names its buyer from the account's billing details: those are held with it.
    own = Hold(f"buyer:{account_id}", "", date(2037, 1, 1), ("INV-202601-0a1b2c3d",))
    assert (erasure.erased, erasure.held, erasure.keys_destroyed) == ((), (own,), 0)
    assert ledger.account(account_id).billing.legal_name == "Acme Corp"
    assert renderings(make_ledger(), old_id)[0] == "Acme Corp"

    clock.set(datetime(2037, 1, 1, 9, tzinfo=UTC))
    (done,) = RetentionRun(ledger).run().destroyed
    assert (done.subject, done.keys_destroyed) == (f"buyer:{account_id}", 1)
    assert RetentionRun(ledger).run().destroyed == []
    for reader in (ledger, make_ledger()):
        assert reader.account(account_id).billing.legal_name == ERASED
        assert renderings(reader, old_id)[0] == ERASED


def _v1_invoice(ledger: Ledger, account_id: UUID) -> UUID:
    """An invoice stored as InvoiceIssued v1 was: without its buyer, seller and year."""
    now = ledger.clock.now()
    line = InvoiceLine.charge(
        "Seats",
        "sales-cloud",
        1,
        Money.of("25.00", "USD"),
        DateRange(date(2026, 1, 5), date(2026, 2, 5)),
        Fraction(1),
        Decimal(0),
    )
    old = Invoice.issue(
        uuid4(), account_id, None, "INV-202601-0a1b2c3d", "USD", [line], now.date(), cause(at=now)
    )
    (issued,) = [e for e in old.collect_events() if isinstance(e, Invoice.InvoiceIssued)]
    stored = ledger.mapper.to_stored_event(issued)
    state = json.loads(stored.state)
    for name in ("class_version", "buyer", "seller", "financial_year"):
        del state[name]
    ledger.recorder.insert_events(
        [
            StoredEvent(
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                json.dumps(state).encode(),
            )
        ]
    )
    return old.id


def test_the_retention_follows_the_settings(
    make_ledger: Callable[[], Ledger], clock: ControllableClock
):
    ledger = make_ledger()
    ledger.retention = Retention(years=6, year_end_month=3, year_end_day=31)
    account_id, sub_id, invoice_id = _customer_with_an_invoice(ledger)  # issued 2026-01-05
    assert ledger.invoice(invoice_id).financial_year == 2026  # the year ending 31 March 2026
    ledger.cancel_subscription(ENDED, sub_id)
    erasure = Erasures(ledger).erase(ASKED, account_id, SubjectKind.BUYER, str(account_id))
    assert [h.until for h in erasure.held] == [date(2032, 4, 1)]
    clock.set(datetime(2032, 4, 1, 9, tzinfo=UTC) - timedelta(days=1))
    assert RetentionRun(ledger).run().destroyed == []
    clock.set(datetime(2032, 4, 1, 9, tzinfo=UTC))
    assert [d.subject for d in RetentionRun(ledger).run().destroyed] == [f"buyer:{account_id}:2026"]


def test_one_retention_worker_runs_at_a_time_per_store(
    ledger: Ledger, store: StoreSettings, clock: ControllableClock
):
    account_id, _, _ = _customer_with_an_invoice(ledger)
    clock.set(datetime(2037, 1, 1, 9, tzinfo=UTC))
    other = RunnerLock(store, RETENTION_LOCK)
    assert other.try_acquire()
    try:
        assert RetentionWorker(store, ledger, 3600).run_once() is None  # another runs
    finally:
        other.release()
    report = RetentionWorker(store, ledger, 3600).run_once()
    assert report is not None
    assert [d.subject for d in report.destroyed] == [f"buyer:{account_id}:2026"]
