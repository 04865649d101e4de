"""The seller's identity, as configured: who issues the invoices (``SUBLEDGER_SELLER_*``).

One issuing entity per deployment (domain/seller.py). Each variable left unset takes the
demo seller's value, so `make run` needs none; a production deployment sets them all.
A malformed value (an IBAN whose check digits fail, a SIRET of another SIREN) stops the
service at start with one clear line, never an invoice later.

The variables, each ``SUBLEDGER_SELLER_`` and: ``LEGAL_NAME`` (BT-27);
``ADDRESS_LINE1``, ``ADDRESS_LINE2``, ``POSTAL_CODE``, ``CITY``, ``COUNTRY`` (BG-5);
``EMAIL``; ``SIREN`` and ``SIRET`` (a French seller's company and establishment);
``VAT_NUMBER``; ``IBAN`` and ``BIC`` (payment by transfer); ``LEGAL_FORM`` (form, capital,
registry); ``PENALTY_RATE`` (yearly late-payment penalty rate, a fraction: 0.1215);
``VAT_FRANCHISE`` (``true`` under art. 293 B du CGI: no VAT). The demo values are below.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from domain.bank_account import BankAccount
from domain.errors import DomainError
from domain.postal_address import PostalAddress
from domain.seller import LatePaymentTerms, Seller
from domain.siren import Siren, Siret
from domain.vat_number import VatNumber

PREFIX = "SUBLEDGER_SELLER_"

# Made-up identifiers whose check digits pass; the IBAN is ISO 13616's own example.
DEMO = {
    "LEGAL_NAME": "Subledger SAS",
    "ADDRESS_LINE1": "12 rue de la Paix",
    "ADDRESS_LINE2": "",
    "POSTAL_CODE": "75002",
    "CITY": "Paris",
    "COUNTRY": "FR",
    "EMAIL": "facturation@subledger.example",
    "SIREN": "123456782",
    "SIRET": "12345678200010",
    "VAT_NUMBER": "FR11123456782",
    "IBAN": "FR7630006000011234567890189",
    "BIC": "AGRIFRPP",
    "LEGAL_FORM": "SAS au capital de 10 000 EUR, RCS Paris 123 456 782",
    "PENALTY_RATE": "0.1215",
    "VAT_FRANCHISE": "false",
}


class SellerMisconfigured(ValueError):
    """A SUBLEDGER_SELLER_* variable holds what no seller can have."""


def seller_from_environ(environ: Mapping[str, str]) -> Seller:
    value = {name: environ.get(PREFIX + name, default).strip() for name, default in DEMO.items()}
    franchise = value["VAT_FRANCHISE"].lower()
    if franchise not in ("true", "false"):
        raise SellerMisconfigured(f"{PREFIX}VAT_FRANCHISE must be true or false, got {franchise!r}")
    try:
        rate = Decimal(value["PENALTY_RATE"])
    except InvalidOperation:
        raise SellerMisconfigured(
            f"{PREFIX}PENALTY_RATE must be a yearly rate such as 0.1215"
        ) from None
    try:
        return Seller(
            legal_name=value["LEGAL_NAME"],
            address=PostalAddress(
                value["ADDRESS_LINE1"],
                value["CITY"],
                value["POSTAL_CODE"],
                value["COUNTRY"],
                value["ADDRESS_LINE2"],
            ),
            email=value["EMAIL"],
            late_payment=LatePaymentTerms(rate),
            vat_number=VatNumber.parse(value["VAT_NUMBER"]) if value["VAT_NUMBER"] else None,
            siren=Siren(value["SIREN"].replace(" ", "")) if value["SIREN"] else None,
            siret=Siret(value["SIRET"].replace(" ", "")) if value["SIRET"] else None,
            bank_account=(
                BankAccount.parse(value["IBAN"], value["BIC"]) if value["IBAN"] else None
            ),
            legal_form=value["LEGAL_FORM"],
            vat_franchise=franchise == "true",
        )
    except DomainError as error:
        raise SellerMisconfigured(f"the seller ({PREFIX}*) is misconfigured: {error}") from None


DEMO_SELLER = seller_from_environ({})
