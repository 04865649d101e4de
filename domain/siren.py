"""French company numbers: the SIREN of a company and the SIRET of one of its establishments.

A SIREN is 9 digits, a SIRET 14 (the SIREN, then a 5-digit establishment number); both end
in a Luhn check digit (the SIRET's covers all 14 digits, and its SIREN must be valid too).
The one exception is La Poste, whose establishments were numbered before the rule: a SIRET
under SIREN 356 000 000 is valid when the sum of its digits is a multiple of 5 (INSEE's
published rule). French invoices must show the SIREN of each French party, and e-invoices
carry it as the legal registration identifier (ISO 6523 scheme 0002).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidIdentifier

LA_POSTE = "356000000"
_SEPARATORS = re.compile(r"[\s.\-]")


def luhn_valid(digits: str) -> bool:
    """True when the ASCII digits ``digits`` pass the Luhn (mod 10) check."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _digits(text: str, length: int, what: str) -> str:
    if not re.fullmatch(rf"\d{{{length}}}", text):
        raise InvalidIdentifier(f"a {what} is {length} digits, got {text!r}")
    return text


@dataclass(frozen=True)
class Siren:
    """A French company's 9-digit SIREN, as written without spaces."""

    value: str

    def __post_init__(self) -> None:
        if not luhn_valid(_digits(self.value, 9, "SIREN")):
            raise InvalidIdentifier(f"SIREN {self.value} fails its check digit")

    @classmethod
    def parse(cls, text: str) -> Siren:
        """Read a SIREN as people write it (``732 829 320``)."""
        return cls(_SEPARATORS.sub("", text))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Siret:
    """One establishment's 14-digit SIRET: its company's SIREN, then 5 digits."""

    value: str

    def __post_init__(self) -> None:
        digits = _digits(self.value, 14, "SIRET")
        Siren(digits[:9])  # an establishment of a company that exists
        if digits.startswith(LA_POSTE):
            valid = sum(int(char) for char in digits) % 5 == 0
        else:
            valid = luhn_valid(digits)
        if not valid:
            raise InvalidIdentifier(f"SIRET {self.value} fails its check digit")

    @classmethod
    def parse(cls, text: str) -> Siret:
        return cls(_SEPARATORS.sub("", text))

    @property
    def siren(self) -> Siren:
        return Siren(self.value[:9])

    def __str__(self) -> str:
        return self.value
