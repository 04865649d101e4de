"""The seller: the legal entity that issues the invoices, and the terms it sells on.

It is configuration (one issuing entity per deployment), not an aggregate: an invoice
copies what it shows of the seller when it is issued. A French seller must show its SIREN,
its VAT number (unless under the art. 293 B franchise), and, to business customers, the
late-payment penalty rate, the fixed EUR 40 recovery indemnity (art. L441-10 and D441-5 of
the Code de commerce) and its terms for early payment (art. L441-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.account import _email
from domain.bank_account import BankAccount
from domain.errors import InvalidValue
from domain.legal_text import checked, required
from domain.money import Money
from domain.postal_address import PostalAddress
from domain.siren import Siren, Siret
from domain.vat_number import VatNumber

RECOVERY_INDEMNITY = Money.of("40.00", "EUR")


@dataclass(frozen=True)
class LatePaymentTerms:
    penalty_rate: Decimal  # per year, a fraction: at least three times the legal interest rate
    recovery_indemnity: Money = RECOVERY_INDEMNITY
    early_payment: str = "Pas d'escompte pour paiement anticipé."

    def __post_init__(self) -> None:
        if not 0 < self.penalty_rate < 1:
            raise InvalidValue(f"a yearly penalty rate is between 0 and 1, got {self.penalty_rate}")
        required(self.early_payment, "early-payment terms", 300)

    @property
    def penalty_percent(self) -> Decimal:
        return (self.penalty_rate * 100).normalize()


@dataclass(frozen=True)
class Seller:
    legal_name: str  # BT-27
    address: PostalAddress  # BG-5
    email: str  # BT-34 when it has no SIREN to be addressed by, and BT-43
    late_payment: LatePaymentTerms
    vat_number: VatNumber | None = None  # BT-31
    siren: Siren | None = None  # BT-30, scheme 0002
    siret: Siret | None = None  # BT-29, scheme 0009: the issuing establishment
    bank_account: BankAccount | None = None  # BT-84, BT-86
    legal_form: str = ""  # BT-33: "SAS au capital de 10 000 EUR, RCS Paris 732 829 320"
    vat_franchise: bool = False  # art. 293 B du CGI: no VAT charged

    def __post_init__(self) -> None:
        required(self.legal_name, "seller legal name")
        _email(self.email, "seller e-mail")
        checked(self.legal_form, "seller legal form", 300)
        if self.address.country == "FR" and self.siren is None:
            raise InvalidValue("a French seller must show its SIREN")
        if self.siret is not None and self.siret.siren != self.siren:
            raise InvalidValue(f"SIRET {self.siret} is not an establishment of SIREN {self.siren}")
        if self.vat_number is None and not self.vat_franchise:
            raise InvalidValue("a seller that charges VAT must show its VAT number")
        if (
            self.vat_number is not None
            and self.siren is not None
            and self.vat_number.value.startswith("FR")
            and self.vat_number.value[4:] != self.siren.value
        ):
            raise InvalidValue(f"VAT number {self.vat_number} is not that of SIREN {self.siren}")
