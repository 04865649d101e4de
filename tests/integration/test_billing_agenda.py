"""The billing agenda read model (projections/billing_agenda.py) on both stores: at every
step of a year of contracts, its rows are what scanning the log and loading each contract
finds (the billing run's source before it); the run catches it up itself, so a lagging or
stopped projection runner never makes it miss a step; a runner and the run applying it
in turns leave the rows a rebuild leaves."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from domain.catalog import Edition
from domain.invoice import Invoice
from domain.period import BillingPeriod, billing_periods
from domain.subscription import Subscription
from projections.billing_agenda import Contract, contracts_due, unsettled_due
from service.billing.run import BillingRun, Kind
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models
from service.reads.read_side import ReadSide
from tests.builders import open_account

ADMIN = CommandContext("jonas", "admin")
STAFF = CommandContext("staff-1", "billing_staff", reason="agreed with the customer")
FAR = date(9999, 1, 1)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def scanned(ledger: Ledger) -> tuple[dict[UUID, Contract], dict[UUID, date]]:
    """The oracle: the active contracts and unsettled invoices as the billing run found
    them before the read model (scans of the log by event type, each contract loaded)."""
    active: dict[UUID, None] = {}
    for event in ledger.events_of_types(
        Subscription.SubscriptionStarted,
        Subscription.SubscriptionExpired,
        Subscription.SubscriptionCancelled,
    ):
        if isinstance(event, Subscription.SubscriptionStarted):
            active[event.originator_id] = None
        else:
            active.pop(event.originator_id, None)
    contracts = {}
    for sub_id in active:
        sub = ledger.subscription(sub_id)
        periods = billing_periods(sub.term, sub.billing_period)
        invoice_on = next(
            (p.start for p in periods if not ledger._exists(period_invoice_id(sub_id, p.start))),
            None,
        )
        contracts[sub_id] = Contract(
            sub_id,
            sub.term.start,
            sub.term.end,
            sub.billing_period,
            sub.reminded_for,
            sub.renewal is not None,
            invoice_on,
        )
    due: dict[UUID, date] = {}
    for event in ledger.events_of_types(
        Invoice.InvoiceIssued, Invoice.InvoicePaid, Invoice.InvoiceVoided, Invoice.InvoiceOverdue
    ):
        if isinstance(event, Invoice.InvoiceIssued):
            due[event.originator_id] = event.due_on
        else:
            due.pop(event.originator_id, None)
    return contracts, due


def agenda(ledger: Ledger) -> tuple[dict[UUID, Contract], dict[UUID, date]]:
    with own_read_models(ledger).agenda.reading() as sql:
        contracts = {c.subscription_id: c for c in contracts_due(sql, FAR, 0)}
        return contracts, dict(unsettled_due(sql, FAR))


def test_the_agenda_is_what_scanning_the_log_finds_at_every_step(ledger, clock):
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
    ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
    annual = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 3}).aggregate_id
    monthly = ledger.start_subscription(
        ADMIN, account_id, {"inbox": 2}, term_months=3, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    ledger.schedule_renewal(ADMIN, monthly, term_months=2)
    short = ledger.start_subscription(
        ADMIN, account_id, {"inbox": 1}, term_months=2, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    billing = BillingRun(ledger, reminder_days=30)
    assert agenda(ledger) == scanned(ledger)
    day, kinds = date(2026, 1, 6), set()
    while day <= date(2027, 2, 1):
        clock.set(at(day, 2))
        kinds |= {a.kind for a in billing.run().actions}
        clock.set(at(day))
        if day == date(2026, 1, 20):
            (first,) = [i for i in ledger.invoices_of(account_id) if i.subscription_id == annual]
            ledger.record_payment(ADMIN, first.id, first.balance)
        elif day == date(2026, 2, 10):
            ledger.cancel_subscription(STAFF, short)
        elif day == date(2026, 3, 1):
            ledger.add_licenses(ADMIN, annual, "sales-cloud", 2)  # a prorated invoice
            ledger.cancel_renewal(ADMIN, monthly)
        elif day == date(2026, 3, 2):
            ledger.schedule_renewal(ADMIN, monthly, term_months=1)
        elif day == date(2026, 6, 1):
            voided = next(i for i in ledger.invoices_of(account_id) if i.status.value == "open")
            ledger.void_invoice(STAFF, voided.id)
        elif day == date(2026, 11, 1):
            ledger.cancel_renewal(ADMIN, annual)  # it expires on 5 January
        if day.day in (1, 5, 6, 10, 20):
            assert agenda(ledger) == scanned(ledger), day
        day += timedelta(days=1)
    assert kinds == set(Kind)  # invoices, reminders, a renewal, an expiry, overdue marks
    assert agenda(ledger) == scanned(ledger)


def test_the_run_catches_the_agenda_up_whatever_the_runner_has_applied(store, ledger, clock):
    """The read side's runner has applied part of the log when the run starts; it never
    runs after. The run does every step, once, and the agenda is what a rebuild makes."""
    side = ReadSide(store, ledger)
    try:
        account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
        sub_id = ledger.start_subscription(
            ADMIN, account_id, {"inbox": 2}, billing_period=BillingPeriod.MONTHLY
        ).aggregate_id
        side.runner.catch_up()  # the contract's start is applied; what follows is not
        clock.set(at(date(2026, 3, 5)))
        ledger.add_licenses(ADMIN, sub_id, "inbox", 1)
        report = BillingRun(ledger, reminder_days=0).run()
        assert [(a.day, a.kind) for a in report.actions] == [
            (date(2026, 2, 5), Kind.INVOICE),
            (date(2026, 2, 5), Kind.OVERDUE),  # January's, due 4 February
            (date(2026, 3, 5), Kind.INVOICE),
        ]
        assert not BillingRun(ledger, reminder_days=0).run().actions
        side.runner.catch_up()  # the runner finds the run applied its batches: it skips them
        assert agenda(ledger) == scanned(ledger)
        side.runner.reset(side.projection("billing_agenda"))
        side.runner.catch_up()  # rebuilt from nothing, by the runner alone
        assert agenda(ledger) == scanned(ledger)
    finally:
        side.stop()
