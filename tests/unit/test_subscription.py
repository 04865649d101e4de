"""The Subscription: a contract's term, lines, mid-term changes, renewal and ending."""

from datetime import UTC, date, datetime, time
from uuid import uuid4

import pytest

from domain.errors import (
    AlreadyExists,
    AlreadyInThatState,
    ContractNotActive,
    CurrencyMismatch,
    DateOutsideTerm,
    InvalidValue,
    NotFound,
    QuantityNotPositive,
    ReasonRequired,
    RenewalRule,
)
from domain.money import Money
from domain.period import BillingPeriod, DateRange
from domain.subscription import Line, Renewal, Subscription, SubscriptionStatus
from tests.builders import cause

ACCOUNT = uuid4()
TERM_START = date(2026, 1, 1)
TERM_END = date(2027, 1, 1)
AT_TERM_END = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
STAFF = "customer asked to leave"


def line(code="sales-cloud", quantity=5, price="300.00", currency="USD"):
    return Line(code, code, quantity, Money.of(price, currency))


def start(lines=None, months=12, currency="USD"):
    return Subscription.start(
        uuid4(),
        ACCOUNT,
        currency,
        BillingPeriod.ANNUAL,
        TERM_START,
        months,
        lines or [line()],
        cause(datetime.combine(TERM_START, time(9), tzinfo=UTC)),
    )


def recorded(sub):
    """The classes of the events recorded since the last call (and forget them)."""
    return [type(event) for event in sub.collect_events()]


@pytest.fixture
def sub():
    sub = start()
    sub.collect_events()
    return sub


@pytest.fixture
def renewing(sub):
    sub.schedule_renewal(12, [line(quantity=5)], cause())
    sub.collect_events()
    return sub


# -- lines ------------------------------------------------------------------------------


def test_a_line_amount_is_its_quantity_times_its_unit_price():
    assert line(quantity=3, price="300.00").amount == Money.of("900.00", "USD")


@pytest.mark.parametrize("quantity", [0, -1, True, False])
def test_a_line_with_a_quantity_that_is_not_positive_cannot_be_made(quantity):
    with pytest.raises(QuantityNotPositive):
        line(quantity=quantity)


def test_a_line_with_a_negative_price_cannot_be_made():
    with pytest.raises(InvalidValue):
        line(price="-1.00")


# -- starting ---------------------------------------------------------------------------


def test_starting_records_the_term_period_and_lines():
    sub = start([line(), line("data-storage", 10, "60.00")])
    (started,) = sub.collect_events()
    assert isinstance(started, Subscription.SubscriptionStarted)
    assert started.account_id == ACCOUNT
    assert (started.currency, started.billing_period) == ("USD", BillingPeriod.ANNUAL)
    assert (started.term_start, started.term_end) == (TERM_START, TERM_END)
    assert started.lines == (line(), line("data-storage", 10, "60.00"))


def test_a_started_contract_is_active_for_its_term_with_no_renewal():
    sub = start([line(), line("data-storage", 10, "60.00")])
    assert sub.is_active and sub.status is SubscriptionStatus.ACTIVE
    assert sub.term == DateRange(TERM_START, TERM_END)
    assert sub.renewal is None
    assert sub.terms_served == 1
    assert sub.period_amount == Money.of("2100.00", "USD")


def test_starting_without_lines_is_refused():
    with pytest.raises(InvalidValue):
        Subscription.start(
            uuid4(), ACCOUNT, "USD", BillingPeriod.ANNUAL, TERM_START, 12, [], cause()
        )


def test_starting_a_term_shorter_than_a_month_is_refused():
    with pytest.raises(InvalidValue):
        start(months=0)


def test_starting_with_a_line_in_another_currency_is_refused():
    with pytest.raises(CurrencyMismatch):
        start([line(), line("data-storage", 1, "5.00", currency="EUR")])


def test_starting_with_a_product_on_two_lines_is_refused():
    with pytest.raises(AlreadyExists):
        start([line(quantity=1), Line("other", "sales-cloud", 2, Money.of("300", "USD"))])


# -- adding licenses --------------------------------------------------------------------


def test_adding_licenses_records_the_quantity_and_its_effective_date(sub):
    grown = sub.add_licenses("sales-cloud", 3, date(2026, 4, 10), cause())
    (event,) = sub.collect_events()
    assert isinstance(event, Subscription.LineQuantityIncreased)
    assert (event.line_id, event.added, event.effective_at) == ("sales-cloud", 3, date(2026, 4, 10))
    assert grown == line(quantity=8)
    assert sub.line("sales-cloud").quantity == 8


def test_added_licenses_keep_the_line_price(sub):
    sub.add_licenses("sales-cloud", 3, date(2026, 4, 10), cause())
    assert sub.line("sales-cloud").unit_price == Money.of("300.00", "USD")


def test_added_licenses_are_carried_into_the_scheduled_renewal(renewing):
    renewing.add_licenses("sales-cloud", 3, date(2026, 4, 10), cause())
    assert renewing.renewal == Renewal(12, (line(quantity=8),))


@pytest.mark.parametrize("quantity", [0, -2, True])
def test_adding_a_quantity_that_is_not_positive_is_refused(sub, quantity):
    with pytest.raises(QuantityNotPositive):
        sub.add_licenses("sales-cloud", quantity, date(2026, 4, 10), cause())
    assert recorded(sub) == []
    assert sub.line("sales-cloud").quantity == 5


def test_adding_licenses_to_a_line_not_on_the_contract_is_refused(sub):
    with pytest.raises(NotFound):
        sub.add_licenses("service-cloud", 1, date(2026, 4, 10), cause())
    assert recorded(sub) == []


@pytest.mark.parametrize("day", [date(2025, 12, 31), TERM_END])
def test_adding_licenses_effective_outside_the_term_is_refused(sub, day):
    with pytest.raises(DateOutsideTerm):
        sub.add_licenses("sales-cloud", 1, day, cause())
    assert recorded(sub) == []


def test_adding_licenses_to_a_cancelled_contract_is_refused(sub):
    sub.cancel(date(2026, 6, 1), cause(reason=STAFF))
    sub.collect_events()
    with pytest.raises(ContractNotActive):
        sub.add_licenses("sales-cloud", 1, date(2026, 4, 10), cause())
    assert recorded(sub) == []


# -- adding a product or add-on ---------------------------------------------------------


def test_adding_a_product_records_its_line(sub):
    storage = line("data-storage", 10, "60.00")
    sub.add_product(storage, date(2026, 4, 10), cause())
    (event,) = sub.collect_events()
    assert isinstance(event, Subscription.ProductAdded)
    assert (event.line, event.effective_at) == (storage, date(2026, 4, 10))
    assert sub.line("data-storage") == storage


def test_an_added_product_is_carried_into_the_scheduled_renewal(renewing):
    storage = line("data-storage", 10, "60.00")
    renewing.add_product(storage, date(2026, 4, 10), cause())
    assert renewing.renewal == Renewal(12, (line(quantity=5), storage))


def test_an_added_product_already_planned_for_the_renewal_grows_the_planned_line(sub):
    planned = Line("next-inbox", "inbox", 3, Money.of("25.00", "USD"))
    sub.schedule_renewal(12, [line(), planned], cause())
    sub.add_product(line("inbox", 2, "25.00"), date(2026, 4, 10), cause())
    assert sub.renewal == Renewal(
        12, (line(), Line("next-inbox", "inbox", 5, Money.of("25", "USD")))
    )


def test_adding_a_product_already_on_the_contract_is_refused(sub):
    with pytest.raises(AlreadyExists):
        sub.add_product(
            Line("l2", "sales-cloud", 1, Money.of("300", "USD")), date(2026, 4, 10), cause()
        )
    assert recorded(sub) == []


def test_adding_a_product_priced_in_another_currency_is_refused(sub):
    with pytest.raises(CurrencyMismatch):
        sub.add_product(line("inbox", 1, "25.00", "EUR"), date(2026, 4, 10), cause())
    assert recorded(sub) == []


def test_adding_a_product_effective_outside_the_term_is_refused(sub):
    with pytest.raises(DateOutsideTerm):
        sub.add_product(line("inbox", 1, "25.00"), date(2027, 2, 1), cause())
    assert recorded(sub) == []


def test_adding_a_product_to_a_cancelled_contract_is_refused(sub):
    sub.cancel(date(2026, 6, 1), cause(reason=STAFF))
    sub.collect_events()
    with pytest.raises(ContractNotActive):
        sub.add_product(line("inbox", 1, "25.00"), date(2026, 4, 10), cause())
    assert recorded(sub) == []


# -- scheduling, changing and cancelling the renewal ------------------------------------


def test_scheduling_a_renewal_records_the_next_term_from_the_term_end(sub):
    sub.schedule_renewal(24, [line(quantity=7)], cause())
    (event,) = sub.collect_events()
    assert type(event) is Subscription.RenewalScheduled
    assert (event.term_months, event.lines) == (24, (line(quantity=7),))
    assert event.effective_at == TERM_END
    assert sub.renewal == Renewal(24, (line(quantity=7),))


def test_scheduling_a_second_renewal_is_refused(renewing):
    with pytest.raises(RenewalRule):
        renewing.schedule_renewal(12, [line(quantity=9)], cause())
    assert recorded(renewing) == []


@pytest.mark.parametrize(
    ("months", "lines", "error"),
    [
        (0, [line()], InvalidValue),
        (12, [], InvalidValue),
        (12, [line(currency="EUR")], CurrencyMismatch),
        (12, [line(), line(quantity=2)], AlreadyExists),
    ],
)
def test_a_malformed_renewal_is_refused(sub, months, lines, error):
    with pytest.raises(error):
        sub.schedule_renewal(months, lines, cause())
    assert recorded(sub) == []
    assert sub.renewal is None


def test_scheduling_a_renewal_on_a_cancelled_contract_is_refused(sub):
    sub.cancel(date(2026, 6, 1), cause(reason=STAFF))
    sub.collect_events()
    with pytest.raises(ContractNotActive):
        sub.schedule_renewal(12, [line()], cause())
    assert recorded(sub) == []


def test_changing_the_renewal_records_the_new_plan(renewing):
    renewing.change_renewal(12, [line(quantity=2), line("data-storage", 1, "60")], cause())
    (event,) = renewing.collect_events()
    assert type(event) is Subscription.RenewalChanged
    assert event.lines == (line(quantity=2), line("data-storage", 1, "60"))
    assert event.effective_at == TERM_END
    assert renewing.renewal == Renewal(12, (line(quantity=2), line("data-storage", 1, "60")))


def test_changing_a_renewal_that_is_not_scheduled_is_refused(sub):
    with pytest.raises(RenewalRule):
        sub.change_renewal(12, [line()], cause())
    assert recorded(sub) == []


def test_cancelling_the_renewal_records_that_the_contract_ends_at_its_term_end(renewing):
    renewing.cancel_renewal(cause())
    (event,) = renewing.collect_events()
    assert isinstance(event, Subscription.RenewalCancelled)
    assert event.effective_at == TERM_END
    assert renewing.renewal is None
    assert renewing.is_active


def test_cancelling_a_renewal_that_is_not_scheduled_is_refused(sub):
    with pytest.raises(AlreadyInThatState):
        sub.cancel_renewal(cause())
    assert recorded(sub) == []


# -- renewing ---------------------------------------------------------------------------


def test_renewing_at_the_term_end_starts_the_scheduled_term(sub):
    sub.schedule_renewal(12, [line(quantity=2, price="360.00")], cause())
    sub.collect_events()
    renewal = sub.renew(cause(AT_TERM_END))
    (event,) = sub.collect_events()
    assert isinstance(event, Subscription.SubscriptionRenewed)
    assert (event.term_start, event.term_end) == (TERM_END, date(2028, 1, 1))
    assert event.lines == (line(quantity=2, price="360.00"),)
    assert renewal == Renewal(12, (line(quantity=2, price="360.00"),))
    assert sub.term == DateRange(TERM_END, date(2028, 1, 1))
    assert sub.lines == {"sales-cloud": line(quantity=2, price="360.00")}
    assert sub.renewal is None
    assert sub.terms_served == 2


def test_renewing_late_still_starts_the_new_term_at_the_old_term_end(renewing):
    renewing.renew(cause(datetime(2027, 1, 20, tzinfo=UTC)))
    assert renewing.term.start == TERM_END


def test_renewing_before_the_term_end_is_refused(renewing):
    with pytest.raises(RenewalRule):
        renewing.renew(cause(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)))
    assert recorded(renewing) == []
    assert renewing.term.start == TERM_START


def test_renewing_without_a_scheduled_renewal_is_refused(sub):
    with pytest.raises(RenewalRule):
        sub.renew(cause(AT_TERM_END))
    assert recorded(sub) == []


def test_renewing_a_cancelled_contract_is_refused(renewing):
    renewing.cancel(date(2026, 6, 1), cause(reason=STAFF))
    renewing.collect_events()
    with pytest.raises(ContractNotActive):
        renewing.renew(cause(AT_TERM_END))
    assert recorded(renewing) == []


# -- cancelling and expiring ------------------------------------------------------------


def test_staff_cancel_a_contract_with_a_reason(renewing):
    renewing.cancel(date(2026, 6, 1), cause(reason=STAFF))
    (event,) = renewing.collect_events()
    assert isinstance(event, Subscription.SubscriptionCancelled)
    assert event.effective_at == date(2026, 6, 1)
    assert event.meta.reason == STAFF
    assert renewing.status is SubscriptionStatus.CANCELLED
    assert renewing.ended_on == date(2026, 6, 1)
    assert renewing.renewal is None


def test_cancelling_without_a_reason_is_refused(sub):
    with pytest.raises(ReasonRequired):
        sub.cancel(date(2026, 6, 1), cause())
    assert recorded(sub) == []
    assert sub.is_active


@pytest.mark.parametrize("day", [date(2025, 12, 31), date(2027, 1, 2)])
def test_cancelling_effective_outside_the_term_is_refused(sub, day):
    with pytest.raises(DateOutsideTerm):
        sub.cancel(day, cause(reason=STAFF))
    assert recorded(sub) == []


def test_cancelling_a_cancelled_contract_is_refused(sub):
    sub.cancel(date(2026, 6, 1), cause(reason=STAFF))
    sub.collect_events()
    with pytest.raises(AlreadyInThatState):
        sub.cancel(date(2026, 7, 1), cause(reason=STAFF))
    assert recorded(sub) == []
    assert sub.ended_on == date(2026, 6, 1)


def test_a_contract_without_renewal_expires_at_its_term_end(sub):
    sub.expire(cause(AT_TERM_END))
    (event,) = sub.collect_events()
    assert isinstance(event, Subscription.SubscriptionExpired)
    assert event.effective_at == TERM_END
    assert sub.status is SubscriptionStatus.EXPIRED
    assert sub.ended_on == TERM_END


def test_expiring_before_the_term_end_is_refused(sub):
    with pytest.raises(RenewalRule):
        sub.expire(cause(datetime(2026, 12, 31, tzinfo=UTC)))
    assert recorded(sub) == []


def test_expiring_a_contract_with_a_scheduled_renewal_is_refused(renewing):
    with pytest.raises(RenewalRule):
        renewing.expire(cause(AT_TERM_END))
    assert recorded(renewing) == []


CHANGES = {
    "add licenses": lambda s: s.add_licenses("sales-cloud", 1, date(2026, 4, 10), cause()),
    "add a product": lambda s: s.add_product(line("inbox", 1, "25"), date(2026, 4, 10), cause()),
    "schedule a renewal": lambda s: s.schedule_renewal(12, [line()], cause()),
    "change the renewal": lambda s: s.change_renewal(12, [line()], cause()),
    "cancel the renewal": lambda s: s.cancel_renewal(cause()),
    "renew": lambda s: s.renew(cause(AT_TERM_END)),
    "cancel": lambda s: s.cancel(TERM_END, cause(reason=STAFF)),
    "expire": lambda s: s.expire(cause(AT_TERM_END)),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_change_to_an_expired_contract_is_refused(sub, change):
    sub.expire(cause(AT_TERM_END))
    sub.collect_events()
    with pytest.raises(ContractNotActive):
        change(sub)
    assert recorded(sub) == []
    assert sub.status is SubscriptionStatus.EXPIRED


def test_seats_move_by_the_difference_of_per_seat_products_only(sub):
    before = {"sales-cloud": 5, "inbox": 2, "data-storage": 10}
    after = {"sales-cloud": 8, "service-cloud": 3, "data-storage": 4}
    on, moves = sub.seat_moves(before, after, date(2026, 3, 1))
    # Data Storage has no seats; Inbox is dropped; an unchanged product does not move.
    assert moves == {"inbox": -2, "sales-cloud": 3, "service-cloud": 3}
    assert on == TERM_START  # a contract going on: from its (new) term's first day
    assert sub.seat_moves({"sales-cloud": 5}, {"sales-cloud": 5}, TERM_END)[1] == {}


def test_seats_of_an_ended_contract_go_from_the_day_it_ended(sub):
    sub.cancel(date(2026, 6, 1), cause(reason=STAFF))
    on, moves = sub.seat_moves(sub.product_quantities, {}, date(2026, 7, 1))
    assert (on, moves) == (date(2026, 6, 1), {"sales-cloud": -5})


def test_no_period_is_invoiced_from_the_day_the_contract_ended(sub):
    sub.cancel(date(2026, 6, 1), cause(reason=STAFF))
    sub.require_billable_from(date(2026, 5, 31))
    assert sub.has_ended_by(date(2026, 6, 1))
    with pytest.raises(ContractNotActive):
        sub.require_billable_from(date(2026, 6, 1))
