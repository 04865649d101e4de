"""How VAT applies to a sale: its EN 16931 category, its rate, and the legal wording.

A French seller of software services charges French VAT to French customers; to a
business in another EU state it charges none, and the buyer accounts for it (reverse
charge, art. 196 of directive 2006/112/EC; the invoice says "Autoliquidation"); outside
the EU the service is not taxed in France (art. 259-1 of the CGI). A seller under the
franchise of art. 293 B of the CGI charges no VAT at all and says so on every invoice.
A consumer (no VAT number) in another EU state pays the VAT of their own state.

Each treatment carries the category code (UNTDID 5305, as EN 16931 restricts it), the
rate, and, where no VAT is charged, the exemption reason in words (BT-120) and as a
VATEX code (BT-121): EN 16931 requires one of the two (BR-E-10, BR-AE-10, BR-G-10, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from domain.errors import InvalidValue
from domain.legal_text import checked
from domain.vat_number import EU_MEMBER_STATES


class VatCategory(Enum):
    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"  # supply of goods to a business in another EU state
    EXPORT = "G"  # outside the EU
    OUTSIDE_SCOPE = "O"  # the seller is not VAT-registered for it at all

    @property
    def charges_tax(self) -> bool:
        return self is VatCategory.STANDARD


@dataclass(frozen=True)
class VatTreatment:
    category: VatCategory
    rate: Decimal = Decimal(0)  # a fraction: 0.20 is 20 %
    exemption_reason: str = ""  # BT-120: the words the invoice must show
    exemption_code: str = ""  # BT-121: the VATEX code

    def __post_init__(self) -> None:
        checked(self.exemption_reason, "VAT exemption reason", 300)
        if self.category.charges_tax:
            if not 0 < self.rate < 1:
                raise InvalidValue(f"a standard VAT rate is between 0 and 1, got {self.rate}")
            if self.exemption_reason or self.exemption_code:
                raise InvalidValue("VAT that is charged has no exemption reason")
            return
        if self.rate != 0:
            raise InvalidValue(f"no VAT is charged under category {self.category.value}")
        exempted = self.category is not VatCategory.ZERO_RATED
        if exempted and not (self.exemption_reason and self.exemption_code):
            raise InvalidValue(
                f"VAT category {self.category.value} needs the exemption reason and its code"
            )

    @classmethod
    def standard(cls, rate: Decimal) -> VatTreatment:
        return cls(VatCategory.STANDARD, rate)

    @property
    def percent(self) -> Decimal:
        """The rate in percent, as invoices print it: ``20``, ``5.5``."""
        return (self.rate * 100).normalize()


FRANCHISE = VatTreatment(
    VatCategory.EXEMPT, Decimal(0), "TVA non applicable, art. 293 B du CGI", "VATEX-FR-FRANCHISE"
)
REVERSE_CHARGE = VatTreatment(
    VatCategory.REVERSE_CHARGE,
    Decimal(0),
    "Autoliquidation (art. 196 de la directive 2006/112/CE)",
    "VATEX-EU-AE",
)
EXPORT_OF_SERVICES = VatTreatment(
    VatCategory.EXPORT, Decimal(0), "TVA non applicable, art. 259-1 du CGI", "VATEX-EU-G"
)


def vat_treatment(
    seller_country: str,
    seller_franchise: bool,
    buyer_country: str,
    buyer_has_vat_number: bool,
    standard_rate: Decimal,
) -> VatTreatment:
    """The treatment of a service sold by a seller established in ``seller_country``.

    ``standard_rate`` is the rate of VAT due where the service is taxed when VAT is charged:
    the buyer's country's (``domain.tax.tax_rate``), which is the seller's own for a
    domestic sale and the consumer's for a consumer elsewhere in the EU.
    """
    if seller_franchise:
        return FRANCHISE
    if buyer_country == seller_country:
        return VatTreatment.standard(standard_rate)
    if buyer_country not in EU_MEMBER_STATES:
        return EXPORT_OF_SERVICES
    if buyer_has_vat_number:
        return REVERSE_CHARGE
    return VatTreatment.standard(standard_rate)
