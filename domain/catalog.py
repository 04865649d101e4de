"""The product catalog: what can be sold, in which editions, at what price, since when.

Prices are versioned by effective date: ``price(..., on=day)`` answers with the list
price in force on that day. A contract stores the unit price it was sold at, so a later
price change never alters an existing contract; renewals are priced on their start day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum

from domain.errors import PriceNotAvailable, ProductNotInEdition, UnknownProduct, UpgradeNotHigher
from domain.money import Money, minor_unit
from domain.period import BillingPeriod


class Edition(Enum):
    ESSENTIALS = "Essentials"
    PROFESSIONAL = "Professional"
    ENTERPRISE = "Enterprise"

    @property
    def rank(self) -> int:
        return list(Edition).index(self)

    def check_upgrade_to(self, target: Edition) -> None:
        if target.rank <= self.rank:
            raise UpgradeNotHigher(self.value, target.value)


class ProductKind(Enum):
    PRODUCT = "product"
    ADD_ON = "add-on"


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    kind: ProductKind
    unit: str  # what one unit of quantity is: a seat, a 1 GB block
    per_seat: bool  # seats are assigned to users (a License aggregate tracks them)
    editions: frozenset[Edition]


@dataclass(frozen=True)
class PriceVersion:
    """Monthly list prices per unit, in force from ``effective_from`` until the next version."""

    effective_from: date
    monthly: dict[tuple[str, Edition, str], Decimal]  # (product, edition, currency) -> price


ALL_EDITIONS = frozenset(Edition)
PROFESSIONAL_UP = frozenset({Edition.PROFESSIONAL, Edition.ENTERPRISE})

PRODUCTS: dict[str, Product] = {
    p.code: p
    for p in [
        Product("sales-cloud", "Sales Cloud", ProductKind.PRODUCT, "seat", True, ALL_EDITIONS),
        Product("service-cloud", "Service Cloud", ProductKind.PRODUCT, "seat", True, ALL_EDITIONS),
        Product("data-storage", "Data Storage", ProductKind.ADD_ON, "1 GB", False, ALL_EDITIONS),
        Product("file-storage", "File Storage", ProductKind.ADD_ON, "10 GB", False, ALL_EDITIONS),
        Product("inbox", "Inbox", ProductKind.ADD_ON, "seat", True, PROFESSIONAL_UP),
        Product(
            "lightning-dialer",
            "Lightning Dialer",
            ProductKind.ADD_ON,
            "seat",
            True,
            PROFESSIONAL_UP,
        ),
    ]
}

# The free license that lets a user without product access use the billing app.
IDENTITY_LICENSE = Product("identity", "Identity", ProductKind.PRODUCT, "user", True, ALL_EDITIONS)
FREE_IDENTITY_LICENSES = 100


def _version(effective_from: date, usd: dict[tuple[str, Edition], str]) -> PriceVersion:
    """Build a price version; EUR prices are the USD figures less 8%, rounded to cents."""
    monthly: dict[tuple[str, Edition, str], Decimal] = {}
    for (code, edition), price in usd.items():
        monthly[(code, edition, "USD")] = Decimal(price)
        eur = (Decimal(price) * Decimal("0.92")).quantize(Decimal("0.01"))
        monthly[(code, edition, "EUR")] = eur
    return PriceVersion(effective_from, monthly)


def _per_edition(code: str, e: str, p: str, n: str) -> dict[tuple[str, Edition], str]:
    return {
        (code, Edition.ESSENTIALS): e,
        (code, Edition.PROFESSIONAL): p,
        (code, Edition.ENTERPRISE): n,
    }


def _flat(code: str, price: str, editions: frozenset[Edition]) -> dict[tuple[str, Edition], str]:
    return {(code, edition): price for edition in editions}


PRICE_VERSIONS: list[PriceVersion] = [
    _version(
        date(2024, 1, 1),
        _per_edition("sales-cloud", "25", "80", "165")
        | _per_edition("service-cloud", "25", "80", "165")
        | _flat("data-storage", "5", ALL_EDITIONS)
        | _flat("file-storage", "5", ALL_EDITIONS)
        | _flat("inbox", "25", PROFESSIONAL_UP)
        | _flat("lightning-dialer", "75", PROFESSIONAL_UP),
    ),
    # The 2026 list-price change: Professional and Enterprise seats cost more.
    _version(
        date(2026, 8, 1),
        _per_edition("sales-cloud", "25", "100", "175")
        | _per_edition("service-cloud", "25", "100", "175")
        | _flat("data-storage", "5", ALL_EDITIONS)
        | _flat("file-storage", "5", ALL_EDITIONS)
        | _flat("inbox", "25", PROFESSIONAL_UP)
        | _flat("lightning-dialer", "80", PROFESSIONAL_UP),
    ),
]


def product(code: str) -> Product:
    try:
        return PRODUCTS[code]
    except KeyError:
        raise UnknownProduct(code) from None


def product_for_edition(code: str, edition: Edition) -> Product:
    found = product(code)
    if edition not in found.editions:
        raise ProductNotInEdition(code, edition.value)
    return found


def price_version(on: date) -> PriceVersion:
    in_force = [v for v in PRICE_VERSIONS if v.effective_from <= on]
    if not in_force:
        raise PriceNotAvailable(
            f"the catalog has no prices before {PRICE_VERSIONS[0].effective_from}"
        )
    return max(in_force, key=lambda v: v.effective_from)


def unit_price(
    code: str, edition: Edition, currency: str, period: BillingPeriod, on: date
) -> Money:
    """List price of one unit for one billing period, in force on ``on``."""
    product_for_edition(code, edition)
    minor_unit(currency)  # an unknown currency is named as such
    try:
        monthly = price_version(on).monthly[(code, edition, currency)]
    except KeyError:
        raise PriceNotAvailable(f"{code!r} has no {currency} price") from None
    return Money(monthly * period.months, currency)
