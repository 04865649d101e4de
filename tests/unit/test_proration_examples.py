"""The worked examples of the proration and tax ADR, checked against the code.

The ADR's tables are the test data: every figure in them was worked out by hand (the
ADR shows the arithmetic), and this test recomputes each with the domain's own rules.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from uuid import uuid4

import pytest

from domain.invoice import Invoice, InvoiceLine
from domain.money import Money
from domain.period import BillingPeriod, DateRange, billed_share, billing_periods, term_of
from domain.subscription import Line, Subscription
from domain.tax import TAX_RATES, tax_rate
from tests.builders import cause

(ADR,) = (Path(__file__).parents[2] / "docs" / "adr").glob("*-mid-term-proration-and-tax.md")
TEXT = ADR.read_text()


def rows(first_header: str) -> list[list[str]]:
    """The body rows of the table whose header starts with ``| first_header |``."""
    lines = TEXT.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in line.strip("|").split("|")])
    return body


EXAMPLES = rows("#")


def test_the_adr_has_its_worked_examples():
    assert len(EXAMPLES) == 11


@pytest.mark.parametrize("row", EXAMPLES, ids=[row[0] for row in EXAMPLES])
def test_a_worked_example(row):
    _, billing, period, added_on, share, quantity, unit_price, amount, country, tax, total = row
    first, last = (date.fromisoformat(d) for d in period.split(" to "))
    days_left, full_days = (int(n) for n in share.split(" / "))
    price, currency = unit_price.split()
    period_range = DateRange(first, last)
    day = date.fromisoformat(added_on)

    assert (last - day).days == days_left
    assert billed_share(period_range, BillingPeriod(billing), day) == Fraction(days_left, full_days)
    line = InvoiceLine.charge(
        "example",
        "sales-cloud",
        int(quantity),
        Money.of(price, currency),
        period_range,
        Fraction(days_left, full_days),
        tax_rate(country),
    )
    assert (line.amount, line.tax) == (Money.of(amount, currency), Money.of(tax, currency))
    assert line.amount + line.tax == Money.of(total, currency)


def test_the_periods_of_the_month_end_and_short_period_examples():
    """Example 7's period starts on a clamped day; example 8's is a term's short last one."""
    from_31_january = billing_periods(term_of(date(2026, 1, 31), 12), BillingPeriod.MONTHLY)
    assert DateRange(date(2026, 2, 28), date(2026, 3, 31)) in from_31_january
    eighteen_months = billing_periods(term_of(date(2026, 1, 5), 18), BillingPeriod.ANNUAL)
    assert eighteen_months[-1] == DateRange(date(2027, 1, 5), date(2027, 7, 5))


def test_the_adr_tax_table_is_the_code_table():
    documented = {country: Decimal(rate.rstrip("%")) / 100 for country, rate in rows("country")}
    assert documented == TAX_RATES


def test_tax_is_rounded_per_line_and_the_invoice_tax_is_their_sum():
    """The ADR's example: 4 Sales Cloud and 4 Service Cloud seats at 73.60 EUR, in Germany."""
    month = DateRange(date(2026, 3, 5), date(2026, 4, 5))
    lines = [
        InvoiceLine.charge(
            code, code, 4, Money.of("73.60", "EUR"), month, Fraction(1), tax_rate("DE")
        )
        for code in ("sales-cloud", "service-cloud")
    ]
    invoice = Invoice.issue(
        uuid4(), uuid4(), None, "INV-1", "EUR", lines, date(2026, 2, 4), cause()
    )
    assert [line.tax for line in lines] == [Money.of("55.94", "EUR")] * 2  # 55.936 each
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Money.of("588.80", "EUR"),
        Money.of("111.88", "EUR"),  # not 588.80 x 0.19 = 111.872 -> 111.87
        Money.of("700.68", "EUR"),
    )


# -- which invoices bill each change -----------------------------------------------------

CHANGES = rows("ex")
BASE_SEATS = 2


def test_the_adr_says_which_invoices_bill_each_change():
    assert [row[0] for row in CHANGES] == ["4", "5", "9", "10", "11", "12"]


def day(text: str) -> date:
    return date.fromisoformat(text)


def at(text: str) -> datetime:
    return datetime.combine(day(text), time(9), tzinfo=UTC)


def contract(term: str, billing: str) -> Subscription:
    """The example's contract: BASE_SEATS Sales Cloud seats, bought on the term's first day."""
    first, last = (day(d) for d in term.split(" to "))
    months = (last.year - first.year) * 12 + last.month - first.month
    seats = Line("sales-cloud", "sales-cloud", BASE_SEATS, Money.of("25.00", "USD"))
    sub = Subscription.start(
        uuid4(),
        uuid4(),
        "USD",
        BillingPeriod(billing),
        first,
        months,
        [seats],
        cause(at(str(first))),
    )
    assert sub.term == DateRange(first, last)
    return sub


def own_invoice(sub: Subscription) -> str:
    """The periods the latest addition's own invoice charges, as the ADR writes them."""
    parts = []
    for c in sub.charged_apart(sub.last_addition):
        days = (c.period.end - c.first_day).days
        parts.append(f"{c.period.start} to {c.period.end}: {days} / {days / c.share}")
    return "; ".join(parts)


def billed_periods(sub: Subscription, billed: Callable[[dict[str, int]], bool]) -> str:
    """ "from X", "until X" or "none": the periods whose invoices ``billed`` says yes to."""
    periods = billing_periods(sub.term, sub.billing_period)
    yes = [p.start for p in periods if billed(sub.period_quantities(p))]
    if not yes:
        return "none"
    if yes == [p.start for p in periods if p.start >= yes[0]]:
        return f"from {yes[0]}"
    assert yes == [p.start for p in periods if p.start <= yes[-1]]
    return f"until {yes[-1]}"


@pytest.mark.parametrize("row", CHANGES, ids=[row[0] for row in CHANGES])
def test_which_invoices_bill_a_change(row):
    _, term, billing, change, starts, recorded, own, periods = row
    sub = contract(term, billing)
    when = cause(at(recorded), reason="a correction")
    if change == "cancelled":
        sub.cancel(day(starts), when)
        assert (own, billed_periods(sub, bool)) == ("none", periods)
        return
    quantity, code = change.removeprefix("+").split(" ")
    if code == "sales-cloud":
        sub.add_licenses("sales-cloud", int(quantity), day(starts), when)
    else:
        sub.add_product(Line(code, code, int(quantity), Money.of("5.00", "USD")), day(starts), when)
    assert own_invoice(sub) == own
    # a period invoice bills the change when it bills more than the contract's first units
    more = BASE_SEATS if code == "sales-cloud" else 0
    assert billed_periods(sub, lambda q: q.get(code, 0) > more) == periods
