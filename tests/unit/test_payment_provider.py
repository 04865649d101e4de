"""The embedded fake payment provider behaves like a sandbox: test cards choose the outcome,
and an idempotency key never moves money twice."""

import pytest

from adapters.payments import FakePaymentProvider
from domain.money import Money
from domain.payment_provider import (
    Charged,
    Declined,
    PaymentProviderUnavailable,
    ProviderKeyReused,
    RefundRefused,
)

TEN = Money.of("10.00", "USD")


@pytest.fixture
def provider():
    return FakePaymentProvider()


@pytest.mark.parametrize("card", ["pm_card_visa", "pm_card_mastercard", "pm_some_saved_card"])
def test_a_good_card_is_charged(provider, card):
    result = provider.charge(card, TEN, "k1")
    assert isinstance(result, Charged)
    assert result.charge_id.startswith("ch_")
    charge = provider.charges[result.charge_id]
    assert (charge.method_reference, charge.amount) == (card, TEN)


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ("pm_card_declined", "card_declined"),
        ("pm_card_insufficient_funds", "insufficient_funds"),
        ("pm_card_expired", "expired_card"),
    ],
)
def test_a_declining_card_is_declined_with_the_providers_code_and_reason(provider, card, code):
    result = provider.charge(card, TEN, "k1")
    assert isinstance(result, Declined)
    assert result.code == code
    assert result.reason.endswith(".")
    assert provider.charges == {}


def test_an_outage_card_raises_unavailable_and_a_retry_is_tried_afresh(provider):
    with pytest.raises(PaymentProviderUnavailable):
        provider.charge("pm_card_outage", TEN, "k1")
    provider.down = True
    with pytest.raises(PaymentProviderUnavailable):
        provider.charge("pm_card_visa", TEN, "k2")
    provider.down = False
    assert isinstance(provider.charge("pm_card_visa", TEN, "k2"), Charged)  # not remembered


def test_the_same_key_returns_the_same_charge_and_never_charges_twice(provider):
    first = provider.charge("pm_card_visa", TEN, "k1")
    assert provider.charge("pm_card_visa", TEN, "k1") == first
    assert len(provider.charges) == 1
    assert provider.charge("pm_card_visa", TEN, "k2") != first  # another key: another charge
    assert len(provider.charges) == 2


def test_the_same_key_answers_a_decline_again(provider):
    first = provider.charge("pm_card_declined", TEN, "k1")
    assert provider.charge("pm_card_declined", TEN, "k1") == first


@pytest.mark.parametrize(
    ("card", "amount"),
    [("pm_card_visa", Money.of("10.01", "USD")), ("pm_card_mastercard", TEN)],
)
def test_the_same_key_with_another_request_is_refused(provider, card, amount):
    provider.charge("pm_card_visa", TEN, "k1")
    with pytest.raises(ProviderKeyReused):
        provider.charge(card, amount, "k1")
    assert len(provider.charges) == 1


def test_refunds_return_part_of_a_charge_at_most_once_per_key(provider):
    charge = provider.charge("pm_card_visa", TEN, "k1")
    assert isinstance(charge, Charged)
    four = Money.of("4.00", "USD")
    refund = provider.refund(charge.charge_id, four, "r1")
    assert refund.startswith("re_")
    assert provider.refund(charge.charge_id, four, "r1") == refund
    assert provider.refunded(charge.charge_id) == four
    with pytest.raises(ProviderKeyReused):
        provider.refund(charge.charge_id, TEN, "r1")
    with pytest.raises(RefundRefused):
        provider.refund(charge.charge_id, Money.of("6.01", "USD"), "r2")
    provider.refund(charge.charge_id, Money.of("6.00", "USD"), "r3")
    assert provider.refunded(charge.charge_id) == TEN


def test_a_refund_of_an_unknown_charge_or_in_an_outage_is_refused(provider):
    with pytest.raises(RefundRefused):
        provider.refund("ch_unknown", TEN, "r1")
    charge = provider.charge("pm_card_visa", TEN, "k1")
    assert isinstance(charge, Charged)
    provider.down = True
    with pytest.raises(PaymentProviderUnavailable):
        provider.refund(charge.charge_id, TEN, "r2")
    assert provider.refunds == {}
