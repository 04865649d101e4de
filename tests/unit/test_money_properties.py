"""Properties of Money and of rounding to a currency's minor unit (DESIGN.md, "Money")."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import CurrencyMismatch, InvalidValue
from domain.money import MINOR_UNITS, Money, minor_unit, round_half_up, total

CURRENCIES = sorted(MINOR_UNITS)
LIMIT = 10**9


def amounts(currency: str, extra_places: int = 0) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=-LIMIT,
        max_value=LIMIT,
        places=MINOR_UNITS[currency] + extra_places,
        allow_nan=False,
        allow_infinity=False,
    )


def money_in(currency: str) -> st.SearchStrategy[Money]:
    return amounts(currency).map(lambda amount: Money(amount, currency))


currencies = st.sampled_from(CURRENCIES)
factors = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.fractions(min_value=-1000, max_value=1000, max_denominator=10_000),
)


def exponent(amount: Decimal) -> int:
    return amount.as_tuple().exponent  # type: ignore[return-value]


def test_minor_units_of_the_currencies_named_in_the_design():
    assert exponent(minor_unit("JPY")) == 0
    assert exponent(minor_unit("USD")) == -2
    assert exponent(minor_unit("KWD")) == -3


@given(currencies.flatmap(lambda c: st.tuples(money_in(c), money_in(c))))
def test_addition_is_commutative_within_a_currency(pair):
    a, b = pair
    assert a + b == b + a
    assert (a + b).currency == a.currency


@given(currencies.flatmap(lambda c: st.tuples(money_in(c), money_in(c), money_in(c))))
def test_addition_is_associative_within_a_currency(triple):
    a, b, c = triple
    assert (a + b) + c == a + (b + c)


@given(currencies.flatmap(lambda c: st.tuples(money_in(c), money_in(c))))
def test_sum_keeps_the_currency_exponent_and_subtraction_undoes_addition(pair):
    a, b = pair
    assert exponent((a + b).amount) == -MINOR_UNITS[a.currency]
    assert (a + b) - b == a
    assert a + Money.zero(a.currency) == a
    assert total([a, b], a.currency) == a + b


@given(
    st.lists(currencies, min_size=2, max_size=2, unique=True).flatmap(
        lambda cs: st.tuples(money_in(cs[0]), money_in(cs[1]))
    )
)
def test_mixing_two_currencies_is_an_error(pair):
    a, b = pair
    with pytest.raises(CurrencyMismatch):
        a + b
    with pytest.raises(CurrencyMismatch):
        b - a
    with pytest.raises(CurrencyMismatch):
        a < b  # noqa: B015 - the comparison itself must refuse
    with pytest.raises(CurrencyMismatch):
        total([a, b], a.currency)


@given(currencies.flatmap(lambda c: st.tuples(st.just(c), amounts(c, extra_places=4))))
def test_round_half_up_agrees_with_decimal_round_half_up(case):
    currency, value = case
    expected = value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    from_decimal = round_half_up(value, currency)
    from_fraction = round_half_up(Fraction(value), currency)
    assert from_decimal == expected
    assert from_fraction == expected
    assert exponent(from_decimal) == exponent(from_fraction) == -MINOR_UNITS[currency]


@given(currencies, st.integers(min_value=-LIMIT, max_value=LIMIT))
def test_exact_halves_round_away_from_zero(currency, units):
    unit = minor_unit(currency)
    half_above = (units + Fraction(1, 2)) * Fraction(unit)
    away_from_zero = (units + 1 if half_above > 0 else units) * unit
    as_decimal = Decimal(units) * unit + unit / 2  # exact: a half has a finite expansion
    assert Fraction(as_decimal) == half_above
    assert round_half_up(half_above, currency) == away_from_zero
    assert round_half_up(as_decimal, currency) == away_from_zero
    assert round_half_up(as_decimal, currency) == as_decimal.quantize(unit, ROUND_HALF_UP)
    assert Money(as_decimal, currency).rounded().amount == away_from_zero


@given(currencies, st.fractions(min_value=-LIMIT, max_value=LIMIT, max_denominator=10**6))
def test_round_half_up_of_any_fraction_is_the_nearest_minor_unit(currency, value):
    unit = Fraction(minor_unit(currency))
    rounded = round_half_up(value, currency)
    assert exponent(rounded) == -MINOR_UNITS[currency]
    error = abs(Fraction(rounded) - value)
    assert error <= unit / 2
    if error == unit / 2:  # a tie goes away from zero
        assert abs(Fraction(rounded)) > abs(value)


@given(currencies.flatmap(money_in), factors)
def test_times_is_off_by_at_most_half_a_minor_unit(money, factor):
    product = money.times(factor)
    exact = Fraction(money.amount) * factor
    assert product.currency == money.currency
    assert abs(Fraction(product.amount) - exact) <= Fraction(minor_unit(money.currency)) / 2


@given(
    currencies.flatmap(money_in),
    st.decimals(min_value=-1000, max_value=1000, places=6, allow_nan=False, allow_infinity=False),
)
def test_times_rounds_the_exact_product_as_decimal_would(money, factor):
    with localcontext(prec=60):  # exact: no digit of the product is lost
        exact = money.amount * factor
    expected = exact.quantize(minor_unit(money.currency), rounding=ROUND_HALF_UP)
    assert money.times(Fraction(factor)).amount == expected


@given(
    currencies.flatmap(lambda c: st.tuples(st.just(c), amounts(c, extra_places=5))),
    factors,
)
def test_results_always_carry_the_currency_exponent(case, factor):
    currency, value = case
    money = Money(value, currency)
    want = -MINOR_UNITS[currency]
    assert exponent(money.times(factor).amount) == want
    assert exponent(money.rounded().amount) == want
    assert exponent(Money.zero(currency).amount) == want
    assert str(money.rounded()).endswith(f" {currency}")
    digits = str(money.rounded()).split(" ")[0].partition(".")[2]
    assert len(digits) == MINOR_UNITS[currency]


@given(st.floats(allow_nan=True, allow_infinity=True), currencies)
def test_money_never_holds_a_float(value, currency):
    with pytest.raises(InvalidValue):
        Money(value, currency)  # type: ignore[arg-type]


@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "sNaN"]), currencies)
def test_money_is_always_finite(value, currency):
    with pytest.raises(InvalidValue):
        Money(Decimal(value), currency)


@given(
    currencies.flatmap(lambda c: st.tuples(amounts(c, extra_places=4), st.just(c))),
    st.integers(min_value=-(10**6), max_value=10**6),
)
def test_times_a_whole_number_is_the_exact_product_rounded_as_a_fraction_is(held, factor):
    """``times`` takes a shortcut for whole factors (Decimal arithmetic that never rounds);
    it must give what the Fraction route gives, digit for digit and never a negative zero."""
    amount, currency = held
    fast = Money(amount, currency).times(factor)
    exact = round_half_up(Fraction(amount) * factor, currency)
    assert str(fast.amount) == str(exact)
    assert fast == Money(exact, currency)


@given(
    currencies.flatmap(lambda c: st.tuples(amounts(c, extra_places=4), st.just(c))),
    st.fractions(min_value=-1000, max_value=1000, max_denominator=10_000),
)
def test_times_a_fraction_is_the_exact_product_rounded_as_a_fraction_is(held, factor):
    """``times`` rounds a Fraction's product in whole numbers; it must give what
    ``round_half_up`` of the Fraction product gives, digit for digit (zeros included)."""
    amount, currency = held
    fast = Money(amount, currency).times(factor)
    exact = round_half_up(Fraction(amount) * factor, currency)
    assert str(fast.amount) == str(exact)
    assert fast.amount.as_tuple() == exact.as_tuple()
