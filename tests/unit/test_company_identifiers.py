"""SIREN, SIRET, EU VAT numbers and IBANs: the formats and check digits the domain accepts.

python-stdnum (installed with factur-x) is an independent implementation of the same
national rules; where both apply, they must agree.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

from domain.bank_account import BankAccount
from domain.errors import InvalidIdentifier
from domain.siren import Siren, Siret
from domain.vat_number import EU_MEMBER_STATES, FORMATS, VatNumber


def accepts(kind, value: str) -> bool:
    try:
        kind(value)
    except InvalidIdentifier:
        return False
    return True


@given(st.text("0123456789", min_size=9, max_size=9))
def test_a_siren_is_accepted_exactly_when_stdnum_accepts_it(digits):
    assert accepts(Siren, digits) == stdnum_siren.is_valid(digits)


@given(st.text("0123456789", min_size=14, max_size=14))
def test_a_siret_is_accepted_exactly_when_stdnum_accepts_it(digits):
    assert accepts(Siret, digits) == stdnum_siret.is_valid(digits)


@given(st.text("0123456789", min_size=5, max_size=5))
def test_la_poste_establishments_follow_their_own_rule(establishment):
    number = "356000000" + establishment
    valid = sum(int(d) for d in number) % 5 == 0
    assert accepts(Siret, number) == valid == stdnum_siret.is_valid(number)


@given(st.integers(0, 8), st.integers(1, 9))
def test_one_mistyped_digit_is_caught(position, shift):
    siren = "123456782"
    typo = siren[:position] + str((int(siren[position]) + shift) % 10) + siren[position + 1 :]
    assert not accepts(Siren, typo)


def test_numbers_are_read_as_people_write_them():
    assert Siren.parse("123 456 782").value == "123456782"
    assert Siret.parse("123 456 782 00010").siren == Siren("123456782")
    assert VatNumber.parse("fr 11 123.456.782").value == "FR11123456782"
    assert BankAccount.parse("fr76 3000 6000 0112 3456 7890 189").iban == (
        "FR7630006000011234567890189"
    )


@pytest.mark.parametrize("value", ["12345678", "1234567820", "12345678A", "123456783", ""])
def test_a_malformed_siren_is_refused_with_what_is_wrong(value):
    with pytest.raises(InvalidIdentifier, match="SIREN"):
        Siren(value)


# One well-formed number per prefix; stdnum confirms each one's own check digits too.
VALID_VAT_NUMBERS = [
    "ATU13585627",
    "BE0403019261",
    "BG175074752",
    "CY10259033P",
    "CZ25123891",
    "DE136695976",
    "DK13585628",
    "EE100931558",
    "EL094259216",
    "ESX2482300W",
    "ESA13585625",
    "FI20774740",
    "FR40303265045",
    "HR33392005961",
    "HU12892312",
    "IE6433435F",
    "IT00743110157",
    "LT119511515",
    "LU15027442",
    "LV40003521600",
    "MT11679112",
    "NL004495445B01",
    "PL8567346215",
    "PT501964843",
    "RO18547290",
    "SE556188840401",
    "SI50223054",
    "SK2022749619",
    "XI980780684",
]


def test_every_prefix_has_an_example():
    assert sorted({number[:2] for number in VALID_VAT_NUMBERS}) == sorted(FORMATS)


@pytest.mark.parametrize("number", VALID_VAT_NUMBERS)
def test_a_well_formed_vat_number_of_each_state_is_accepted(number):
    assert stdnum_vat.is_valid(number)
    assert VatNumber(number).value == number


@pytest.mark.parametrize(
    "number",
    [
        "DE12345678",  # one digit short
        "ATX13585627",  # Austria's numbers start with U
        "NL004495445C01",  # the Dutch B
        "BE2403019261",  # Belgian numbers start with 0 or 1
        "ES12345678",  # Spain: a letter at one end
        "GB123456789",  # the UK left the EU VAT area (XI stays)
        "US123456789",
        "FR12303265045",  # the key does not match the SIREN
        "FR40303265046",  # the SIREN fails its check digit
        "FRI0303265045",  # I and O are never key letters
    ],
)
def test_a_malformed_vat_number_is_refused(number):
    with pytest.raises(InvalidIdentifier):
        VatNumber(number)


def test_the_country_of_a_vat_number():
    assert VatNumber("EL094259216").country == "GR"
    assert VatNumber("XI980780684").country == "GB"
    assert VatNumber("FR40303265045").country == "FR"
    assert len(EU_MEMBER_STATES) == 27 and "GR" in EU_MEMBER_STATES


@given(st.text("0123456789", min_size=11, max_size=11))
def test_a_french_vat_number_is_accepted_exactly_when_stdnum_accepts_it(digits):
    number = "FR" + digits
    assert accepts(VatNumber, number) == stdnum_tva.is_valid(number)


@given(st.sampled_from(VALID_VAT_NUMBERS), st.data())
def test_a_vat_number_stdnum_accepts_is_never_refused(number, data):
    prefix = number[:2]
    candidate = prefix + data.draw(st.from_regex(FORMATS[prefix], fullmatch=True))
    if stdnum_vat.is_valid(candidate):
        assert accepts(VatNumber, candidate)


IBAN = "FR7630006000011234567890189"  # ISO 13616's example


@given(st.integers(4, len(IBAN) - 1), st.sampled_from("0123456789"))
def test_an_iban_with_one_digit_changed_is_refused(position, char):
    changed = IBAN[:position] + char + IBAN[position + 1 :]
    assert accepts(BankAccount, changed) == (changed == IBAN)


def test_an_iban_is_accepted_when_stdnum_accepts_it_and_printed_in_groups():
    assert stdnum_iban.is_valid(IBAN)
    assert BankAccount(IBAN, "AGRIFRPP").printed_iban == "FR76 3000 6000 0112 3456 7890 189"
    with pytest.raises(InvalidIdentifier, match="BIC"):
        BankAccount(IBAN, "AGRI")
