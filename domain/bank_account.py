"""The bank account a seller is paid into: IBAN (ISO 13616) and, optionally, BIC (ISO 9362).

The IBAN is checked as banks check it: country letters, two check digits, up to 30
letters and digits, and the whole number mod 97 equal to 1 once its first four characters
are moved to the end and letters read as 10..35. It catches every mistyped digit and
most other typos; the country's own layout of the rest is not checked, nor whether the
account exists: that is the bank's to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidIdentifier

_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


def _mod97(iban: str) -> int:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


@dataclass(frozen=True)
class BankAccount:
    iban: str  # without spaces: FR7630006000011234567890189
    bic: str = ""

    def __post_init__(self) -> None:
        if not _IBAN.fullmatch(self.iban) or _mod97(self.iban) != 1:
            raise InvalidIdentifier(f"{self.iban!r} is not a valid IBAN")
        if self.bic and not _BIC.fullmatch(self.bic):
            raise InvalidIdentifier(f"{self.bic!r} is not a BIC (8 or 11 letters and digits)")

    @classmethod
    def parse(cls, iban: str, bic: str = "") -> BankAccount:
        """Read an IBAN as printed, in groups of four (``FR76 3000 6000 ...``)."""
        return cls(re.sub(r"\s", "", iban).upper(), bic.strip().upper())

    @property
    def printed_iban(self) -> str:
        """The IBAN in groups of four, as it is printed on an invoice."""
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))
