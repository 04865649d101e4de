"""Point-in-time answers equal a fresh replay of the events up to that instant (ADR 0004).

Random histories are driven through the Ledger with a controllable clock: accounts open,
contracts start (today, later, or backdated by staff), seats and products are added
(today, later, or backdated), renewals are scheduled, changed and cancelled, the clock
moves, due contracts renew or expire, periods are invoiced, invoices are paid, credited
or voided. Then, for random instants K and days E, every answer (each aggregate through
``aggregate_at`` and the book through ``book_report``) is compared with an oracle that
reads every stored event, keeps those recorded at or before K, and folds them with the
rule of the ADR, written out again here rather than imported.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import EventStore, IntegrityError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import Account, User
from domain.base import LedgerAggregate
from domain.catalog import Edition
from domain.errors import DomainError, NotFound
from domain.invoice import Invoice, InvoiceStatus
from domain.invoice_series import InvoiceSeries
from domain.license import License
from domain.money import MINOR_UNITS, Money, round_half_up
from domain.period import BillingPeriod, billing_periods
from domain.subscription import Subscription, SubscriptionStatus
from projections import book as book_module
from projections.audit_trail import recorded
from projections.book import (
    BOOKED,
    NO_BOOK_FACTS,
    TABLES,
    TOTALS,
    Book,
    Row,
    Timeline,
    _before,
    _each_day,
    _merged,
    _open_balance,
    _rows,
    book_report,
    book_report_scanned,
    facts,
    fill_totals,
)
from projections.documents import invoice_document, minor_units
from projections.in_force import (
    _builds_on,
    created,
    days_of,
    fold_in_force,
    in_force_on,
    recorded_day,
)
from projections.point_in_time import timeline
from projections.projection import LoggedEvent
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.ledger.application import Ledger
from service.ledger.context import SYSTEM, CommandContext
from service.reads.point_in_time import account_at, account_at_by_folding, aggregate_at
from service.reads.read_side import ReadSide
from tests.builders import billing, open_account
from tests.conftest import FreshSchema

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff", reason="correction agreed with the customer")
PRODUCTS = ("sales-cloud", "service-cloud", "data-storage")
METHOD = "pm_card_visa"


class SnappyLedger(Ledger):
    """Snapshots every other version, so point-in-time reads start from snapshots."""

    name = "subledger"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Account: 2,
        Subscription: 2,
        License: 2,
        Invoice: 2,
    }


# -- the oracle: the rule of ADR 0004, written out again ------------------------------------


def takes_effect(event: Any) -> date:
    """The first day an event is in force: creation always; renewal-plan events when
    recorded; else the effective date it carries, or the day it was recorded."""
    if event.originator_version == 1:
        return date.min
    recorded_day = event.timestamp.astimezone(UTC).date()
    if type(event).__name__ in ("RenewalScheduled", "RenewalChanged", "RenewalCancelled"):
        return recorded_day
    for name in ("effective_at", "term_start", "due_on"):
        if isinstance(getattr(event, name, None), date):
            return getattr(event, name)  # type: ignore[no-any-return]
    return recorded_day


def takes_effect_in(history: list[Any]) -> Iterator[tuple[Any, date]]:
    """Each event with its first day in force: a change takes effect no earlier than the
    latest earlier addition it builds on (a line's ProductAdded, a holding's LicenseAdded)."""
    latest: dict[tuple[str, Any], date] = {}
    for event in history:
        day = takes_effect(event)
        name = type(event).__name__
        if name == "ProductAdded":
            latest[("line", event.line.line_id)] = day
        elif name == "LicenseAdded":
            latest[("holding", event.subscription_id)] = day
        elif name == "LineQuantityIncreased":
            day = max(day, latest.get(("line", event.line_id), day))
        elif name == "LicenseRemoved":
            day = max(day, latest.get(("holding", event.subscription_id), day))
        yield event, day


@dataclass
class Replay:
    aggregate: Any
    version: int
    deferred: list[int]


def replay(events: list[Any], aggregate_id: UUID, as_of: datetime, on: date) -> Replay | None:
    known = [e for e in events if e.originator_id == aggregate_id and e.timestamp <= as_of]
    if not known:
        return None
    aggregate = None
    deferred = []
    for event, day in takes_effect_in(known):
        if aggregate is None:
            aggregate = event.mutate(None)
        elif day <= on:
            event.apply(aggregate)
            aggregate.version = event.originator_version
            aggregate.modified_on = event.timestamp
        else:
            deferred.append(event.originator_version)
    return Replay(aggregate, known[-1].originator_version, deferred)


def oracle_in_force(aggregate: Any, on: date) -> bool:
    if isinstance(aggregate, Subscription):
        return aggregate.status is SubscriptionStatus.ACTIVE and aggregate.term.start <= on
    if isinstance(aggregate, Invoice):
        return aggregate.issued_on <= on
    if isinstance(aggregate, License):
        return sum(aggregate.held_by_contract.values()) > 0
    if isinstance(aggregate, InvoiceSeries):  # numbering bookkeeping: no business date
        return True
    assert isinstance(aggregate, Account)
    return aggregate.created_on.date() <= on


def units(amount: Money) -> int:
    return int(amount.amount.scaleb(MINOR_UNITS[amount.currency]))


def oracle_book(events: list[Any], as_of: datetime, on: date) -> dict[str, Any]:
    contracts: Counter[str] = Counter()
    seats: Counter[str] = Counter()
    yearly: dict[str, Fraction] = defaultdict(Fraction)
    balance: Counter[str] = Counter()
    open_invoices: Counter[str] = Counter()
    for aggregate_id in dict.fromkeys(e.originator_id for e in events):
        found = replay(events, aggregate_id, as_of, on)
        if found is None or not oracle_in_force(found.aggregate, on):
            continue
        agg = found.aggregate
        if isinstance(agg, Subscription):
            contracts[agg.currency] += 1
            for line in agg.lines.values():
                yearly[agg.currency] += Fraction(line.amount.amount) * (
                    12 // agg.billing_period.months
                )
        elif isinstance(agg, License):
            seats[agg.product_code] += sum(agg.held_by_contract.values())
        elif isinstance(agg, Invoice) and agg.balance.amount > 0:
            balance[agg.currency] += units(agg.balance)
            open_invoices[agg.currency] += 1
    return {
        "active_contracts": dict(contracts),
        "seats_held": dict(seats),
        "monthly_recurring_revenue": {
            currency: units(Money(round_half_up(total / 12, currency), currency))
            for currency, total in yearly.items()
        },
        "open_balance": dict(balance),
        "open_invoices": dict(open_invoices),
    }


# -- a store of its own per example ----------------------------------------------------------


@dataclass
class World:
    ledger: Ledger
    side: ReadSide
    clock: ControllableClock
    runner: ProjectionRunner
    accounts: list[UUID] = field(default_factory=list)
    subscriptions: list[UUID] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.clock.now().date()


@contextmanager
def world_on(kind: str, folder: Path) -> Iterator[World]:
    if kind == "sqlite":
        settings = StoreSettings(sqlite_path=str(folder / f"{uuid4().hex}.db"))
        schema = None
    else:
        schema = FreshSchema()
        settings = schema.settings
    settings.prepare()
    clock = ControllableClock(T0)
    ledger = SnappyLedger(
        env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    side = ReadSide(settings, ledger)
    # The account overview: account_at reads its invoices' documents there (ADR 0030).
    mine = [side.projection(name) for name in ("audit_trail", "book", "account_overview")]
    runner = ProjectionRunner(side.store, side.read_log, ledger.head_position, mine)
    try:
        yield World(ledger, side, clock, runner)
    finally:
        side.stop()
        ledger.close()
        if schema is not None:
            schema.drop()


# -- random histories ------------------------------------------------------------------------


KINDS = ["advance", "add", "start", "due", "pay", "add", "advance", "schedule", "bill", "start"]
KINDS += ["add_product", "advance", "cancel_renewal", "due", "pay", "credit", "void", "cancel"]
KINDS += ["open", "billing", "user"]


def history(world: World, data: st.DataObject) -> None:
    """A prologue that always opens an account with a contract, then random steps."""
    for kind in ("open", "start"):
        ACTIONS[kind](world, data)
    for _ in range(data.draw(st.integers(30, 60))):
        step(world, data.draw(st.sampled_from(KINDS)), data)


def step(world: World, kind: str, data: st.DataObject) -> None:
    with contextlib.suppress(DomainError):  # a refused command writes nothing: go on
        ACTIONS[kind](world, data)


def _open(world: World, data: st.DataObject) -> None:
    currency = data.draw(st.sampled_from(["USD", "EUR"]))
    edition = data.draw(st.sampled_from([Edition.ESSENTIALS, Edition.PROFESSIONAL]))
    account_id = open_account(world.ledger, STAFF, edition, currency)
    world.accounts.append(account_id)
    if data.draw(st.booleans()):
        world.ledger.set_payment_method(ADMIN, account_id, METHOD)


def _start(world: World, data: st.DataObject) -> None:
    account_id = data.draw(st.sampled_from(world.accounts))
    quantities = data.draw(
        st.dictionaries(st.sampled_from(PRODUCTS), st.integers(1, 5), min_size=1, max_size=2)
    )
    offset = data.draw(st.sampled_from([0, 0, 0, 9, 25, -4, -20]))
    start = world.today + timedelta(days=offset)
    receipt = world.ledger.start_subscription(
        STAFF if offset < 0 else ADMIN,
        account_id,
        quantities,
        term_months=data.draw(st.sampled_from([1, 2, 12])),
        billing_period=data.draw(st.sampled_from(list(BillingPeriod))),
        term_start=start,
        auto_renew=data.draw(st.booleans()),
    )
    world.subscriptions.append(receipt.aggregate_id)


def _a_contract(world: World, data: st.DataObject) -> Subscription:
    if not world.subscriptions:
        raise NotFound("no contract yet")
    return world.ledger.subscription(data.draw(st.sampled_from(world.subscriptions)))


def _add(world: World, data: st.DataObject) -> None:
    sub = _a_contract(world, data)
    product = data.draw(st.sampled_from(sorted(line.product_code for line in sub.lines.values())))
    on = world.today + timedelta(days=data.draw(st.sampled_from([0, 0, 6, 15, -3, -12])))
    ctx = STAFF if on < world.today else ADMIN
    world.ledger.add_licenses(ctx, sub.id, product, data.draw(st.integers(1, 3)), on)


def _add_product(world: World, data: st.DataObject) -> None:
    sub = _a_contract(world, data)
    product = data.draw(st.sampled_from([*PRODUCTS, "file-storage"]))
    on = world.today + timedelta(days=data.draw(st.sampled_from([0, 4, 11])))
    world.ledger.add_product(ADMIN, sub.id, product, data.draw(st.integers(1, 3)), on)


def _schedule(world: World, data: st.DataObject) -> None:
    sub = _a_contract(world, data)
    quantities = data.draw(
        st.none()
        | st.fixed_dictionaries(
            {line.product_code: st.integers(0, 4) for line in sub.lines.values()}
        )
    )
    months = data.draw(st.sampled_from([1, 12]))
    world.ledger.schedule_renewal(ADMIN, sub.id, months, quantities)


def _cancel_renewal(world: World, data: st.DataObject) -> None:
    world.ledger.cancel_renewal(ADMIN, _a_contract(world, data).id)


def _cancel(world: World, data: st.DataObject) -> None:
    sub = _a_contract(world, data)
    on = world.today + timedelta(days=data.draw(st.integers(-8, 12)))
    world.ledger.cancel_subscription(STAFF, sub.id, on)


def _advance(world: World, data: st.DataObject) -> None:
    days = data.draw(st.integers(1, 40))
    world.clock.advance(timedelta(days=days, hours=data.draw(st.integers(0, 23))))


def _due(world: World, data: st.DataObject) -> None:
    for sub_id in world.subscriptions:
        sub = world.ledger.subscription(sub_id)
        if not sub.is_active or sub.term.end > world.today:
            continue
        if sub.renewal is not None:
            world.ledger.renew(SYSTEM, sub_id)
        else:
            world.ledger.expire(SYSTEM, sub_id)


def _bill(world: World, data: st.DataObject) -> None:
    for sub_id in world.subscriptions:
        sub = world.ledger.subscription(sub_id)
        if sub.is_active:
            for period in billing_periods(sub.term, sub.billing_period):
                if period.start <= world.today:
                    world.ledger.invoice_billing_period(SYSTEM, sub_id, period.start)


def _an_invoice(world: World, data: st.DataObject) -> Invoice:
    invoices = [i for a in world.accounts for i in world.ledger.invoices_of(a)]
    if not invoices:
        raise NotFound("no invoice yet")
    return invoices[data.draw(st.integers(0, len(invoices) - 1))]


def _pay(world: World, data: st.DataObject) -> None:
    invoice = _an_invoice(world, data)
    if invoice.status is not InvoiceStatus.OPEN:
        return
    share = data.draw(st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(1, 3)]))
    amount = invoice.balance.times(share)
    world.ledger.record_payment(ADMIN, invoice.id, amount, METHOD)


def _credit(world: World, data: st.DataObject) -> None:
    invoice = _an_invoice(world, data)
    share = data.draw(st.sampled_from([Fraction(1), Fraction(1, 4)]))
    amount = (invoice.total - invoice.credited).times(share)
    world.ledger.issue_credit_note(STAFF, invoice.id, amount)


def _void(world: World, data: st.DataObject) -> None:
    world.ledger.void_invoice(STAFF, _an_invoice(world, data).id)


def _billing(world: World, data: st.DataObject) -> None:
    account_id = data.draw(st.sampled_from(world.accounts))
    country = data.draw(st.sampled_from(["US", "DE", "GB"]))
    legal_name = data.draw(st.sampled_from(["Acme Corp", "Acme Holdings"]))
    world.ledger.change_billing_details(ADMIN, account_id, billing(country, legal_name))


def _user(world: World, data: st.DataObject) -> None:
    account_id = data.draw(st.sampled_from(world.accounts))
    user_id = f"u{data.draw(st.integers(1, 5))}"
    user = User(user_id, "A User", f"{user_id}@acme.example")
    world.ledger.add_user(ADMIN, account_id, user)


ACTIONS = {
    "open": _open,
    "start": _start,
    "add": _add,
    "add_product": _add_product,
    "schedule": _schedule,
    "cancel_renewal": _cancel_renewal,
    "cancel": _cancel,
    "advance": _advance,
    "due": _due,
    "bill": _bill,
    "pay": _pay,
    "credit": _credit,
    "void": _void,
    "billing": _billing,
    "user": _user,
}


# -- the comparison --------------------------------------------------------------------------


def stored_events(ledger: Ledger) -> list[Any]:
    notifications = ledger.recorder.select_notifications(1, 1_000_000)
    return [ledger.mapper.to_domain_event(n) for n in notifications]


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def instants(data: st.DataObject, events: list[Any]) -> list[tuple[datetime, date | None]]:
    times = sorted({e.timestamp for e in events})
    days = sorted(
        {d for e in events for d in (e.timestamp.date(), takes_effect(e)) if d != date.min}
        | {d + timedelta(days=1) for e in events if (d := takes_effect(e)) != date.min}
        | {d - timedelta(days=1) for e in events if (d := takes_effect(e)) != date.min}
    )
    moment = (
        st.sampled_from(times)
        | st.sampled_from(times).map(lambda t: t - timedelta(microseconds=1))
        | st.datetimes(
            min_value=(times[0] - timedelta(days=2)).replace(tzinfo=None),
            max_value=(times[-1] + timedelta(days=2)).replace(tzinfo=None),
            timezones=st.just(UTC),
        )
    )
    day = st.none() | st.sampled_from(days) | st.dates(days[0] - timedelta(days=30), days[-1])
    return data.draw(st.lists(st.tuples(moment, day), min_size=4, max_size=4))


def check_instant(world: World, events: list[Any], as_of: datetime, on: date | None) -> None:
    day = on or as_of.astimezone(UTC).date()
    with world.side.readers.transaction() as sql:
        report = book_report(sql, as_of, on)
        assert book_report_scanned(sql, as_of, on) == report, (as_of, on)
        for aggregate_id in dict.fromkeys(e.originator_id for e in events):
            expected = replay(events, aggregate_id, as_of, day)
            if expected is None:
                with pytest.raises(NotFound):
                    aggregate_at(world.ledger, sql, aggregate_id, as_of, on)
                continue
            found = aggregate_at(world.ledger, sql, aggregate_id, as_of, on)
            assert state(found.aggregate) == state(expected.aggregate), (aggregate_id, as_of, on)
            assert found.version == expected.version
            assert [e.originator_version for e in found.deferred] == expected.deferred
            assert found.in_force == oracle_in_force(expected.aggregate, day)
        for account_id in world.accounts:
            check_account_at(world, sql, account_id, as_of, on)
    actual = {
        "active_contracts": report.active_contracts,
        "seats_held": report.seats_held,
        "monthly_recurring_revenue": report.monthly_recurring_revenue,
        "open_balance": report.open_balance,
        "open_invoices": report.open_invoices,
    }
    assert actual == oracle_book(events, as_of, day), (as_of, on)


def check_account_at(
    world: World, sql: Sql, account_id: UUID, as_of: datetime, on: date | None
) -> None:
    """``account_at`` (all the account's aggregates in a few queries, the invoices from
    the overview's documents of every version) answers what ``aggregate_at`` answers for
    each of them (checked against a replay above), and what the fold of every aggregate,
    ``account_at_by_folding``, answers."""
    try:
        whole = account_at(world.ledger, sql, account_id, as_of, on)
    except NotFound:
        with pytest.raises(NotFound):
            aggregate_at(world.ledger, sql, account_id, as_of, on)
        with pytest.raises(NotFound):
            account_at_by_folding(world.ledger, sql, account_id, as_of, on)
        return
    folded = account_at_by_folding(world.ledger, sql, account_id, as_of, on)
    for found in [whole.account, *whole.subscriptions, *whole.licenses, *whole.invoices]:
        alone = aggregate_at(world.ledger, sql, found.aggregate.id, as_of, on)
        assert state(found.aggregate) == state(alone.aggregate), (found.aggregate.id, as_of, on)
        assert (found.version, found.in_force, found.effective) == (
            alone.version,
            alone.in_force,
            alone.effective,
        )
        assert [e.originator_version for e in found.deferred] == [
            e.originator_version for e in alone.deferred
        ]
    assert len(whole.invoices) == len(folded.invoices)
    for found, reference in zip(whole.invoices, folded.invoices, strict=True):
        # The stored document is the fold's, and so are the figures the views show.
        assert found.document == invoice_document(reference.aggregate), (found.id, as_of, on)
        assert found.document == reference.document
        figures = ("id", "number", "currency", "status", "issued_on", "due_on")
        money = ("total", "paid", "credited", "balance")
        assert [getattr(found, n) for n in figures] == [
            getattr(reference.aggregate, n) for n in figures
        ]
        assert [getattr(found, n) for n in money] == [
            getattr(reference.aggregate, n) for n in money
        ]
        assert (found.version, found.in_force, found.effective) == (
            reference.version,
            reference.in_force,
            reference.effective,
        )
        assert [e.originator_version for e in found.deferred] == [
            e.originator_version for e in reference.deferred
        ]
    listed = [*whole.subscriptions, *whole.licenses, *whole.invoices]
    assert sorted(p.aggregate.id for p in listed) == sorted(known_ids(sql, account_id, as_of))


def known_ids(sql: Sql, account_id: UUID, as_of: datetime) -> list[UUID]:
    """The account's contracts, seats and invoices created by ``as_of``, from the trail."""
    return [
        UUID(row[0])
        for row in sql.execute(
            "SELECT aggregate_id FROM audit_events WHERE account_id = ? AND aggregate_version = 1"
            " AND recorded_at <= ? AND aggregate_type IN ('Subscription', 'License', 'Invoice')",
            (str(account_id), recorded(as_of)),
        ).fetchall()
    ]


def check_timelines(world: World, events: list[Any]) -> None:
    """The audit trail's SQL spelling of the rule agrees with the Python one."""
    by_position = dict(enumerate(events, start=1))
    with world.side.readers.transaction() as sql:
        for account_id in world.accounts:
            for entry in timeline(sql, account_id, world.clock.now()):
                day = in_force_on(by_position[entry.position])
                assert entry.in_force_on == (day.isoformat() if day else None)


def book_rows(world: World) -> dict[str, list[Any]]:
    with world.side.readers.transaction() as sql:
        return {
            # Every column decides the order: the first few do not make a row unique.
            table: sorted(map(tuple, sql.execute(f"SELECT * FROM {table}").fetchall()), key=repr)
            for table in world.side.projection("book").tables
        }


def check_rebuild(world: World) -> None:
    """The book rebuilt from position 0, its caches cold, has the same rows."""
    before = book_rows(world)
    world.runner.reset(world.side.projection("book"))
    world.runner.catch_up()
    assert book_rows(world) == before


def test_every_point_in_time_answer_equals_a_fresh_replay(
    store: StoreSettings, tmp_path: Path
) -> None:
    kind = "postgres" if store.postgres else "sqlite"  # each example gets a store of its own
    started = time.perf_counter()

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def history_then_instants(data: st.DataObject) -> None:
        with world_on(kind, tmp_path) as world:
            history(world, data)
            world.runner.catch_up()
            events = stored_events(world.ledger)
            for as_of, on in instants(data, events):
                check_instant(world, events, as_of, on)
            check_timelines(world, events)
            check_rebuild(world)

    history_then_instants()
    print(f"\npoint in time on {kind}: {time.perf_counter() - started:.1f} s")


# -- worked examples (ADR 0004) --------------------------------------------------------------


@pytest.fixture
def world(store: StoreSettings, tmp_path: Path) -> Iterator[World]:
    with world_on("postgres" if store.postgres else "sqlite", tmp_path) as made:
        yield made


def test_what_the_ledger_said_on_5_april_about_31_march(world: World) -> None:
    ledger, clock = world.ledger, world.clock
    clock.set(datetime(2026, 3, 2, 9, tzinfo=UTC))
    account_id = open_account(ledger, STAFF)
    sub_id = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 5, date(2026, 4, 1))  # later
    clock.set(datetime(2026, 4, 3, 9, tzinfo=UTC))
    ledger.add_licenses(STAFF, sub_id, "sales-cloud", 2, date(2026, 3, 25))  # backdated
    world.runner.catch_up()

    def seats(as_of: datetime, on: date | None) -> int:
        with world.side.readers.transaction() as sql:
            found = aggregate_at(ledger, sql, sub_id, as_of, on, Subscription)
            assert book_report(sql, as_of, on).seats_held["sales-cloud"] == (
                found.aggregate.lines["sales-cloud"].quantity
            )
            return found.aggregate.lines["sales-cloud"].quantity

    april_5 = datetime(2026, 4, 5, 23, 59, tzinfo=UTC)
    march_31 = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert seats(april_5, date(2026, 3, 31)) == 12  # the backdated two, not the April five
    assert seats(march_31, None) == 10  # on 31 March the ledger did not know of the two yet
    assert seats(march_31, date(2026, 4, 1)) == 15  # ... but knew of the five from April
    assert seats(april_5, None) == 17


def test_a_scheduled_renewal_is_in_the_plan_from_the_day_it_is_recorded(world: World) -> None:
    ledger, clock = world.ledger, world.clock
    account_id = open_account(world.ledger, STAFF)
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"sales-cloud": 3}, term_months=1, auto_renew=False
    ).aggregate_id
    clock.advance(timedelta(days=3))
    ledger.schedule_renewal(ADMIN, sub_id, 12, {"sales-cloud": 4})
    world.runner.catch_up()

    with world.side.readers.transaction() as sql:
        before = aggregate_at(ledger, sql, sub_id, clock.now(), T0.date(), Subscription)
        after = aggregate_at(ledger, sql, sub_id, clock.now(), None, Subscription)
        history = timeline(sql, account_id, clock.now())
    assert before.aggregate.renewal is None
    assert [type(e).__name__ for e in before.deferred] == ["RenewalScheduled"]
    assert after.aggregate.renewal is not None
    assert after.aggregate.renewal.lines[0].quantity == 4
    # The history shows what the plan is about (the next term's first day) as its
    # effective date; it is in force from the day it was recorded (ADR 0004, rule 2).
    (scheduled,) = [e for e in history if e.event_type == "Subscription.RenewalScheduled"]
    assert (scheduled.effective_on, scheduled.in_force_on) == ("2026-02-05", "2026-01-08")


def test_the_account_view_has_its_contracts_seats_and_invoices_then(world: World) -> None:
    ledger, clock = world.ledger, world.clock
    account_id = open_account(world.ledger, STAFF)
    ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 2})
    first = clock.now()
    clock.advance(timedelta(days=2))
    ledger.start_subscription(ADMIN, account_id, {"service-cloud": 1})
    world.runner.catch_up()

    with world.side.readers.transaction() as sql:
        then = account_at(ledger, sql, account_id, first)
        now = account_at(ledger, sql, account_id, clock.now())
        with pytest.raises(NotFound):
            account_at(ledger, sql, account_id, T0 - timedelta(seconds=1))
    assert (len(then.subscriptions), len(then.licenses), len(then.invoices)) == (1, 1, 1)
    assert (len(now.subscriptions), len(now.licenses), len(now.invoices)) == (2, 2, 2)
    assert then.account.version == 1


def test_the_account_view_reads_invoices_from_the_overview_and_folds_them_without_it(
    world: World,
) -> None:
    """Caught up, the overview answers every invoice whose events are all in force; an
    invoice paid on a later day is folded for a day before it; with the overview emptied
    (rebuilding from 0), every invoice is folded, and the answers do not change."""
    ledger, clock = world.ledger, world.clock
    account_id = open_account(ledger, STAFF)
    sub_id = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 2}).aggregate_id
    for _ in range(3):
        clock.advance(timedelta(days=3))
        ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 1)
    paid = ledger.invoices_of(account_id)[1]
    ledger.set_payment_method(ADMIN, account_id, METHOD)
    ledger.record_payment(ADMIN, paid.id, paid.balance, METHOD)
    world.runner.catch_up()
    before_payment = clock.now().date() - timedelta(days=1)

    def views(on: date | None) -> list[tuple[Any, ...]]:
        with world.side.readers.transaction() as sql:
            whole = account_at(ledger, sql, account_id, clock.now(), on)
        return [
            (i.id, i.version, i.in_force, i.stored is not None, i.document, i.balance)
            for i in whole.invoices
        ]

    today, earlier = views(None), views(before_payment)
    assert len(today) == 4
    assert all(stored for _, _, _, stored, _, _ in today)
    assert [(i, stored) for i, _, _, stored, _, _ in earlier if not stored] == [(paid.id, False)]
    world.runner.reset(world.side.projection("account_overview"))
    emptied = views(None)
    assert not any(stored for _, _, _, stored, _, _ in emptied)
    assert [v[:3] + v[4:] for v in emptied] == [v[:3] + v[4:] for v in today]
    world.runner.catch_up()
    assert views(None) == today and views(before_payment) == earlier


def test_snapshots_restore_exactly_the_replayed_state(world: World) -> None:
    """Every version of every aggregate, read through a snapshot taken at it, equals the
    fold of its events: snapshot state round-trips through the store's transcoder."""
    ledger, clock = world.ledger, world.clock
    account_id = open_account(ledger, STAFF)
    ledger.set_payment_method(ADMIN, account_id, METHOD)
    sub_id = ledger.start_subscription(
        ADMIN, account_id, {"sales-cloud": 2, "data-storage": 1}, term_months=1
    ).aggregate_id
    ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 1)
    ledger.add_user(ADMIN, account_id, User("bo", "Bo", "bo@acme.example"))
    clock.advance(timedelta(days=31))
    ledger.renew(SYSTEM, sub_id)
    for invoice in ledger.invoices_of(account_id):
        ledger.record_payment(ADMIN, invoice.id, invoice.balance.times(Fraction(1, 2)))

    events = stored_events(ledger)
    assert ledger.snapshots is not None
    for aggregate_id in dict.fromkeys(e.originator_id for e in events):
        replayed = None
        for event in (e for e in events if e.originator_id == aggregate_id):
            replayed = event.mutate(replayed)
            version = event.originator_version
            if not list(ledger.snapshots.get(aggregate_id, gt=version - 1, lte=version)):
                ledger.take_snapshot(aggregate_id, version)
            restored = ledger.repository.get(aggregate_id, version=version)
            assert state(restored) == state(replayed)


def test_monthly_recurring_revenue_divides_the_sum_of_the_year_once(world: World) -> None:
    """Annual lines count 1/12: the exact sum of every line's year is divided by 12 and
    rounded half-up once per currency, not line by line."""
    rows = [("a", "USD", 1), ("b", "USD", 5), ("c", "EUR", 5), ("d", "JPY", 18)]
    with world.side.store.transaction() as sql:
        for key, currency, annual in rows:
            sql.execute(
                "INSERT INTO book_contract_lines VALUES"
                " ('s', ?, 'acc', ?, 'x', 1, ?, ?, '2026-01-01', NULL, 1, ?, NULL, NULL)",
                (key, currency, annual, annual, "2026-01-01T00:00:00.000000Z"),
            )
        fill_totals(sql)  # rows written here, not by the projection: their totals
    with world.side.readers.transaction() as sql:
        report = book_report(sql, T0, date(2026, 6, 1))
        assert book_report_scanned(sql, T0, date(2026, 6, 1)) == report
    # USD: 6/12 = 0.5 -> 1 (each line alone would round to 0); EUR: 5/12 -> 0; JPY: 1.5 -> 2.
    assert report.monthly_recurring_revenue == {"EUR": 0, "JPY": 2, "USD": 1}


def test_a_snapshot_that_cannot_be_written_does_not_fail_the_command(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshots are written after the events commit: a failure there is logged, and the
    command neither fails nor runs again."""
    ledger = world.ledger
    account_id = open_account(ledger, STAFF)
    assert ledger.snapshots is not None

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise IntegrityError("a snapshot at this version exists")

    monkeypatch.setattr(ledger.snapshots, "put", refuse)
    receipt = ledger.set_payment_method(ADMIN, account_id, METHOD)  # version 2: a snapshot

    assert receipt.version == 2
    assert [type(e).__name__ for e in stored_events(ledger)] == [
        "AccountOpened",
        "PaymentMethodSet",
    ]


def test_corrections_that_contradict_the_order_of_facts_still_fold(world: World) -> None:
    """Seats backdated to before their product was added count from the product's day; a
    cancellation from before seats added for a later day takes those seats' day (ADR 0004:
    the domain accepts both today)."""
    ledger, clock = world.ledger, world.clock
    account_id = open_account(ledger, STAFF)
    first = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 1}).aggregate_id
    clock.advance(timedelta(days=20))
    ledger.add_product(ADMIN, first, "service-cloud", 2)  # from 25 January
    ledger.add_licenses(STAFF, first, "service-cloud", 1, date(2026, 1, 15))
    second = ledger.start_subscription(ADMIN, account_id, {"data-storage": 1}).aggregate_id
    ledger.add_product(ADMIN, second, "sales-cloud", 3, date(2026, 3, 1))
    ledger.cancel_subscription(STAFF, second, date(2026, 2, 1))
    world.runner.catch_up()

    events = stored_events(ledger)
    for day in (date(2026, 1, 20), date(2026, 1, 25), date(2026, 2, 15), date(2026, 3, 1)):
        check_instant(world, events, clock.now(), day)
    with world.side.readers.transaction() as sql:
        on_20th = aggregate_at(ledger, sql, first, clock.now(), date(2026, 1, 20), Subscription)
        assert "service-cloud" not in on_20th.aggregate.lines
        assert book_report(sql, clock.now(), date(2026, 3, 1)).seats_held == {
            "sales-cloud": 1,
            "service-cloud": 3,
        }


# -- the book kept incrementally equals the book folded from scratch -------------------------


class FirstBook(Book):
    """The book as first written, kept as the oracle: each event refolds its aggregate's
    whole history from the store on every day it can change, and reads every row of the
    aggregate still believed."""

    def __init__(self, events: EventStore[UUID]) -> None:
        super().__init__(events, capacity=0)
        self.events = events

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        event = logged.event
        if not isinstance(event, BOOKED) or isinstance(event, NO_BOOK_FACTS):
            return
        aggregate_id = event.originator_id
        history = list(self.events.get(aggregate_id, lte=event.originator_version))
        since = in_force_on(event) or date.min
        days = sorted(
            {since}
            | {
                day
                for past in history
                for day in (in_force_on(past), past.effective(), recorded_day(past))
                if day is not None and day > since
            }
        )
        each_day = [facts(fold_in_force(history, day).aggregate, day) for day in days]
        believed = self._open_rows(sql, aggregate_id, date.min.isoformat())
        wanted = _merged(_before(set(believed), since.isoformat()) + _rows(days, each_day))
        at = recorded(event.timestamp)
        for row in set(believed) - wanted:
            self._close(sql, aggregate_id, row, believed[row], logged.position, at)
        for row in wanted - set(believed):
            self._open(sql, aggregate_id, row, logged.position, at)

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        """One event at a time, one statement per row, as first written; the totals
        summed again from every row (set-based)."""
        for logged in batch:
            self.apply(sql, logged)
        sql.execute(f"DELETE FROM {TOTALS}")
        fill_totals(sql)

    def _open_rows(self, sql: Sql, aggregate_id: UUID, since: str) -> dict[Row, str]:
        """The aggregate's rows still believed that reach ``since`` (end on or after it),
        with the recorded time each was opened."""
        believed: dict[Row, str] = {}
        for table in TABLES:
            found = sql.execute(
                f"SELECT row_key, effective_from, effective_to, valid_from,"
                f" {', '.join(table.value_names)} FROM {table.name}"
                " WHERE aggregate_id = ? AND valid_to_position IS NULL"
                " AND (effective_to IS NULL OR effective_to >= ?)",
                (str(aggregate_id), since),
            ).fetchall()
            for key, start, end, opened, *values in found:
                believed[Row(table.name, key, start, end, tuple(values))] = opened
        return believed

    def _close(
        self, sql: Sql, aggregate_id: UUID, row: Row, opened: str, position: int, at: str
    ) -> None:
        where = (
            "WHERE aggregate_id = ? AND row_key = ? AND effective_from = ?"
            " AND valid_to_position IS NULL"
        )
        params = (str(aggregate_id), row.key, row.start)
        if opened == at:  # opened by an event of this same instant: no one ever saw it
            sql.execute(f"DELETE FROM {row.table} {where}", params)
        else:
            sql.execute(
                f"UPDATE {row.table} SET valid_to_position = ?, valid_to = ? {where}",
                (position, at, *params),
            )

    def _open(self, sql: Sql, aggregate_id: UUID, row: Row, position: int, at: str) -> None:
        table = next(t for t in TABLES if t.name == row.table)
        columns = ("aggregate_id", "row_key", *table.value_names)
        columns += ("effective_from", "effective_to", "valid_from_position", "valid_from")
        sql.execute(
            f"INSERT INTO {table.name} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            (str(aggregate_id), row.key, *row.values, row.start, row.end, position, at),
        )


def assert_report_from_totals_equals_the_scan(world: World) -> None:
    """``book_report`` (the totals, and the rows of its instant's day) answers what the
    scan of every row answers: as of each event's instant, the microsecond before, the
    midnight before and a day later, on the day of each and the days around each event's
    effective day; and a store kept before the totals were gets them on start."""
    events = stored_events(world.ledger)
    moments = sorted(
        {e.timestamp for e in events}
        | {e.timestamp - timedelta(microseconds=1) for e in events}
        | {datetime.combine(e.timestamp.date(), datetime.min.time(), UTC) for e in events}
        | {e.timestamp + timedelta(days=1) for e in events}
    )
    days = sorted(
        {
            d + timedelta(days=o)
            for e in events
            if (d := takes_effect(e)) != date.min
            for o in (-1, 0, 1)
        }
    )
    checked = 0
    with world.side.readers.transaction() as sql:
        for number, as_of in enumerate(moments):
            # Its own day, and three of the others (each day comes round many times).
            for on in [None, *(days[(number * k) % len(days)] for k in (1, 7, 13))]:
                fast = book_report(sql, as_of, on)
                assert fast == book_report_scanned(sql, as_of, on), (as_of, on)
                checked += bool(fast.active_contracts)
        totals = sql.execute(f"SELECT * FROM {TOTALS}").fetchall()
    assert checked > len(moments)  # most of them see a book
    with world.side.store.transaction() as sql:
        sql.execute(f"DROP TABLE {TOTALS}")
    world.runner.prepare()
    with world.side.readers.transaction() as sql:
        assert sorted(map(tuple, sql.execute(f"SELECT * FROM {TOTALS}").fetchall())) == sorted(
            map(tuple, totals)
        )


def every_book_row(world: World) -> dict[str, Counter[tuple[Any, ...]]]:
    """Each book table's rows, every column, in no order (``book_rows`` orders by the first
    six columns only)."""
    with world.side.readers.transaction() as sql:
        return {
            table: Counter(tuple(row) for row in sql.execute(f"SELECT * FROM {table}").fetchall())
            for table in world.side.projection("book").tables
        }


def assert_same_book_rebuilt(world: World) -> None:
    """The book the runner kept as the events came has the same rows, recorded times and
    positions included, as the book rebuilt by the oracle and by the book with its caches
    cut down (each refolding what the others keep)."""
    kept = every_book_row(world)
    events = world.ledger.events
    variants: dict[str, Book] = {
        "the first book": FirstBook(events),
        "nothing kept (capacity 0)": Book(events, capacity=0),
        "one aggregate kept": Book(events, capacity=1),
        "one day kept per aggregate": Book(events, states=1),
    }
    for name, book in variants.items():
        runner = ProjectionRunner(
            world.side.store, world.side.read_log, world.ledger.head_position, [book]
        )
        runner.reset(book)
        runner.catch_up()
        rebuilt = every_book_row(world)
        for table, rows in kept.items():
            only_kept, only_rebuilt = rows - rebuilt[table], rebuilt[table] - rows
            assert not only_kept and not only_rebuilt, (name, table, only_kept, only_rebuilt)


def assert_timelines_fold_as_from_scratch(
    events: list[Any], states: int, offsets: Sequence[int]
) -> None:
    """Each aggregate's timeline, one event at a time, answers for the days the book asks
    about, then for the days ``offsets`` away from those, with the state ``fold_in_force``
    folds from scratch: every attribute, the version it last applied included; and the
    book's facts on the days it asks about (``_each_day``, which reads one state for the
    days no event comes into force between) are each day's facts of that state (the
    book's aggregates)."""
    by_aggregate: dict[UUID, list[Any]] = defaultdict(list)
    for event in events:
        by_aggregate[event.originator_id].append(event)
    for history in by_aggregate.values():
        timeline = Timeline(states)
        for count, event in enumerate(history, start=1):
            timeline.append(event)
            since = in_force_on(event) or date.min
            days = [since, *timeline.days_after(since)]
            near = sorted({d + timedelta(days=o) for d in days if d != date.min for o in offsets})
            if isinstance(event, BOOKED):
                assert _each_day(timeline, days) == [
                    facts(fold_in_force(history[:count], day).aggregate, day) for day in days
                ], count
            for day in [*days, *near]:
                expected = fold_in_force(history[:count], day).aggregate
                assert state(timeline.in_force(day)) == state(expected), (count, day)


def assert_shortcuts_answer_as_spelt_out(events: list[Any]) -> None:
    """The book's shortcuts answer what they stand for, on every event and every state of
    every invoice: ``days_of`` (three days worked out at once), ``_builds_on`` (kinds found
    once per class of event), ``_open_balance`` (the balance without Money objects) and
    ``created`` (a creation's ``mutate``, its arguments found once per class)."""
    invoices: dict[UUID, Any] = {}
    for event in events:
        assert days_of(event) == (in_force_on(event), event.effective(), recorded_day(event))
        if isinstance(event, LedgerAggregate.Created):
            made, mutated = created(event), event.mutate(None)
            assert type(made) is type(mutated) and state(made) == state(mutated), event
        if isinstance(event, Subscription.ProductAdded):
            builds_on: tuple[str, str] | None = ("line", event.line.line_id)
        elif isinstance(event, Subscription.LineQuantityIncreased):
            builds_on = ("line", event.line_id)
        elif isinstance(event, License.LicenseAdded | License.LicenseRemoved):
            builds_on = ("holding", str(event.subscription_id))
        else:
            builds_on = None
        assert _builds_on(event) == builds_on, event
        if isinstance(event, Invoice.Event):
            invoice: Any = event.mutate(invoices.get(event.originator_id))
            invoices[event.originator_id] = invoice
            balance = invoice.balance
            expected = minor_units(balance) if balance.is_positive else 0
            assert _open_balance(invoice) == expected, (invoice.status, balance)
    assert invoices  # the history has some


def test_the_book_kept_incrementally_equals_the_book_folded_from_scratch(
    store: StoreSettings, tmp_path: Path
) -> None:
    kind = "postgres" if store.postgres else "sqlite"

    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def history_caught_up_step_by_step(data: st.DataObject) -> None:
        with world_on(kind, tmp_path) as world:
            for kind_of_step in ("open", "start"):
                ACTIONS[kind_of_step](world, data)
            for _ in range(data.draw(st.integers(30, 60))):
                step(world, data.draw(st.sampled_from(KINDS)), data)
                world.runner.catch_up()  # as the service does: a few events at a time
            states = data.draw(st.sampled_from([1, 2, 16]))
            offsets = data.draw(st.lists(st.integers(-3, 3), max_size=2))
            assert_timelines_fold_as_from_scratch(stored_events(world.ledger), states, offsets)
            assert_shortcuts_answer_as_spelt_out(stored_events(world.ledger))
            assert_same_book_rebuilt(world)

    history_caught_up_step_by_step()


def test_corrections_and_forward_dated_changes_keep_the_book_as_from_scratch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cases a kept state cannot simply follow: seats added for a later day (until
    that day, each day's state defers them; from it, they come before what followed),
    seats and cancellations backdated among days already kept, seats backdated to before
    their product, renewals planned, changed and cancelled, invoices paid or not; and a
    change that joins a row ending on its day with the row that starts there."""
    ledger, clock = world.ledger, world.clock
    account_id = open_account(ledger, STAFF)
    ledger.set_payment_method(ADMIN, account_id, METHOD)
    sub = ledger.start_subscription(
        ADMIN, account_id, {"sales-cloud": 3}, term_months=2, billing_period=BillingPeriod.MONTHLY
    ).aggregate_id
    other = ledger.start_subscription(
        ADMIN, account_id, {"data-storage": 1, "service-cloud": 1}
    ).aggregate_id
    for day in range(1, 25):
        clock.advance(timedelta(days=1))

        def later(days: int) -> date:
            return clock.now().date() + timedelta(days=days)

        if day % 5 == 0:
            ledger.add_licenses(ADMIN, sub, "sales-cloud", 2, later(4))
        elif day % 7 == 0:
            ledger.add_licenses(STAFF, sub, "sales-cloud", 1, later(-6))
        else:
            ledger.add_licenses(ADMIN, sub, "sales-cloud", 1)
        if day == 1:
            future = ledger.start_subscription(
                ADMIN, account_id, {"service-cloud": 2}, term_start=later(9)
            ).aggregate_id
        if day == 6:
            # From its first day: its seats go, and the row of the seats held before that
            # day (ending on it) and the row from it join again.
            ledger.cancel_subscription(STAFF, future, later(4))
        if day == 8:
            ledger.add_product(ADMIN, sub, "service-cloud", 1, later(3))
            ledger.add_licenses(STAFF, sub, "service-cloud", 2, later(-2))  # before the product
        if day == 10:
            ledger.schedule_renewal(ADMIN, sub, 1, {"sales-cloud": 5, "service-cloud": 1})
        if day == 12:
            ledger.schedule_renewal(ADMIN, sub, 12, None)
        if day == 15:
            for invoice in ledger.invoices_of(account_id)[:2]:
                ledger.record_payment(ADMIN, invoice.id, invoice.balance)
        if day == 18:
            ledger.cancel_renewal(ADMIN, sub)
        if day == 20:
            ledger.add_product(ADMIN, other, "sales-cloud", 2, later(5))
            ledger.cancel_subscription(STAFF, other, later(-3))  # before those seats
        world.runner.catch_up()
    clock.advance(timedelta(days=40))
    if ledger.subscription(sub).renewal is not None:
        ledger.renew(SYSTEM, sub)
    else:
        ledger.expire(SYSTEM, sub)
    world.runner.catch_up()

    # A state carried forward to a new day, a copy left behind every CHECKPOINT days: each
    # day a copy (1, as before), every other day, and as the book does.
    for checkpoint in (1, 2, book_module.CHECKPOINT):
        monkeypatch.setattr(book_module, "CHECKPOINT", checkpoint)
        for states in (1, 2, 16):
            assert_timelines_fold_as_from_scratch(stored_events(ledger), states, (-1, 1))
        assert_same_book_rebuilt(world)
    assert_report_from_totals_equals_the_scan(world)
    assert_shortcuts_answer_as_spelt_out(stored_events(ledger))
    with world.side.readers.transaction() as sql:
        assert (
            book_report(sql, clock.now(), clock.now().date()).seats_held
            == oracle_book(stored_events(ledger), clock.now(), clock.now().date())["seats_held"]
        )
