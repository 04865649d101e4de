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
from projections.billing_agenda import BillingAgenda, Contract, contracts_due, unsettled_due
from projections.projection import LoggedEvent
from projections.store import ReadStore, sqlite_connector
from service.billing.run import BillingRun, Kind
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models, read_log
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


def test_periods_invoiced_out_of_order_are_kept_ahead_until_the_gap_is_invoiced(ledger, clock):
    """``invoice_on`` follows the period invoices in the log: one issued past it is kept
    ahead, so that invoicing the gap moves ``invoice_on`` over both."""
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"inbox": 2}, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    starts = [
        p.start for p in billing_periods(ledger.subscription(sub_id).term, BillingPeriod.MONTHLY)
    ]
    clock.set(at(starts[3]))

    def row() -> Contract:
        contracts, _ = agenda(ledger)
        assert contracts == scanned(ledger)[0]
        return contracts[sub_id]

    assert (row().invoice_on, row().ahead) == (starts[1], ())
    ledger.invoice_billing_period(ADMIN, sub_id, starts[2])
    ledger.invoice_billing_period(ADMIN, sub_id, starts[3])
    assert (row().invoice_on, row().ahead) == (starts[1], (starts[2], starts[3]))
    ledger.invoice_billing_period(ADMIN, sub_id, starts[1])
    assert (row().invoice_on, row().ahead) == (starts[4], ())
    ledger.void_invoice(STAFF, period_invoice_id(sub_id, starts[1]))  # still issued
    assert (row().invoice_on, row().ahead) == (starts[4], ())


def _applied(ledger: Ledger, *batches: list[LoggedEvent]) -> dict[UUID, Contract]:
    """The agenda's contracts after a fresh projection applies these batches."""
    projection = BillingAgenda(period_invoice_id)
    store = ReadStore(sqlite_connector(":memory:"), "sqlite")
    with store.transaction() as sql:
        projection.create(sql)
        for batch in batches:
            projection.apply_batch(sql, batch)
        return {c.subscription_id: c for c in contracts_due(sql, FAR, 0)}


def _first_period_invoice_first(log: list[LoggedEvent], topic: type) -> list[LoggedEvent]:
    """The log with the period invoice issued by the command of its first ``topic`` event
    moved before that event: an order the ledger never writes."""
    at_ = next(i for i, e in enumerate(log) if isinstance(e.event, topic))
    sub_id = log[at_].event.originator_id
    invoice = next(
        j
        for j in range(at_ + 1, len(log))
        if isinstance(log[j].event, Invoice.InvoiceIssued)
        and log[j].event.subscription_id == sub_id
    )
    return [*log[:at_], log[invoice], *log[at_:invoice], *log[invoice + 1 :]]


def test_a_renewal_seen_after_its_first_invoice_still_skips_that_period(ledger, clock):
    """The invoice of a new term's first period, were it logged before the renewal (or in
    the batch before), is kept ahead of the old term and counted once the term begins."""
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"inbox": 2}, term_months=2, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    ledger.schedule_renewal(ADMIN, sub_id, term_months=2)
    clock.set(at(date(2026, 3, 6)))
    BillingRun(ledger, reminder_days=0).run()
    assert ledger.subscription(sub_id).terms_served == 2  # renewed once
    log = list(read_log(ledger, 0, 10_000))
    truth = scanned(ledger)[0]
    assert truth[sub_id].invoice_on == date(2026, 4, 5)  # the new term's second period
    assert _applied(ledger, log) == truth
    reordered = _first_period_invoice_first(log, Subscription.SubscriptionRenewed)
    assert reordered != log
    assert _applied(ledger, reordered) == truth
    cut = next(
        i for i, e in enumerate(reordered) if isinstance(e.event, Subscription.SubscriptionRenewed)
    )
    assert _applied(ledger, reordered[:cut], reordered[cut:]) == truth


def test_an_invoice_seen_before_its_contract_leaves_invoice_on_early_never_late(ledger):
    """The ledger logs a contract's start before its first invoice; in the other order
    the invoice is missed, and the row says less is invoiced than is: never more."""
    account_id = open_account(ledger, STAFF, Edition.PROFESSIONAL, "EUR")
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"inbox": 2}, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    log = list(read_log(ledger, 0, 10_000))
    truth = scanned(ledger)[0][sub_id]
    reordered = _first_period_invoice_first(log, Subscription.SubscriptionStarted)
    (row,) = _applied(ledger, reordered).values()
    assert row.invoice_on is not None and truth.invoice_on is not None
    assert row.invoice_on == truth.term_start < truth.invoice_on
