"""VAT identification numbers of the EU member states, checked for format.

A VAT number is its state's prefix (ISO 3166-1 alpha-2, except ``EL`` for Greece, and
``XI`` for Northern Ireland, which stays in the EU VAT area for goods) followed by the
national number, whose shape each state fixes (the European Commission's VIES rules). This
checks the shape, and for France the two-digit key, which is derived from the SIREN the
number carries: ``key = (12 + 3 * (SIREN mod 97)) mod 97``. Whether the number is
registered is for VIES to say, online; a typo is caught here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidIdentifier
from domain.siren import Siren

# The national part of the number, after the prefix.
FORMATS: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z]\d{7}[A-Z0-9]|\d{8}[A-Z]",
    "FI": r"\d{8}",
    "FR": r"[0-9A-HJ-NP-Z]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"[1-9]\d{1,9}",
    "SE": r"\d{10}01",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "XI": r"\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2}",
}
_PATTERNS = {prefix: re.compile(pattern) for prefix, pattern in FORMATS.items()}
# The prefixes that are not the country's ISO code.
_COUNTRY_OF_PREFIX = {"EL": "GR", "XI": "GB"}
_SEPARATORS = re.compile(r"[\s.\-]")

EU_MEMBER_STATES = frozenset(_COUNTRY_OF_PREFIX.get(p, p) for p in FORMATS) - {"GB"}


@dataclass(frozen=True)
class VatNumber:
    """An EU VAT number with its prefix, as written without spaces: ``FR40303265045``."""

    value: str

    def __post_init__(self) -> None:
        prefix, national = self.value[:2], self.value[2:]
        pattern = _PATTERNS.get(prefix)
        if pattern is None:
            raise InvalidIdentifier(
                f"{self.value!r} does not start with the prefix of an EU VAT number"
            )
        if not pattern.fullmatch(national):
            raise InvalidIdentifier(
                f"{self.value!r} is not a {prefix} VAT number: "
                f"the part after {prefix} must match {FORMATS[prefix]}"
            )
        if prefix == "FR":
            _check_french_key(national)

    @classmethod
    def parse(cls, text: str) -> VatNumber:
        """Read a VAT number as people write it (``fr 40 303 265 045``, ``DE-123.456.789``)."""
        return cls(_SEPARATORS.sub("", text).upper())

    @property
    def country(self) -> str:
        """The ISO 3166-1 country that issued it (``GR`` for ``EL``, ``GB`` for ``XI``)."""
        prefix = self.value[:2]
        return _COUNTRY_OF_PREFIX.get(prefix, prefix)

    def __str__(self) -> str:
        return self.value


def _check_french_key(national: str) -> None:
    key, siren = national[:2], national[2:]
    if not key.isdigit():
        return  # the newer alphanumeric keys have no published formula
    if siren[:3] != "000":  # Monaco's companies have FR numbers without a SIREN
        Siren(siren)
    if int(key) != (12 + 3 * (int(siren) % 97)) % 97:
        raise InvalidIdentifier(f"FR{national} does not match the key of SIREN {siren}")
