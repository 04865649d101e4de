"""The billing run on a real store (SQLite and PostgreSQL): two years of an account's life
with every invoice checked against figures worked out by hand, idempotency, and catch-up.

Prices (domain/catalog.py, Professional edition, EUR = USD less 8%), per unit per month:
Sales Cloud and Service Cloud 73.60 (80 USD) until 31 July 2026, 92.00 (100 USD) from
1 August 2026; Inbox 23.00; Lightning Dialer 69.00 (75 USD), then 73.60 (80 USD); Data
Storage 4.60. Annual billing charges 12 months at once. The account bills to Germany:
19% VAT, rounded half-up per line.
"""

import time as wall
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.catalog import Edition
from domain.errors import InvalidValue
from domain.invoice import Invoice, InvoiceStatus
from domain.period import BillingPeriod, billing_periods
from domain.subscription import Subscription, SubscriptionStatus
from service.billing.run import (
    BILLING_ACTOR,
    BILLING_LOCK,
    BillingRun,
    BillingSettings,
    BillingWorker,
    Kind,
)
from service.config.settings import SettingsInvalid, load_settings
from service.http.app import create_app
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.integration.test_cli import run_cli

ADMIN = CommandContext("jonas", "admin")
STAFF = CommandContext("staff-1", "billing_staff")
NIGHTLY = time(2)  # the billing run, before the customer's day begins
DAYTIME = time(10)


def at(day: date, hour: time = DAYTIME) -> datetime:
    return datetime.combine(day, hour, tzinfo=UTC)


def days(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


def line_figures(invoice: Invoice) -> tuple[tuple[str, int, str, str], ...]:
    return tuple(
        (line.product_code, line.quantity, str(line.amount.amount), str(line.tax.amount))
        for line in invoice.lines
    )


def events_by(ledger, actor: str):
    for notification in ledger.recorder.select_notifications(1, 100_000):
        event = ledger.mapper.to_domain_event(notification)
        if event.meta.actor_id == actor:
            yield event


# -- two years ---------------------------------------------------------------------------

# Contract A: Sales Cloud, billed annually, 12-month terms from 5 January 2026.
A_TERM_1 = (("sales-cloud", 10, "8832.00", "1678.08"),)
# 10 seats x 883.20 (73.60 x 12) = 8832.00; VAT 8832.00 x 0.19 = 1678.08; total 10510.08
A_SEATS_ADDED = (("sales-cloud", 5, "3266.63", "620.66"),)
# 5 seats from 10 April 2026 to 5 January 2027: 270 of the period's 365 days
# (Apr 10-30: 21, May-Dec: 31+30+31+31+30+31+30+31 = 245, Jan 1-4: 4).
# 5 x 883.20 = 4416.00; 4416.00 x 270 / 365 = 1192320 / 365 = 3266.6301... -> 3266.63;
# VAT 3266.63 x 0.19 = 620.6597 -> 620.66; total 3887.29
A_STORAGE_ADDED = (("data-storage", 10, "190.55", "36.20"),)
# 10 GB of Data Storage from 1 September 2026: 126 of 365 days (Sep 30, Oct 31, Nov 30,
# Dec 31, Jan 1-4: 4). 10 x 55.20 (4.60 x 12) = 552.00; 552.00 x 126 / 365 = 69552 / 365
# = 190.5534... -> 190.55; VAT 190.55 x 0.19 = 36.2045 -> 36.20; total 226.75
A_RENEWED = (("sales-cloud", 15, "16560.00", "3146.40"), ("data-storage", 10, "552.00", "104.88"))
# The renewal was priced on 5 January 2027 (after the August 2026 list-price change):
# Sales Cloud 1104.00 (92.00 x 12), grown by the 5 seats added; Data Storage renews at
# the 55.20 it was bought at. 15 x 1104.00 = 16560.00, VAT 3146.40; 10 x 55.20 = 552.00,
# VAT 104.88. Subtotal 17112.00 + VAT 3251.28 = 20363.28; the 2028 renewal is the same.

# Contract B: Service Cloud and Inbox, a 12-month term from 1 March 2026 billed monthly.
B_MONTH = (("service-cloud", 4, "294.40", "55.94"), ("inbox", 4, "92.00", "17.48"))
# 4 x 73.60 = 294.40, VAT 55.936 -> 55.94; 4 x 23.00 = 92.00, VAT 17.48; total 459.82
B_DIALER_ADDED = (("lightning-dialer", 2, "73.60", "13.98"),)
# 2 Lightning Dialer seats from 15 June: 16 of June's 30 days. 2 x 69.00 x 16 / 30
# = 2208 / 30 = 73.60; VAT 13.984 -> 13.98; total 87.58
B_MONTH_WITH_DIALER = (*B_MONTH, ("lightning-dialer", 2, "138.00", "26.22"))
# + 2 x 69.00 = 138.00, VAT 26.22: subtotal 524.40 + VAT 99.64 = 624.04
B_RENEWED = (
    ("service-cloud", 6, "552.00", "104.88"),
    ("inbox", 4, "92.00", "17.48"),
    ("lightning-dialer", 2, "147.20", "27.97"),
)
# The customer changed the renewal to 6 months with 6 Service Cloud seats; it was priced
# on 1 March 2027: 6 x 92.00 = 552.00, VAT 104.88; 4 x 23.00 = 92.00, VAT 17.48;
# 2 x 73.60 = 147.20, VAT 27.968 -> 27.97. Subtotal 791.20 + VAT 150.33 = 941.53

EXPECTED_INVOICES = [
    # (issued on, contract, first day of its billing period, lines, total)
    ("2026-01-05", "A", "2026-01-05", A_TERM_1, "10510.08"),
    ("2026-03-01", "B", "2026-03-01", B_MONTH, "459.82"),
    ("2026-04-01", "B", "2026-04-01", B_MONTH, "459.82"),
    ("2026-04-10", "A", "2026-01-05", A_SEATS_ADDED, "3887.29"),
    ("2026-05-01", "B", "2026-05-01", B_MONTH, "459.82"),
    ("2026-06-01", "B", "2026-06-01", B_MONTH, "459.82"),
    ("2026-06-15", "B", "2026-06-01", B_DIALER_ADDED, "87.58"),
    ("2026-07-01", "B", "2026-07-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2026-08-01", "B", "2026-08-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2026-09-01", "A", "2026-01-05", A_STORAGE_ADDED, "226.75"),
    ("2026-09-01", "B", "2026-09-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2026-10-01", "B", "2026-10-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2026-11-01", "B", "2026-11-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2026-12-01", "B", "2026-12-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2027-01-01", "B", "2027-01-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2027-01-05", "A", "2027-01-05", A_RENEWED, "20363.28"),
    ("2027-02-01", "B", "2027-02-01", B_MONTH_WITH_DIALER, "624.04"),
    ("2027-03-01", "B", "2027-03-01", B_RENEWED, "941.53"),
    ("2027-04-01", "B", "2027-04-01", B_RENEWED, "941.53"),
    ("2027-05-01", "B", "2027-05-01", B_RENEWED, "941.53"),
    ("2027-06-01", "B", "2027-06-01", B_RENEWED, "941.53"),
    ("2027-07-01", "B", "2027-07-01", B_RENEWED, "941.53"),
    ("2027-08-01", "B", "2027-08-01", B_RENEWED, "941.53"),
    ("2028-01-05", "A", "2028-01-05", A_RENEWED, "20363.28"),
]

LATE = "2026-04-10"  # the seats invoice, due 10 May, is paid on 1 June
UNPAID = "2027-08-01"  # B's last invoice, due 31 August, is never paid


def test_two_years_of_an_account_life(ledger, clock):
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
    ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
    a = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id
    label = {a: "A"}
    b: UUID | None = None

    def customer(day: date) -> None:
        nonlocal b
        if day == date(2026, 3, 1):
            b = ledger.start_subscription(
                ADMIN,
                account_id,
                {"service-cloud": 4, "inbox": 4},
                billing_period=BillingPeriod.MONTHLY,
            ).aggregate_id
            label[b] = "B"
        elif day == date(2026, 4, 10):
            ledger.add_licenses(ADMIN, a, "sales-cloud", 5)
        elif day == date(2026, 6, 15):
            ledger.add_product(ADMIN, b, "lightning-dialer", 2)
        elif day == date(2026, 9, 1):
            ledger.add_product(ADMIN, a, "data-storage", 10)
        elif day == date(2026, 12, 10):
            wanted = {"service-cloud": 6, "inbox": 4, "lightning-dialer": 2}
            ledger.schedule_renewal(ADMIN, b, term_months=6, quantities=wanted)
        elif day == date(2027, 5, 20):
            ledger.cancel_renewal(ADMIN, b)

    def pay_what_is_due(day: date) -> None:
        """The customer pays each invoice three days after it is issued, with two exceptions."""
        for invoice in ledger.invoices_of(account_id):
            issued = str(invoice.issued_on)
            pay_on = date(2026, 6, 1) if issued == LATE else invoice.issued_on + timedelta(3)
            if invoice.status is InvoiceStatus.OPEN and day == pay_on and issued != UNPAID:
                ledger.record_payment(ADMIN, invoice.id, invoice.balance)

    billing = BillingRun(ledger)
    done: list[tuple[date, Kind, UUID]] = []
    for day in days(date(2026, 1, 6), date(2028, 1, 10)):
        clock.set(at(day, NIGHTLY))
        report = billing.run()
        assert not report.failures
        done += [(action.day, action.kind, action.subject) for action in report.actions]
        clock.set(at(day))
        customer(day)
        if day.day in (4, 8) or day in (date(2026, 6, 1), date(2026, 6, 18)):
            pay_what_is_due(day)  # (only on days with something to pay: it keeps the test fast)

    invoices = sorted(
        ledger.invoices_of(account_id), key=lambda i: (i.issued_on, label[i.subscription_id])
    )
    actual = [
        (
            str(i.issued_on),
            label[i.subscription_id],
            str(i.lines[0].period_start),
            line_figures(i),
            str(i.total.amount),
        )
        for i in invoices
    ]
    assert actual == EXPECTED_INVOICES

    # Each invoice fell due 30 days after it was issued (period invoices on their period's
    # first day, above); only the two the customer paid late or never were marked overdue,
    # the day after they fell due.
    assert all(i.due_on == i.issued_on + timedelta(30) for i in invoices)
    overdue = {str(i.issued_on): i for i in invoices if i.overdue_since is not None}
    assert set(overdue) == {LATE, UNPAID}
    late, unpaid = overdue[LATE], overdue[UNPAID]
    assert (late.overdue_since, late.status, late.paid_on) == (
        date(2026, 5, 11),
        InvoiceStatus.PAID,
        date(2026, 6, 1),
    )
    assert not late.overdue  # paid (late): no longer overdue
    assert (unpaid.overdue_since, unpaid.overdue) == (date(2027, 9, 1), True)
    assert [i for i in invoices if i.status is InvoiceStatus.OPEN] == [unpaid]

    # What the billing run did, on which day (its recorded day: it ran every night).
    assert b is not None
    assert [
        (day, kind, label.get(subject, "invoice"))
        for day, kind, subject in done
        if kind is not Kind.INVOICE
    ] == [
        (date(2026, 5, 11), Kind.OVERDUE, "invoice"),
        (date(2026, 12, 6), Kind.REMINDER, "A"),  # 30 days before 5 January 2027
        (date(2027, 1, 5), Kind.RENEWAL, "A"),
        (date(2027, 1, 30), Kind.REMINDER, "B"),  # 30 days before 1 March 2027
        (date(2027, 3, 1), Kind.RENEWAL, "B"),
        (date(2027, 8, 2), Kind.REMINDER, "B"),  # 30 days before 1 September: it will end
        (date(2027, 9, 1), Kind.EXPIRY, "B"),
        (date(2027, 9, 1), Kind.OVERDUE, "invoice"),
        (date(2027, 12, 6), Kind.REMINDER, "A"),
        (date(2028, 1, 5), Kind.RENEWAL, "A"),
    ]
    run_events = list(events_by(ledger, BILLING_ACTOR))
    assert {(e.meta.actor_role, e.timestamp.time()) for e in run_events} == {("system", NIGHTLY)}
    reminders = [e for e in run_events if isinstance(e, Subscription.RenewalReminderSent)]
    assert [(e.timestamp.date(), e.term_end, e.renews) for e in reminders] == [
        (date(2026, 12, 6), date(2027, 1, 5), True),
        (date(2027, 1, 30), date(2027, 3, 1), True),
        (date(2027, 8, 2), date(2027, 9, 1), False),
        (date(2027, 12, 6), date(2028, 1, 5), True),
    ]

    contract_a, contract_b = ledger.subscription(a), ledger.subscription(b)
    assert (contract_a.term.start, contract_a.terms_served) == (date(2028, 1, 5), 3)
    assert (contract_b.status, contract_b.ended_on) == (
        SubscriptionStatus.EXPIRED,
        date(2027, 9, 1),
    )
    assert ledger.license(account_id, "sales-cloud").held == 15
    assert ledger.license(account_id, "service-cloud").held == 0


# -- idempotency and catch-up ------------------------------------------------------------


def monthly_contract(ledger, term_months: int = 12) -> UUID:
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
    return ledger.start_subscription(
        ADMIN,
        account_id,
        {"service-cloud": 2},
        term_months=term_months,
        billing_period=BillingPeriod.MONTHLY,
    ).aggregate_id


def test_running_twice_for_the_same_day_writes_nothing(ledger, clock):
    sub_id = monthly_contract(ledger, term_months=2)  # 5 Jan 2026 to 5 Mar 2026
    billing = BillingRun(ledger)
    for day in (date(2026, 2, 5), date(2026, 3, 5)):
        clock.set(at(day))
        first = billing.run()
        head = ledger.head_position()
        again = billing.run()

        assert first.actions and not again.actions and not again.failures
        assert ledger.head_position() == head
    # On 5 March the term ended: the contract renewed, and its new first period was invoiced
    # by the renewal itself (the run's invoice step found it issued).
    assert [a.kind for a in first.actions] == [Kind.RENEWAL]
    assert ledger.subscription(sub_id).term.start == date(2026, 3, 5)


def test_after_downtime_one_run_catches_up_every_missed_period_once(ledger, clock):
    """The worker runs each month until the November invoice of a monthly contract whose
    term ends on 5 January, then is down for three billing periods (5 December, 5 January
    with the renewal, 5 February)."""
    sub_id = monthly_contract(ledger)  # 5 Jan 2026 to 5 Jan 2027
    billing = BillingRun(ledger)
    for month in range(2, 12):  # (the customer never pays: invoices fall overdue too)
        clock.set(at(date(2026, month, 5), NIGHTLY))
        assert [a.kind for a in billing.run().actions].count(Kind.INVOICE) == 1
    before = ledger.head_position()
    missed = [date(2026, 12, 5), date(2027, 1, 5), date(2027, 2, 5)]

    back = at(date(2027, 2, 20), time(14, 30))
    clock.set(back)
    report = billing.run()
    head = ledger.head_position()

    # In date order. No reminder (due 6 December): once the term has ended, the renewal is
    # the news. The invoices issued now are not due yet.
    assert [(a.day, a.kind) for a in report.actions] == [
        (date(2026, 12, 5), Kind.INVOICE),
        (date(2026, 12, 6), Kind.OVERDUE),  # November's, due 5 December
        (date(2027, 1, 5), Kind.RENEWAL),  # which invoices the new term's first period
        (date(2027, 2, 5), Kind.INVOICE),
    ]
    sub = ledger.subscription(sub_id)
    new_term = [p.start for p in billing_periods(sub.term, sub.billing_period)]
    assert new_term[:2] == missed[1:]
    for period_start in missed:
        (issued,) = [
            e
            for e in ledger.events.get(period_invoice_id(sub_id, period_start))
            if isinstance(e, Invoice.InvoiceIssued)
        ]
        # Issued now, for the period it covers; payment is due 30 days from now.
        assert issued.timestamp == back
        assert (issued.issued_on, issued.due_on) == (back.date(), back.date() + timedelta(30))
        assert {line.period_start for line in issued.lines} == {period_start}
        assert issued.meta.actor_id == BILLING_ACTOR
    renewed = next(
        e for e in ledger.events.get(sub_id) if isinstance(e, Subscription.SubscriptionRenewed)
    )
    assert (renewed.timestamp, renewed.term_start) == (back, date(2027, 1, 5))

    # Exactly one invoice per period since the contract began, the missed ones included.
    issued_events = [
        e for e in events_by(ledger, BILLING_ACTOR) if isinstance(e, Invoice.InvoiceIssued)
    ]
    assert len(issued_events) == 10 + 3  # Feb to Nov 2026, then the three missed
    assert [e.issued_on for e in issued_events[:10]] == [date(2026, m, 5) for m in range(2, 12)]
    assert head > before
    assert not billing.run().actions
    assert ledger.head_position() == head


def test_the_run_cannot_go_ahead_of_the_clock(ledger, clock):
    monthly_contract(ledger)
    head = ledger.head_position()
    with pytest.raises(InvalidValue, match="ahead of the clock"):
        BillingRun(ledger).run(until=date(2026, 3, 1))
    assert ledger.head_position() == head


def test_a_run_up_to_an_earlier_day_does_only_what_was_due_by_then(ledger, clock):
    sub_id = monthly_contract(ledger)
    clock.set(at(date(2026, 6, 20)))

    def done(kind: str) -> float:
        labels = {"kind": kind, "result": "done"}
        return REGISTRY.get_sample_value("subledger_billing_steps_total", labels) or 0

    before = {kind: done(kind) for kind in ("invoice", "overdue", "renewal")}
    report = BillingRun(ledger).run(until=date(2026, 3, 31))

    assert {kind: done(kind) - before[kind] for kind in before} == {
        "invoice": 2,
        "overdue": 1,
        "renewal": 0,
    }
    assert [(a.day, a.kind) for a in report.actions] == [
        (date(2026, 2, 5), Kind.INVOICE),
        (date(2026, 2, 5), Kind.OVERDUE),  # the first invoice, due 4 February
        (date(2026, 3, 5), Kind.INVOICE),
    ]
    assert ledger.subscription(sub_id).term.start == date(2026, 1, 5)


# -- the schedule and the command line ---------------------------------------------------


def eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = wall.monotonic() + seconds
    while not condition():
        assert wall.monotonic() < deadline, "not within the time allowed"
        wall.sleep(0.02)


def test_serve_runs_the_billing_run_on_its_schedule(store, ledger, clock):
    sub_id = monthly_contract(ledger)
    clock.set(at(date(2026, 2, 5)))
    february = period_invoice_id(sub_id, date(2026, 2, 5))
    app = create_app(ReadSide(store, ledger), run_projections=False, billing=BillingSettings(0.05))

    with TestClient(app):
        eventually(lambda: ledger._exists(february))
        clock.set(at(date(2026, 3, 5)))
        eventually(lambda: ledger._exists(period_invoice_id(sub_id, date(2026, 3, 5))))
    assert ledger.invoice(february).issued_on == date(2026, 2, 5)


def test_one_billing_run_at_a_time_per_store(store, ledger, clock):
    monthly_contract(ledger)
    clock.set(at(date(2026, 2, 5)))
    worker = BillingWorker(store, ledger, BillingSettings())
    held = RunnerLock(store, BILLING_LOCK)
    assert held.try_acquire()
    try:
        assert worker.run_once() is None  # another process is running it: this round is skipped
    finally:
        held.release()
    report = worker.run_once()
    assert report is not None and [a.kind for a in report.actions] == [Kind.INVOICE, Kind.OVERDUE]


def test_billing_settings_come_from_the_environment():
    assert BillingSettings.from_settings(load_settings({})) == BillingSettings(3600.0, 30)
    configured = {"SUBLEDGER_BILLING_INTERVAL": "0", "SUBLEDGER_RENEWAL_REMINDER_DAYS": "45"}
    assert BillingSettings.from_settings(load_settings(configured)) == BillingSettings(0.0, 45)
    with pytest.raises(SettingsInvalid, match=r"SUBLEDGER_RENEWAL_REMINDER_DAYS: .*integer"):
        load_settings({"SUBLEDGER_RENEWAL_REMINDER_DAYS": "soon"})
    with pytest.raises(
        SettingsInvalid, match=r"SUBLEDGER_BILLING_INTERVAL: .*greater than or equal to 0"
    ):
        load_settings({"SUBLEDGER_BILLING_INTERVAL": "-1"})


def test_the_billing_run_command(tmp_path):
    db = str(tmp_path / "ledger.db")
    settings = StoreSettings(sqlite_path=db)
    settings.prepare()
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=ControllableClock(at(date(2026, 1, 5))),
        payment_provider=FakePaymentProvider(),
    )
    try:
        sub_id = monthly_contract(ledger)
    finally:
        ledger.close()

    first = run_cli("billing", "run", "--until", "2026-03-10", SUBLEDGER_DB=db)
    again = run_cli("billing", "run", "--until", "2026-03-10", SUBLEDGER_DB=db)
    ahead = run_cli("billing", "run", "--until", "2999-01-01", SUBLEDGER_DB=db)
    misconfigured = run_cli("billing", "run", SUBLEDGER_DB=db, SUBLEDGER_BILLING_INTERVAL="x")

    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "billing run up to 2026-03-10:"
    assert f"2026-02-05  invoice   {sub_id}  F-2026-" in lines[1]
    assert "for 2026-02-05 to 2026-03-05: 175.17 EUR" in lines[1]  # 2 x 73.60 + 19% VAT
    assert "2026-02-05  overdue" in lines[2]
    assert "2026-03-05  invoice" in lines[3]
    assert lines[-1] == "3 done, 0 failed"
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "0 done, 0 failed"
    assert ahead.returncode == 1 and "cannot run ahead of the clock" in ahead.stderr
    assert misconfigured.returncode == 2
    assert misconfigured.stderr == (
        "subledger: SUBLEDGER_BILLING_INTERVAL: Input should be a valid number, unable to parse"
        " string as a number, got 'x'\n"
    )
