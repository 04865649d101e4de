"""Which VAT a French seller of services charges, and the words that say why it charges none."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import InvalidValue
from domain.vat_number import VatNumber
from domain.vat_treatment import (
    EXPORT_OF_SERVICES,
    FRANCHISE,
    REVERSE_CHARGE,
    VatCategory,
    VatTreatment,
    vat_treatment,
)

GERMAN_VAT = VatNumber("DE136695976")
FRENCH_VAT = VatNumber("FR40303265045")


@pytest.mark.parametrize(
    ("buyer_country", "buyer_vat", "rate", "expected"),
    [
        ("FR", FRENCH_VAT, "0.20", VatTreatment.standard(Decimal("0.20"))),
        ("FR", None, "0.20", VatTreatment.standard(Decimal("0.20"))),
        ("DE", GERMAN_VAT, "0.19", REVERSE_CHARGE),
        ("DE", None, "0.19", VatTreatment.standard(Decimal("0.19"))),  # a consumer: OSS
        ("US", None, "0", EXPORT_OF_SERVICES),
        ("GB", None, "0.20", EXPORT_OF_SERVICES),
    ],
)
def test_a_french_seller_charges_french_vat_at_home_and_none_to_eu_businesses_or_abroad(
    buyer_country, buyer_vat, rate, expected
):
    registered = buyer_vat is not None
    assert vat_treatment("FR", False, buyer_country, registered, Decimal(rate)) == expected


@pytest.mark.parametrize("buyer_country", ["FR", "DE", "US"])
def test_a_seller_under_the_293_b_franchise_never_charges_vat(buyer_country):
    treatment = vat_treatment("FR", True, buyer_country, False, Decimal("0.20"))
    assert treatment == FRANCHISE
    assert treatment.category is VatCategory.EXEMPT
    assert treatment.exemption_reason == "TVA non applicable, art. 293 B du CGI"


def test_untaxed_treatments_say_why_in_words_and_in_a_vatex_code():
    assert REVERSE_CHARGE.exemption_reason.startswith("Autoliquidation")
    assert (REVERSE_CHARGE.exemption_code, EXPORT_OF_SERVICES.exemption_code) == (
        "VATEX-EU-AE",
        "VATEX-EU-G",
    )
    assert VatTreatment.standard(Decimal("0.055")).percent == Decimal("5.5")


@pytest.mark.parametrize(
    "make",
    [
        lambda: VatTreatment(VatCategory.STANDARD, Decimal(0)),
        lambda: VatTreatment(VatCategory.STANDARD, Decimal("0.2"), "exempt", "VATEX-EU-O"),
        lambda: VatTreatment(VatCategory.REVERSE_CHARGE, Decimal("0.2"), "x", "VATEX-EU-AE"),
        lambda: VatTreatment(VatCategory.EXEMPT),
        lambda: VatTreatment(VatCategory.EXPORT, Decimal(0), "Export", ""),
    ],
)
def test_a_treatment_that_cannot_appear_on_an_invoice_is_refused(make):
    with pytest.raises(InvalidValue):
        make()
