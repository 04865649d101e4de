"""The Ledger's use cases on a real store (each test runs on SQLite and on PostgreSQL)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.account import User
from domain.catalog import Edition
from domain.errors import (
    ContractNotActive,
    DomainError,
    IdentityLicenseLimitReached,
    PaymentExceedsBalance,
    ProductNotInEdition,
    QuantityNotPositive,
    SeatsExhausted,
)
from domain.invoice import InvoiceStatus
from domain.money import Money
from domain.period import BillingPeriod
from domain.subscription import SubscriptionStatus
from service.ledger.context import CommandContext
from tests.builders import open_account


def refused(ledger, command, error=DomainError):
    """Run a command that must be refused, and show that it wrote nothing."""
    before = ledger.head_position()
    with pytest.raises(error):
        command()
    assert ledger.head_position() == before


def test_a_new_contract_holds_its_seats_and_is_invoiced_for_its_first_period(ledger, staff, admin):
    account_id = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id

    sub = ledger.subscription(sub_id)
    assert (sub.term.start, sub.term.end) == (date(2026, 1, 5), date(2027, 1, 5))
    assert sub.renewal is not None and sub.renewal.term_months == 12
    assert ledger.license(account_id, "sales-cloud").held == 5
    (invoice,) = ledger.invoices_of(account_id)
    assert invoice.total == Money.of("1500.00", "USD")  # 5 seats x 25 USD x 12 months
    assert invoice.due_on == date(2026, 2, 4)


def test_seats_added_mid_term_are_prorated_by_day_and_invoiced_at_once(ledger, staff, admin, clock):
    account_id = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id
    clock.set(clock.now().replace(month=4, day=15))

    receipt = ledger.add_licenses(admin, sub_id, "sales-cloud", 3)

    # 3 seats x 300.00 a year x 265 of 365 days left = 653.4246... -> 653.42
    latest = ledger.invoices_of(account_id)[-1]
    assert latest.total == Money.of("653.42", "USD")
    assert ledger.subscription(sub_id).lines["sales-cloud"].quantity == 8
    assert ledger.license(account_id, "sales-cloud").held == 8
    assert ledger.subscription(sub_id).renewal.lines[0].quantity == 8
    # contract, license and invoice were written in one transaction, the invoice last
    assert receipt.position == ledger.head_position()


def test_monthly_billing_in_euros_carries_german_vat_per_line(ledger, staff, admin, clock):
    account_id = open_account(ledger, staff, Edition.PROFESSIONAL, "EUR")
    sub_id = ledger.start_subscription(
        admin, account_id, {"service-cloud": 10}, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    (first,) = ledger.invoices_of(account_id)
    # 10 x 73.60 EUR = 736.00, VAT 19% = 139.84
    assert (first.subtotal, first.tax) == (Money.of("736.00", "EUR"), Money.of("139.84", "EUR"))

    clock.set(clock.now() + timedelta(days=15))  # 20 January: 16 of the period's 31 days left
    ledger.add_licenses(admin, sub_id, "service-cloud", 2)

    added = ledger.invoices_of(account_id)[-1]
    assert (added.subtotal, added.tax, added.total) == (
        Money.of("75.97", "EUR"),  # 2 x 73.60 x 16/31 = 75.974...
        Money.of("14.43", "EUR"),  # 19% of 75.97 = 14.434...
        Money.of("90.40", "EUR"),
    )


def test_refused_commands_write_nothing(ledger, staff, admin):
    essentials = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, essentials, {"sales-cloud": 1}).aggregate_id

    refused(ledger, lambda: ledger.add_product(admin, sub_id, "inbox", 1), ProductNotInEdition)
    refused(
        ledger, lambda: ledger.add_licenses(admin, sub_id, "sales-cloud", 0), QuantityNotPositive
    )
    refused(
        ledger,
        lambda: ledger.start_subscription(admin, essentials, {"lightning-dialer": 2}),
        ProductNotInEdition,
    )
    ledger.assign_seat(admin, essentials, "sales-cloud", "ada")
    ledger.add_user(admin, essentials, _user("ben"))
    refused(
        ledger, lambda: ledger.assign_seat(admin, essentials, "sales-cloud", "ben"), SeatsExhausted
    )


def test_the_101st_identity_license_is_refused(ledger, staff, admin):
    account_id = open_account(ledger, staff)
    for n in range(101):
        ledger.add_user(admin, account_id, _user(f"u{n}"))
    for n in range(100):
        ledger.assign_identity_license(admin, account_id, f"u{n}")

    refused(
        ledger,
        lambda: ledger.assign_identity_license(admin, account_id, "u100"),
        IdentityLicenseLimitReached,
    )
    assert len(ledger.account(account_id).identity_licenses) == 100


def test_an_invoice_paid_in_two_parts_is_paid_when_the_balance_reaches_zero(ledger, staff, admin):
    account_id = open_account(ledger, staff)
    ledger.set_payment_method(admin, account_id, "pm_card_visa")
    ledger.start_subscription(admin, account_id, {"sales-cloud": 2})
    (invoice,) = ledger.invoices_of(account_id)

    ledger.record_payment(admin, invoice.id, Money.of("100.00", "USD"))
    refused(
        ledger,
        lambda: ledger.record_payment(admin, invoice.id, Money.of("500.01", "USD")),
        PaymentExceedsBalance,
    )
    ledger.record_payment(admin, invoice.id, Money.of("500.00", "USD"))

    paid = ledger.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PAID
    assert paid.balance == Money.of("0.00", "USD")
    assert sorted(p.method_reference for p in _events(ledger, "PaymentRecorded")) == [
        "pm_card_visa",
        "pm_card_visa",
    ]


def test_a_contract_renews_at_term_end_with_the_scheduled_quantities(ledger, staff, admin, clock):
    account_id = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id
    ledger.schedule_renewal(admin, sub_id, 12, {"sales-cloud": 3})
    for user in ("b", "c", "d"):
        ledger.add_user(admin, account_id, _user(user))
    for user in ("ada", "b", "c", "d"):
        ledger.assign_seat(admin, account_id, "sales-cloud", user)
    clock.set(clock.now().replace(year=2027))

    ledger.renew(CommandContext("billing", "system"), sub_id)

    sub = ledger.subscription(sub_id)
    assert (sub.term.start, sub.term.end) == (date(2027, 1, 5), date(2028, 1, 5))
    assert sub.lines["sales-cloud"].quantity == 3
    lic = ledger.license(account_id, "sales-cloud")
    assert (lic.held, lic.assigned) == (3, ["ada", "b", "c"])  # the latest assigned lost the seat
    assert sub.renewal is not None  # and it goes on auto-renewing
    assert ledger.invoices_of(account_id)[-1].total == Money.of("900.00", "USD")


def test_a_cancelled_renewal_lets_the_contract_expire_and_its_seats_go(ledger, staff, admin, clock):
    account_id = open_account(ledger, staff)
    sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 2}).aggregate_id
    ledger.cancel_renewal(admin, sub_id)
    clock.set(clock.now().replace(year=2027))

    ledger.expire(CommandContext("billing", "system"), sub_id)

    assert ledger.subscription(sub_id).status is SubscriptionStatus.EXPIRED
    assert ledger.license(account_id, "sales-cloud").held == 0
    refused(ledger, lambda: ledger.schedule_renewal(admin, sub_id), ContractNotActive)


def test_every_event_records_who_caused_it_and_why(ledger, staff):
    ctx = CommandContext("olivia", "billing_staff", "req-42", "corr-7", reason="wrong address")
    account_id = open_account(ledger, staff)
    ledger.change_edition(ctx, account_id, Edition.PROFESSIONAL)

    (event,) = _events(ledger, "EditionChanged")
    assert event.meta.actor_id == "olivia"
    assert event.meta.actor_role == "billing_staff"
    assert (event.meta.request_id, event.meta.correlation_id) == ("req-42", "corr-7")
    assert event.meta.reason == "wrong address"
    assert event.timestamp == ledger.clock.now()


def test_a_credit_note_on_a_paid_invoice_is_a_refund(ledger, staff, admin):
    account_id = open_account(ledger, staff)
    ledger.start_subscription(admin, account_id, {"sales-cloud": 1})
    (invoice,) = ledger.invoices_of(account_id)
    ledger.set_payment_method(admin, account_id, "pm_card_visa")
    ledger.record_payment(admin, invoice.id, invoice.total, "pm_card_visa")
    staff_fix = CommandContext("olivia", "billing_staff", reason="goodwill")

    receipt = ledger.issue_credit_note(staff_fix, invoice.id, Money.of("50", "USD"))

    assert receipt.refund == Money.of("50", "USD")
    after = ledger.invoice(invoice.id)
    assert (after.credited, after.paid, after.balance.amount) == (
        Money.of("50", "USD"),
        Money.of("250", "USD"),
        Decimal("0"),
    )


def _user(user_id):
    return User(user_id, f"User {user_id}", f"{user_id}@acme.example")


def _events(ledger, name):
    return [
        ledger.mapper.to_domain_event(stored)
        for stored in ledger.recorder.select_notifications(1, 10_000)
        if stored.topic.endswith("." + name)
    ]
