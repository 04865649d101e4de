"""The account overview and the book reports on a real store, checked against the aggregates."""

from datetime import date, timedelta
from typing import Any

import pytest

from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain import catalog
from domain.account import Contact, ContactRole, User
from domain.catalog import Edition
from domain.invoice import Invoice, InvoiceStatus
from domain.money import Money
from domain.period import BillingPeriod
from projections import account_overview as overview
from projections.reports import invoice_ageing, upcoming_renewals
from projections.runner import ProjectionRunner
from service.demo.history import NORTHWIND, load_demo
from service.http.schemas.common import MoneyOut
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from tests.builders import administrator, billing, open_account
from tests.unit.test_documents import every_aggregate, http_document

STAFF_WITH_REASON = CommandContext("staff-1", "billing_staff", reason="duplicate order")


@pytest.fixture
def read_side(store: StoreSettings, ledger):
    side = ReadSide(store, ledger)
    yield side
    side.stop()


def query(read_side: ReadSide, function, *args):
    with read_side.readers.transaction() as sql:
        return function(sql, *args)


def all_rows(read_side: ReadSide) -> dict[str, list[tuple]]:
    projection = read_side.projection("account_overview")
    with read_side.readers.transaction() as sql:
        return {
            table: [
                tuple(row) for row in sql.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            ]
            for table in projection.tables
        }


def invoice_of(ledger: Ledger, receipt: Receipt) -> Invoice:
    """The invoice a command issued."""
    (invoice_id,) = (i for i in receipt.created if isinstance(ledger.repository.get(i), Invoice))
    return ledger.invoice(invoice_id)


def money_out(amount: Money) -> dict[str, str]:
    return MoneyOut.of(amount).model_dump(mode="json")


def expected_overview(ledger: Ledger, account_id) -> dict[str, Any]:
    """The overview, worked out from the aggregates themselves."""
    account = ledger.account(account_id)
    contracts = ledger.subscriptions_of(account_id)
    renewing = [s for s in contracts if s.is_active and s.renewal is not None]
    first = min(renewing, key=lambda s: s.term.end, default=None)
    open_invoices = [i for i in ledger.invoices_of(account_id) if i.status is InvoiceStatus.OPEN]
    balances = {account.currency: Money.zero(account.currency)}
    for invoice in open_invoices:
        balances[invoice.currency] = balances.get(invoice.currency, Money.zero(invoice.currency))
        balances[invoice.currency] += invoice.balance
    return {
        "account": http_document(account),
        "contracts": [http_document(s) for s in contracts],
        "seats": [
            {
                "product_code": lic.product_code,
                "product_name": catalog.product(lic.product_code).name,
                "held": lic.held,
                "assigned": len(lic.assigned),
                "available": lic.available,
            }
            for lic in ledger.licenses_of(account_id)
        ],
        "next_renewal": None
        if first is None
        else {
            "subscription_id": str(first.id),
            "starts_on": first.term.end.isoformat(),
            "term_months": first.renewal.term_months,
            "value": money_out(
                sum((ln.amount for ln in first.renewal.lines), Money.zero(first.currency))
            ),
        },
        "open_balance": [money_out(balances[c]) for c in sorted(balances)],
        "open_invoices": len(open_invoices),
    }


def assert_read_models_match(read_side: ReadSide, ledger: Ledger) -> dict[str, int]:
    """Every document and list equals what the HTTP API would say of the aggregates;
    returns how many of each kind were checked."""
    checked: dict[str, int] = {}
    with read_side.readers.transaction() as sql:
        for aggregate in every_aggregate(ledger):
            kind = type(aggregate).__name__
            if kind == "Account":
                account_id = aggregate.id
                assert overview.account(sql, account_id) == http_document(aggregate)
                assert overview.subscriptions_of(sql, account_id) == [
                    http_document(s) for s in ledger.subscriptions_of(account_id)
                ]
                assert overview.invoices_of(sql, account_id) == [
                    http_document(i) for i in ledger.invoices_of(account_id)
                ]
                assert overview.licenses_of(sql, account_id) == [
                    http_document(lic) for lic in ledger.licenses_of(account_id)
                ]
                assert overview.support_cases_of(sql, account_id) == [
                    http_document(a)
                    for a in every_aggregate(ledger)
                    if type(a).__name__ == "SupportCase" and a.account_id == account_id
                ]
                assert overview.overview(sql, account_id) == expected_overview(ledger, account_id)
            elif kind == "Subscription":
                assert overview.subscription(sql, aggregate.id) == http_document(aggregate)
            elif kind == "Invoice":
                assert overview.invoice(sql, aggregate.id) == http_document(aggregate)
            elif kind == "SupportCase":
                assert overview.support_case(sql, aggregate.id) == http_document(aggregate)
                in_status = overview.support_cases_of(sql, aggregate.account_id, aggregate.status)
                assert http_document(aggregate) in in_status
                assert {case["status"] for case in in_status} == {aggregate.status.value}
            else:
                continue
            checked[kind] = checked.get(kind, 0) + 1
    return checked


def build_history(ledger: Ledger, staff, admin, clock) -> tuple[Any, Any]:
    """Two accounts with contracts, seats, users, payments, a void, a credit note, support
    cases (answered, closed, open), and an idempotency record (which belongs to no read
    model)."""
    acme = open_account(ledger, staff)
    ledger.set_payment_method(admin, acme, "pm_card_visa")
    ledger.add_contact(admin, acme, Contact(ContactRole.BILLING, "Bo", "bo@acme.example"), "bill")
    ledger.add_user(admin, acme, User("ben", "Ben", "ben@acme.example"))
    ledger.add_user(admin, acme, User("cara", "Cara", "cara@acme.example"))
    retried = CommandContext("ada", "admin", idempotency_key="k-1", fingerprint="add dan")
    ledger.add_user(retried, acme, User("dan", "Dan", "dan@acme.example"))  # and its record
    started = ledger.start_subscription(admin, acme, {"sales-cloud": 5})
    sales = started.aggregate_id
    ledger.assign_seat(admin, acme, "sales-cloud", "ada")
    ledger.assign_seat(admin, acme, "sales-cloud", "ben")
    ledger.assign_identity_license(admin, acme, "cara")
    ledger.grant_manage_billing(admin, acme, "cara")
    ledger.record_payment(admin, invoice_of(ledger, started).id, Money.of("500.00", "USD"))
    clock.advance(timedelta(days=10))
    ledger.add_licenses(admin, sales, "sales-cloud", 3)
    ledger.add_product(admin, sales, "data-storage", 2)
    short = ledger.start_subscription(
        admin, acme, {"sales-cloud": 1}, term_months=1, billing_period=BillingPeriod.MONTHLY
    )
    ledger.void_invoice(STAFF_WITH_REASON, invoice_of(ledger, short).id)
    ledger.request_upgrade(admin, acme, Edition.PROFESSIONAL, "forecasting")
    case = ledger.open_support_case(admin, acme, "Upgrade", "When can we upgrade?").aggregate_id
    ledger.reply_to_support_case(staff, case, "Your account manager will call you.")

    lumen = open_account(ledger, staff, Edition.PROFESSIONAL, "EUR")
    monthly = ledger.start_subscription(
        admin, lumen, {"service-cloud": 2, "inbox": 2}, billing_period=BillingPeriod.MONTHLY
    )
    ledger.issue_credit_note(
        STAFF_WITH_REASON, invoice_of(ledger, monthly).id, Money.of("10.00", "EUR")
    )
    ledger.cancel_renewal(admin, monthly.aggregate_id)
    question = ledger.open_support_case(admin, lumen, "VAT", "Is VAT on our invoices?")
    ledger.close_support_case(staff, question.aggregate_id, "Yes, 19 %.")
    ledger.open_support_case(admin, lumen, "Dialer", "Can we try the Lightning Dialer?")
    return acme, lumen


def test_the_overview_and_every_document_equal_what_the_aggregates_say(
    read_side, ledger, staff, admin, clock
):
    acme, lumen = build_history(ledger, staff, admin, clock)

    read_side.runner.catch_up()

    counts = assert_read_models_match(read_side, ledger)
    assert counts == {"Account": 2, "Subscription": 3, "Invoice": 5, "SupportCase": 3}
    summary = query(read_side, overview.overview, acme)
    assert [(s["product_code"], s["held"], s["assigned"]) for s in summary["seats"]] == [
        ("sales-cloud", 9, 2)
    ]
    assert summary["account"]["identity_licenses"] == {"used": 1, "limit": 100}
    assert summary["next_renewal"]["starts_on"] == "2026-02-15"  # the one-month contract
    assert summary["open_invoices"] == 3  # the first part-paid, two prorated; one void
    assert query(read_side, overview.overview, lumen)["next_renewal"] is None
    assert query(read_side, overview.account, ledger.license(acme, "sales-cloud").id) is None


def test_catching_up_twice_applies_each_event_once(read_side, ledger, staff, admin, clock):
    build_history(ledger, staff, admin, clock)
    read_side.runner.catch_up()
    rows = all_rows(read_side)

    assert read_side.runner.catch_up() == 0
    assert all_rows(read_side) == rows

    account_id = open_account(ledger, staff)
    ledger.start_subscription(admin, account_id, {"service-cloud": 1})
    read_side.runner.catch_up()
    assert read_side.lag()["account_overview"] == 0
    assert_read_models_match(read_side, ledger)


def test_a_rebuild_gives_the_rows_it_replaces(read_side, ledger, staff, admin, clock):
    build_history(ledger, staff, admin, clock)
    read_side.runner.catch_up()
    before = all_rows(read_side)
    assert all(before.values())

    projection = read_side.projection("account_overview")
    read_side.runner.reset(projection)
    assert not any(all_rows(read_side).values())
    read_side.runner.catch_up()

    assert all_rows(read_side) == before


@pytest.mark.parametrize("capacity", [0, 1, 3])
def test_a_cache_smaller_than_the_book_gives_the_same_rows(
    read_side, ledger, staff, admin, clock, capacity
):
    """Aggregates the overview's cache no longer holds are loaded from the store (in a
    batch's prefetch, or one by one) and give the rows the cache would have."""
    build_history(ledger, staff, admin, clock)
    read_side.runner.catch_up()
    before = all_rows(read_side)

    projection = read_side.projection("account_overview")
    assert isinstance(projection, overview.AccountOverview)
    projection.folder.capacity = capacity
    read_side.runner.reset(projection)
    # Batches of three events: most aggregates' next event is in a later batch.
    small = ProjectionRunner(
        read_side.store,
        read_side.read_log,
        ledger.head_position,
        [projection],
        batch_size=3,
        catch_up_batch_size=3,
    )
    small.catch_up()

    assert all_rows(read_side) == before
    assert len(projection.folder) <= max(capacity, 3)


def test_upcoming_renewals_are_those_starting_within_the_window(read_side, ledger, staff, admin):
    acme = open_named(ledger, staff, "Acme", Edition.ESSENTIALS, "USD")
    lumen = open_named(ledger, staff, "Lumen", Edition.PROFESSIONAL, "EUR")
    northwind = open_named(ledger, staff, "Northwind", Edition.ENTERPRISE, "USD")
    monthly = {"term_months": 1, "billing_period": BillingPeriod.MONTHLY}
    soon_usd = ledger.start_subscription(admin, acme, {"sales-cloud": 5}, **monthly).aggregate_id
    ledger.start_subscription(admin, acme, {"sales-cloud": 1})  # renews next year
    soon_eur = ledger.start_subscription(admin, lumen, {"service-cloud": 2}, **monthly).aggregate_id
    ledger.start_subscription(admin, lumen, {"service-cloud": 1}, auto_renew=False, **monthly)
    cancelled = ledger.start_subscription(admin, northwind, {"sales-cloud": 1}, **monthly)
    ledger.cancel_renewal(admin, cancelled.aggregate_id)
    read_side.runner.catch_up()
    on = date(2026, 1, 10)

    due = query(read_side, upcoming_renewals, on, 30)

    assert [(r["subscription_id"], r["value"]) for r in due] == [
        (str(soon_usd), {"amount": "125.00", "currency": "USD"}),  # 5 x 25 USD a month
        (str(soon_eur), {"amount": "147.20", "currency": "EUR"}),  # 2 x 73.60 EUR a month
    ]
    assert due[0] | {"subscription_id": "", "account_id": ""} == {
        "subscription_id": "",
        "account_id": "",
        "account_name": "Acme",
        "edition": "Essentials",
        "currency": "USD",
        "billing_period": "monthly",
        "starts_on": "2026-02-05",
        "term_months": 1,
        "value": {"amount": "125.00", "currency": "USD"},
    }
    every = [s for a in (acme, lumen, northwind) for s in ledger.subscriptions_of(a)]
    assert {r["subscription_id"] for r in due} == {
        str(s.id)
        for s in every
        if s.is_active and s.renewal and on <= s.term.end <= on + timedelta(days=30)
    }
    assert query(read_side, upcoming_renewals, on, 25) == []
    assert query(read_side, upcoming_renewals, on, 26) == due  # 5 February is day 26
    assert query(read_side, upcoming_renewals, date(2026, 2, 6), 30) == []
    assert [r["subscription_id"] for r in query(read_side, upcoming_renewals, on, 400)] == [
        str(soon_usd),
        str(soon_eur),
        str(every[1].id),
    ]
    professional = query(read_side, upcoming_renewals, on, 30, Edition.PROFESSIONAL)
    assert [r["subscription_id"] for r in professional] == [str(soon_eur)]
    in_usd = query(read_side, upcoming_renewals, on, 30, None, "USD")
    assert [r["subscription_id"] for r in in_usd] == [str(soon_usd)]
    assert query(read_side, upcoming_renewals, on, 30, Edition.ENTERPRISE, "USD") == []


def open_named(ledger: Ledger, staff, name: str, edition: Edition, currency: str):
    country = {"USD": "US", "EUR": "DE"}[currency]
    receipt = ledger.open_account(staff, name, edition, currency, billing(country), administrator())
    return receipt.aggregate_id


def test_invoice_ageing_splits_open_balances_by_days_past_due(
    read_side, ledger, staff, admin, clock
):
    acme = open_account(ledger, staff)  # USD, no tax
    lumen = open_account(ledger, staff, Edition.PROFESSIONAL, "EUR")  # German VAT, 19%
    monthly = {"billing_period": BillingPeriod.MONTHLY}

    def buy(account_id, quantities, on: date) -> Invoice:
        clock.set(clock.now().replace(year=on.year, month=on.month, day=on.day))
        return invoice_of(
            ledger, ledger.start_subscription(admin, account_id, quantities, **monthly)
        )

    def pay(invoice: Invoice, amount: str) -> None:
        ledger.record_payment(admin, invoice.id, Money.of(amount, invoice.currency))

    for account_id in (acme, lumen):
        ledger.set_payment_method(admin, account_id, "pm_card")

    over_90 = buy(acme, {"sales-cloud": 4}, date(2026, 1, 5))  # 100.00, due 4 Feb
    days_61_90 = buy(acme, {"sales-cloud": 2}, date(2026, 2, 5))  # 50.00, due 7 March
    days_31_60 = buy(acme, {"sales-cloud": 3}, date(2026, 2, 20))  # 75.00, due 22 March
    eur_31_60 = buy(lumen, {"service-cloud": 1}, date(2026, 3, 10))  # 87.58 EUR, due 9 April
    days_1_30 = buy(acme, {"sales-cloud": 1}, date(2026, 4, 1))  # 25.00, due 1 May
    pay(days_1_30, "10.00")
    paid = buy(acme, {"data-storage": 2}, date(2026, 4, 15))  # 10.00, paid in full
    pay(paid, "10.00")
    eur_current = buy(lumen, {"service-cloud": 2}, date(2026, 5, 5))  # 175.17 EUR, due 4 June
    void = buy(acme, {"sales-cloud": 1}, date(2026, 5, 5))
    ledger.void_invoice(STAFF_WITH_REASON, void.id)
    read_side.runner.catch_up()
    assert [str(i.total) for i in (over_90, days_61_90, days_31_60, days_1_30, paid)] == [
        "100.00 USD",
        "50.00 USD",
        "75.00 USD",
        "25.00 USD",
        "10.00 USD",
    ]
    assert [str(i.total) for i in (eur_31_60, eur_current)] == ["87.58 EUR", "175.17 EUR"]

    def usd(amount):
        return {"amount": amount, "currency": "USD"}

    def eur(amount):
        return {"amount": amount, "currency": "EUR"}

    assert query(read_side, invoice_ageing, date(2026, 5, 10)) == [
        {
            "currency": "EUR",
            "open_invoices": 2,
            "open_balance": eur("262.75"),
            "current": eur("175.17"),
            "days_1_30": eur("0.00"),
            "days_31_60": eur("87.58"),  # 31 days
            "days_61_90": eur("0.00"),
            "over_90": eur("0.00"),
        },
        {
            "currency": "USD",
            "open_invoices": 4,
            "open_balance": usd("240.00"),
            "current": usd("0.00"),
            "days_1_30": usd("15.00"),  # 9 days, 10.00 of 25.00 paid
            "days_31_60": usd("75.00"),  # 49 days
            "days_61_90": usd("50.00"),  # 64 days
            "over_90": usd("100.00"),  # 95 days
        },
    ]
    open_usd = [i for i in ledger.invoices_of(acme) if i.status is InvoiceStatus.OPEN]
    assert sum(i.balance.amount for i in open_usd) == 240

    def eur_buckets(on: date) -> tuple[str, ...]:
        (row,) = query(read_side, invoice_ageing, on, "EUR")
        names = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90")
        return tuple(row[name]["amount"] for name in names)

    assert eur_buckets(date(2026, 5, 9)) == ("175.17", "87.58", "0.00", "0.00", "0.00")  # day 30
    assert eur_buckets(date(2026, 6, 4)) == ("175.17", "0.00", "87.58", "0.00", "0.00")  # due today
    assert eur_buckets(date(2026, 6, 5)) == ("0.00", "175.17", "87.58", "0.00", "0.00")
    assert eur_buckets(date(2026, 7, 9)) == ("0.00", "0.00", "175.17", "0.00", "87.58")  # 35, 91
    assert query(read_side, invoice_ageing, date(2026, 5, 10), "GBP") == []


def test_the_demo_history_projects_to_the_http_documents_of_its_aggregates(store: StoreSettings):
    ledger, summary = load_demo(
        lambda clock: Ledger(
            env=store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
    )
    side = ReadSide(store, ledger)
    try:
        side.runner.catch_up()
        assert assert_read_models_match(side, ledger) == {
            "Account": 2,
            "Subscription": 3,
            "Invoice": len(summary.invoices),
            "SupportCase": 2,
        }
        assert len(query(side, overview.support_cases_of, NORTHWIND)) == 1
    finally:
        side.stop()
        ledger.close()
