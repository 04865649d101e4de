"""A postal address as invoices print it and e-invoices carry it (EN 16931 BG-5, BG-8)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidValue
from domain.legal_text import checked, required


@dataclass(frozen=True)
class PostalAddress:
    line1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2
    line2: str = ""
    region: str = ""

    def __post_init__(self) -> None:
        required(self.line1, "address")
        required(self.city, "city", 100)
        required(self.postal_code, "postal code", 20)
        checked(self.line2, "address line 2")
        checked(self.region, "region", 100)
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise InvalidValue(f"country must be an ISO 3166 two-letter code, got {self.country!r}")

    @property
    def lines(self) -> tuple[str, ...]:
        """The address as printed, one line each, blank parts left out."""
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        return tuple(p for p in (self.line1, self.line2, place, self.region, self.country) if p)
