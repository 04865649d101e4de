"""Card numbers (PANs) are never recorded: not as a payment method, not in any text.

A card number is 13 to 19 digits passing the Luhn check. People write them in groups
(``4242 4242 4242 4242``, ``4242-4242-...``, ``4242.4242...``) and inside other words
(``card 4242424242424242``), so the check looks at every run of digits separated by at
most a few spaces, dots, dashes or underscores, and refuses any stretch of whole groups
of that run that holds 13 to 19 digits and passes Luhn. A run of more than 19 digits
with no separator is some other number (an IBAN's digits, a long id) and is left alone.
"""

from __future__ import annotations

import re

from domain.errors import InvalidValue

MIN_DIGITS, MAX_DIGITS = 13, 19
# A digit, then any number of (at most three separators, a digit).
_RUN = re.compile(r"\d(?:[\s._\-]{0,3}\d)*")
_GROUP = re.compile(r"\d+")


class CardNumberRefused(InvalidValue):
    code = "card-number-refused"

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field} looks like a card number (13 to 19 digits passing the Luhn check): "
            "card numbers are never recorded; a payment method is the provider's token "
            "(pm_...). If it is not a card number, write it without those digits together"
        )


def passes_luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _holds_card_number(run: str) -> bool:
    groups = _GROUP.findall(run)
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last]
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS and passes_luhn(digits):
                return True
    return False


def contains_card_number(text: str) -> bool:
    return any(_holds_card_number(run.group()) for run in _RUN.finditer(text))


def refuse_card_numbers(text: str, field: str) -> None:
    if contains_card_number(text):
        raise CardNumberRefused(field)
