"""A payment-method reference: the payment provider's token for a customer's card or
account, never the card number itself.

One type serves everywhere a method is named (the account's payment method, a payment,
a failed payment), so one rule decides what may be recorded: ``pm_`` followed by the
provider's token alphabet (letters, digits, underscores), at most 100 characters, and
no card number inside it (``pm_4242424242424242`` is a card number with a prefix).
"""

from __future__ import annotations

import re

from domain.card_number import refuse_card_numbers
from domain.errors import InvalidValue

MAX_LENGTH = 100
_TOKEN = re.compile(r"pm_[A-Za-z0-9_]+")
FIELD = "a payment-method reference"


class NotAPaymentMethodToken(InvalidValue):
    code = "not-a-payment-method-token"

    def __init__(self) -> None:
        super().__init__(
            f"{FIELD} is the payment provider's token: pm_ followed by letters, digits and "
            f"underscores, at most {MAX_LENGTH} characters (e.g. pm_card_visa)"
        )


class PaymentMethodReference(str):
    """A provider token, checked when made; it is the string itself, so events keep
    storing plain text and read back as they always did."""

    __slots__ = ()

    def __new__(cls, value: str) -> PaymentMethodReference:
        value = value.strip()
        refuse_card_numbers(value, FIELD)  # first: the more useful refusal for a PAN
        if len(value) > MAX_LENGTH or not _TOKEN.fullmatch(value):
            raise NotAPaymentMethodToken()
        return super().__new__(cls, value)


class PaymentMethodNotOnAccount(InvalidValue):
    code = "payment-method-not-on-account"

    def __init__(self) -> None:
        super().__init__(
            "a payment can only use a payment method recorded on the paying account; "
            "set it as the account's payment method first"
        )


def recorded_reference(reference: str) -> str:
    """``reference``, checked, as an event records it: plain text, so that it reads back
    exactly as written."""
    return str(PaymentMethodReference(reference))
