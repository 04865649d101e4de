"""Money: a Decimal amount in an ISO 4217 currency. Never floats.

Amounts are rounded half-up to the currency's minor unit once per invoice line;
totals are sums of rounded lines, so a total always equals what the lines show.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal
from fractions import Fraction

from domain.errors import CurrencyMismatch, InvalidValue, UnknownCurrency

# Minor units of the currencies the ledger accepts (ISO 4217 exponent).
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 2,
    "JPY": 0,
    "KWD": 3,
}


_UNITS: dict[str, Decimal] = {code: Decimal(1).scaleb(-n) for code, n in MINOR_UNITS.items()}
# Arithmetic that never rounds (all the digits it needs), rounding half-up only where
# asked to: a Decimal times a whole number, then to the minor unit, with no Fraction.
_EXACT = Context(prec=MAX_PREC, rounding=ROUND_HALF_UP, Emax=MAX_EMAX, Emin=MIN_EMIN)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: 0.01 for USD, 1 for JPY."""
    try:
        return _UNITS[currency]  # made once: every Money made asks for it
    except KeyError:
        raise UnknownCurrency(currency) from None


def round_half_up(value: Fraction | Decimal | int, currency: str) -> Decimal:
    """Round an exact value to the currency's minor unit, halves away from zero."""
    unit = minor_unit(currency)
    if isinstance(value, Fraction):
        scaled = value / Fraction(unit)
        magnitude = (abs(scaled) + Fraction(1, 2)).__floor__()
        units = magnitude if scaled >= 0 else -magnitude
        return (Decimal(units) * unit).quantize(unit)
    return Decimal(value).quantize(unit, rounding=ROUND_HALF_UP)


def _times_fraction(amount: Decimal, factor: Fraction | int, currency: str) -> Decimal:
    """``round_half_up(Fraction(amount) * factor, currency)`` in whole numbers: the same
    Decimal, without the Fractions' normalizing (a gcd each) and their Python arithmetic
    (a prorated line's amount: a twentieth of a POST's command)."""
    unit = minor_unit(currency)
    numerator, denominator = amount.as_integer_ratio()
    # The value in minor units, scaled = amount * factor / unit, as one ratio: a unit is
    # 10 ** exponent (exponent <= 0).
    exponent = unit.as_tuple().exponent
    assert isinstance(exponent, int)
    numerator *= factor.numerator * 10**-exponent
    denominator *= factor.denominator
    # floor(|scaled| + 1/2), signed as scaled: halves away from zero.
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    units = magnitude if numerator >= 0 else -magnitude
    return (Decimal(units) * unit).quantize(unit)


@dataclass(frozen=True, order=False)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        # Made by the hundred thousand while read models fold: the usual case, a finite
        # Decimal in a known currency, is checked first and alone.
        if type(self.amount) is Decimal and self.currency in _UNITS and self.amount.is_finite():
            return
        if not isinstance(self.amount, Decimal):
            if isinstance(self.amount, bool) or not isinstance(self.amount, int | str):
                raise InvalidValue(f"money amount must be a Decimal, got {self.amount!r}")
            object.__setattr__(self, "amount", Decimal(self.amount))
        if not self.amount.is_finite():
            raise InvalidValue(f"money amount must be finite, got {self.amount}")
        minor_unit(self.currency)  # refuses unknown currencies

    @classmethod
    def zero(cls, currency: str) -> Money:
        if cls is Money:
            found = _ZEROS.get(currency)  # immutable: one per currency will do
            if found is None:
                found = _ZEROS.setdefault(
                    currency, Money(Decimal(0).quantize(minor_unit(currency)), currency)
                )
            return found
        return cls(Decimal(0).quantize(minor_unit(currency)), currency)

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(Decimal(amount), currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount >= other.amount

    def times(self, factor: int | Fraction) -> Money:
        """Multiply exactly and round half-up to the minor unit (one invoice line)."""
        if type(factor) is int:
            # The same value as the Fraction below (exact product, halves away from zero,
            # a zero never negative), a tenth of the cost: a line's amount per period.
            unit = minor_unit(self.currency)
            product = _EXACT.multiply(self.amount, Decimal(factor))
            rounded = _EXACT.quantize(product, unit)
            return Money(rounded if rounded else rounded.copy_abs(), self.currency)
        return Money(_times_fraction(self.amount, factor, self.currency), self.currency)

    def rounded(self) -> Money:
        return Money(round_half_up(self.amount, self.currency), self.currency)

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    def __str__(self) -> str:
        return f"{self.amount.quantize(minor_unit(self.currency))} {self.currency}"


_ZEROS: dict[str, Money] = {}


def total(amounts: list[Money], currency: str) -> Money:
    """Sum of amounts in one currency (zero when empty)."""
    # The Decimal additions ``Money.__add__`` does, in the same order, with one Money made
    # at the end instead of one per term.
    result = Money.zero(currency).amount
    for amount in amounts:
        if amount.currency != currency:
            raise CurrencyMismatch(currency, amount.currency)
        result += amount.amount
    return Money(result, currency)
