"""What a period invoice bills: the units in force on the period's first day, for the
whole period; a unit that starts later in a period is billed by its own prorated invoice,
and by the period invoices after that (ADR 0007). On SQLite and on PostgreSQL.

Every figure is worked out by hand in ADR 0007's table of periods (examples 9 to 12).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from domain.catalog import Edition
from domain.errors import ContractNotActive, PeriodNotBegun
from domain.invoice import Invoice
from domain.money import Money
from domain.period import BillingPeriod, billed_share, billing_periods
from service.billing.run import BillingRun
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.context import CommandContext
from tests.builders import open_account

ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff", reason="agreed with the customer")


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def bill_until(ledger: Ledger, clock: ControllableClock, day: date) -> None:
    clock.set(at(day, 2))
    report = BillingRun(ledger, reminder_days=0).run()
    assert not report.failures, report.lines()


def period_totals(ledger: Ledger, sub_id, starts: list[date]) -> list[str]:
    return [str(ledger.invoice(period_invoice_id(sub_id, s)).total.amount) for s in starts]


def figures(invoice: Invoice) -> list[tuple[str, int, str, str, str, str]]:
    return [
        (
            line.product_code,
            line.quantity,
            str(line.period_start),
            str(line.period_end),
            str(line.amount.amount),
            str(line.tax.amount),
        )
        for line in invoice.lines
    ]


def test_a_product_added_from_a_later_period_is_billed_from_that_day_once(ledger, clock):
    """The issue's first case: File Storage x2 from 20 March, added on 10 January."""
    clock.set(at(date(2026, 1, 6)))
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "USD", country="DE")
    sub_id = ledger.start_subscription(
        ADMIN,
        account_id,
        {"sales-cloud": 3, "data-storage": 1},
        billing_period=BillingPeriod.MONTHLY,
    ).aggregate_id
    clock.set(at(date(2026, 1, 10)))
    receipt = ledger.add_product(ADMIN, sub_id, "file-storage", 2, date(2026, 3, 20))
    (added,) = [ledger.invoice(i) for i in receipt.created]
    # 2 x 5.00 x 17 / 31 (20 March to 6 April) = 5.4838... -> 5.48; VAT 1.0412 -> 1.04
    assert figures(added) == [("file-storage", 2, "2026-03-06", "2026-04-06", "5.48", "1.04")]
    assert added.total == Money.of("6.52", "USD")

    bill_until(ledger, clock, date(2026, 5, 6))
    starts = [date(2026, m, 6) for m in (1, 2, 3, 4, 5)]
    # 3 x 80.00 + 5.00 = 245.00, VAT 45.60 + 0.95 = 46.55: 291.55 until File Storage is
    # in force on a period's first day; then + 10.00, VAT 1.90: 303.45.
    assert period_totals(ledger, sub_id, starts) == [
        "291.55",
        "291.55",
        "291.55",  # 6 March to 6 April: File Storage is billed by its own invoice above
        "303.45",
        "303.45",
    ]


def test_a_seat_from_the_terms_last_day_is_billed_for_that_day_only(ledger, clock):
    """The issue's second case: +1 seat from the last day of a monthly term."""
    account_id = open_account(ledger, STAFF)
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"sales-cloud": 2}, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    receipt = ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 1, date(2027, 1, 4))
    (added,) = [ledger.invoice(i) for i in receipt.created]
    # 25.00 x 1 / 31 (4 January 2027; the period 5 December to 5 January) = 0.806 -> 0.81
    assert figures(added) == [("sales-cloud", 1, "2026-12-05", "2027-01-05", "0.81", "0.00")]

    bill_until(ledger, clock, date(2027, 1, 4))
    invoices = [i for i in ledger.invoices_of(account_id) if i.id != added.id]
    assert len(invoices) == 12
    assert {str(i.total.amount) for i in invoices} == {"50.00"}  # 2 seats, every month


def monthly_contract(ledger: Ledger) -> tuple[UUID, UUID]:
    account_id = open_account(ledger, STAFF)
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"sales-cloud": 2}, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    return account_id, sub_id


def test_a_backdated_addition_pays_for_the_periods_invoiced_without_it(ledger, clock):
    """ADR 0007, example 11: 3 seats from 20 February, recorded on 10 April."""
    _, sub_id = monthly_contract(ledger)
    bill_until(ledger, clock, date(2026, 4, 10))
    clock.set(at(date(2026, 4, 10)))
    receipt = ledger.add_licenses(STAFF, sub_id, "sales-cloud", 3, date(2026, 2, 20))
    (added,) = [ledger.invoice(i) for i in receipt.created]
    assert figures(added) == [
        ("sales-cloud", 3, "2026-02-05", "2026-03-05", "34.82", "0.00"),
        ("sales-cloud", 3, "2026-03-05", "2026-04-05", "75.00", "0.00"),
        ("sales-cloud", 3, "2026-04-05", "2026-05-05", "75.00", "0.00"),
    ]
    assert added.total == Money.of("184.82", "USD")

    bill_until(ledger, clock, date(2026, 6, 5))
    starts = [date(2026, m, 5) for m in range(1, 7)]
    assert period_totals(ledger, sub_id, starts) == ["50.00"] * 4 + ["125.00"] * 2


def test_a_contract_cancelled_mid_period_pays_that_period_and_no_later_one(ledger, clock):
    """ADR 0007, example 12: cancelled from 20 June; reductions are not prorated."""
    account_id, sub_id = monthly_contract(ledger)
    bill_until(ledger, clock, date(2026, 6, 5))
    clock.set(at(date(2026, 6, 20)))
    ledger.cancel_subscription(STAFF, sub_id, date(2026, 6, 20))

    bill_until(ledger, clock, date(2026, 8, 5))
    starts = [date(2026, m, 5) for m in range(1, 7)]
    assert period_totals(ledger, sub_id, starts) == ["50.00"] * 6
    assert len(ledger.invoices_of(account_id)) == 6
    with pytest.raises(ContractNotActive):
        ledger.invoice_billing_period(ADMIN, sub_id, date(2026, 7, 5))


def test_a_period_is_not_invoiced_before_it_begins(ledger, clock):
    """Issued ahead, it could miss seats added before the period begins."""
    _, sub_id = monthly_contract(ledger)
    head = ledger.head_position()
    with pytest.raises(PeriodNotBegun):
        ledger.invoice_billing_period(ADMIN, sub_id, date(2026, 2, 5))
    assert ledger.head_position() == head


# -- any history of additions ------------------------------------------------------------

T0_DAY = date(2026, 1, 5)
ADD_ONS = ("data-storage", "file-storage", "inbox", "lightning-dialer")


@st.composite
def additions(draw: st.DrawFn) -> list[tuple[int, int, str, int]]:
    """(recorded day, first day, product, quantity), as day offsets in a 12-month term from
    T0_DAY: seats added to Sales Cloud, or an add-on bought, each from any day of the term,
    recorded before, on or after it, in the order they were recorded."""
    found = []
    for product in ["sales-cloud", *draw(st.lists(st.sampled_from(ADD_ONS), unique=True))]:
        for _ in range(draw(st.integers(0, 2)) if product == "sales-cloud" else 1):
            starts = draw(st.integers(0, 364))
            recorded = draw(st.integers(0, 364))
            found.append((recorded, starts, product, draw(st.integers(1, 9))))
    return sorted(found)


@settings(max_examples=12)
@given(billing=st.sampled_from(BillingPeriod), history=additions())
def test_a_terms_invoices_bill_each_unit_for_the_days_it_is_in_force(store, billing, history):
    """Whatever is added, from when, and when it is recorded, the invoices of the term add up
    to the day-prorated value of the units in force (one minor unit per invoice line), and
    no unit is billed before its first day."""
    clock = ControllableClock(at(T0_DAY))
    ledger = Ledger(
        env=store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    try:
        account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL)
        sub_id = ledger.start_subscription(
            ADMIN, account_id, {"sales-cloud": 3}, billing_period=billing, auto_renew=False
        ).aggregate_id
        sub = ledger.subscription(sub_id)
        periods = {p.start: p for p in billing_periods(sub.term, billing)}
        first_day = {"sales-cloud": T0_DAY}
        for offset in range(1, 365):
            today = T0_DAY + timedelta(days=offset)
            clock.set(at(today))
            if today in periods:
                ledger.invoice_billing_period(ADMIN, sub_id, today)
            for recorded, starts, product, quantity in history:
                if recorded == offset:
                    effective = T0_DAY + timedelta(days=starts)
                    ctx = STAFF if effective < today else ADMIN  # backdated: with a reason
                    if product in first_day:
                        ledger.add_licenses(ctx, sub_id, product, quantity, effective)
                    else:
                        ledger.add_product(ctx, sub_id, product, quantity, effective)
                        first_day[product] = effective
        sub = ledger.subscription(sub_id)
        lines = [line for i in ledger.invoices_of(account_id) for line in i.lines]
        exact = sum(
            (
                Fraction(sub.lines[t.line_id].unit_price.amount)
                * t.quantity
                * billed_share(p, billing, max(p.start, t.starts_on))
                for t in sub.tranches
                for p in periods.values()
                if p.end > t.starts_on
            ),
            Fraction(0),
        )
        billed = sum(Fraction(line.amount.amount) for line in lines)
        assert abs(billed - exact) <= Fraction(1, 200) * len(lines)
        for line in lines:
            assert line.period_end > first_day[line.product_code]
    finally:
        ledger.close()


def test_a_snapshot_from_before_tranches_still_loads(ledger, clock, make_ledger):
    """A v1 snapshot knows the quantities, not when they began: its lines are taken as in
    force from the term's start, and the events after it add their tranches exactly."""
    account_id = open_account(ledger, STAFF)
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"sales-cloud": 2}, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 1, date(2026, 3, 1))
    sub = ledger.subscription(sub_id)
    v2 = type(sub).Snapshot.take(sub)
    assert v2.state["class_version"] == 2
    state = {k: v for k, v in v2.state.items() if k not in ("tranches", "class_version")}
    v1 = type(v2)(
        originator_id=v2.originator_id,
        originator_version=v2.originator_version,
        timestamp=v2.timestamp,
        topic=v2.topic,
        state=state,
    )
    assert ledger.snapshots is not None
    ledger.snapshots.put([v1])
    ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 4, date(2026, 5, 1))

    reader = make_ledger()  # nothing cached: the snapshot is read and upcast
    loaded = reader.subscription(sub_id)
    assert [(t.quantity, t.starts_on, t.added_on) for t in loaded.tranches] == [
        (3, date(2026, 1, 5), None),
        (4, date(2026, 5, 1), date(2026, 1, 5)),
    ]
    assert loaded.lines["sales-cloud"].quantity == 7
