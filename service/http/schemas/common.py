"""What every resource's bodies share: the checked field types (text, codes, amounts,
days), ``Body`` and ``MoneyOut``. Each resource's bodies are in a module of its own
(``accounts``, ``subscriptions``, ``invoices``, ...); a response model that answers with an
aggregate validates the read model's document of it (``projections/documents.py``), so the
shape is converted from the domain in one place.

Amounts travel as decimal strings ("12.50"), never as JSON numbers, so no float ever
touches money.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.calendar_bounds import EARLIEST_DAY, LATEST_DAY, bounded_day, bounded_instant
from domain.errors import InvalidValue
from domain.money import Money, minor_unit
from domain.payment_method import PaymentMethodReference
from domain.text import safe_text
from projections.documents import money


def domain_rule(check: Callable[[str], str]) -> AfterValidator:
    """A domain check as a field validator: its refusal becomes the field's 422 message."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidValue as error:
            raise ValueError(str(error)) from None

    return AfterValidator(validate)


def safe(limit: int, multiline: bool = False) -> AfterValidator:
    """The domain's one definition of safe text (domain/text.py): no control characters,
    no card number, at most ``limit`` characters."""
    return domain_rule(lambda value: safe_text(value, "the text", limit, multiline))


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), safe(200)
]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,40}$")]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,100}$"), safe(100)]
Email = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200), safe(200)
]
Amount = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,4})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500), safe(500)
]
AddressLine = Annotated[str, StringConstraints(max_length=200), safe(200)]
PostalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), safe(20)
]
Region = Annotated[str, StringConstraints(max_length=100), safe(100)]
TaxId = Annotated[str, StringConstraints(max_length=50), safe(50)]
Phone = Annotated[str, StringConstraints(max_length=40), safe(40)]
PaymentMethod = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=100),
    domain_rule(PaymentMethodReference),
    Field(
        description="The payment provider's token (pm_ and letters, digits, underscores), "
        "e.g. pm_card_visa; never a card number",
        examples=["pm_card_visa"],
    ),
]
Quantity = Annotated[int, Field(ge=1, le=100_000)]
Months = Annotated[int, Field(ge=1, le=60)]


def _day(day: date) -> date:
    try:
        return bounded_day(day)
    except InvalidValue as error:
        raise ValueError(str(error)) from None


def _instant(moment: datetime) -> datetime:
    try:
        return bounded_instant(moment)
    except InvalidValue as error:
        raise ValueError(str(error)) from None


_BOUNDS = f"between {EARLIEST_DAY} and {LATEST_DAY}"
# Every date and instant a request may carry, in a body or a query (domain/calendar_bounds.py).
Day = Annotated[date, AfterValidator(_day), Field(description=f"A date {_BOUNDS}")]
Instant = Annotated[
    datetime, AfterValidator(_instant), Field(description=f"An ISO 8601 instant {_BOUNDS}")
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyOut(BaseModel):
    amount: str = Field(examples=["1500.00"])
    currency: str = Field(examples=["USD"])

    @classmethod
    def of(cls, value: Money) -> MoneyOut:
        return cls.model_validate(money(value))


def money_in(amount: str, currency: str) -> Money:
    return Money(Decimal(amount), currency)


def known_currency(currency: str | None) -> str | None:
    """A currency named in a query: refused (422 unknown-currency) unless ISO 4217 has it,
    as when opening an account in it."""
    if currency is not None:
        minor_unit(currency)
    return currency
