"""Safe text and card numbers: what the domain refuses to record, in any free-text field.

A value recorded once is in the log for good: a control character or an unpaired
surrogate would stop a read model at that event (a poison event), and a card number
would reach every feed. The rules are checked here on their own and, below, through
every domain constructor that takes free text.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.transcoding import DataclassAsDict
from domain.account import Account, BillingDetails, Contact, ContactRole, User
from domain.card_number import CardNumberRefused, contains_card_number, passes_luhn
from domain.catalog import Edition
from domain.cause import Cause
from domain.errors import InvalidValue
from domain.invoice import Invoice, InvoiceLine
from domain.money import Money
from domain.payment_method import (
    NotAPaymentMethodToken,
    PaymentMethodNotOnAccount,
    PaymentMethodReference,
)
from domain.period import DateRange
from domain.support_case import SupportCase
from domain.text import UnsafeText, safe_text
from domain.values import VALUE_TYPES
from tests.builders import administrator, billing, cause

CONTROL = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))]
NEVER = [c for c in CONTROL if c not in "\t\n"] + ["\ud800", "\udfff"]
VISA = "4242424242424242"


# -- control characters ---------------------------------------------------------------


@pytest.mark.parametrize("char", [*CONTROL, "\ud800", "\udc00", "\u2028", "\u2029"])
def test_single_line_text_refuses_every_control_character_and_surrogate(char):
    with pytest.raises(UnsafeText, match=f"U\\+{ord(char):04X} at character 4"):
        safe_text(f"abc{char}def", "name", 200)


@pytest.mark.parametrize("char", NEVER)
def test_multi_line_text_refuses_them_too_but_tab_and_newline(char):
    with pytest.raises(UnsafeText):
        safe_text(f"abc{char}def", "description", 200, multiline=True)


def test_multi_line_text_keeps_tabs_and_newlines_and_reads_crlf_as_lf():
    assert safe_text("a\tb\r\nc\nd", "description", 200, multiline=True) == "a\tb\nc\nd"
    with pytest.raises(UnsafeText):
        safe_text("a\rb", "description", 200, multiline=True)  # a lone CR is not a line end


def test_text_is_bounded_and_other_unicode_is_welcome():
    welcome = "Société Générale \u2013 東京 🚀"
    assert safe_text(welcome, "name", 200) == welcome
    with pytest.raises(InvalidValue, match="at most 5 characters"):
        safe_text("abcdef", "name", 5)


# -- card numbers ---------------------------------------------------------------------


def luhn_completed(body: str) -> str:
    """``body`` and the check digit that makes it pass Luhn."""
    return next(body + d for d in "0123456789" if passes_luhn(body + d))


card_numbers = st.integers(min_value=12, max_value=18).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n).map(luhn_completed)
)


@st.composite
def written_with_separators(draw: st.DrawFn) -> tuple[str, str]:
    """A card number as someone might type it: each gap holds none, or up to three of
    space, dot, dash, underscore."""
    number = draw(card_numbers)
    gaps = draw(
        st.lists(
            st.text(alphabet=" .-_", max_size=3),
            min_size=len(number) - 1,
            max_size=len(number) - 1,
        )
    )
    return number, number[0] + "".join(g + d for g, d in zip(gaps, number[1:], strict=True))


@given(written_with_separators(), st.sampled_from(["", "card ", "paid with ", "n°"]))
def test_any_luhn_valid_13_to_19_digit_number_with_any_separators_is_refused(written, before):
    number, text = written
    assert passes_luhn(number) and 13 <= len(number) <= 19
    with pytest.raises(CardNumberRefused):
        safe_text(f"{before}{text} thanks", "reason", 500)
    with pytest.raises(CardNumberRefused):
        PaymentMethodReference(text)


@given(card_numbers)
def test_a_card_number_inside_a_longer_run_of_groups_is_found(number):
    assert contains_card_number(f"12 {number[:4]} {number[4:]} 34")


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails Luhn
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits written together: not a card number
        "call +1 (555) 123-4567, ext. 89",
        "invoice INV-202601-ABCD1234 of 2026-01-05",
        "FR40303265045",  # a VAT number
    ],
)
def test_numbers_that_are_not_card_numbers_pass(text):
    assert not contains_card_number(text)
    assert safe_text(text, "note", 500) == text


@pytest.mark.parametrize(
    "text", [VISA, "4242 4242 4242 4242", "4242.4242.4242.4242", "4242-4242-4242-4242"]
)
def test_the_examples_of_the_review_are_refused(text):
    for written in (text, f"card {text}", f"pm_{text}"):
        with pytest.raises(CardNumberRefused):
            PaymentMethodReference(written)


# -- the payment-method reference -----------------------------------------------------


def an_account() -> Account:
    return Account.open(
        uuid4(), "Acme", Edition.ESSENTIALS, "USD", billing(), administrator(), cause()
    )


@pytest.mark.parametrize("token", ["pm_card_visa", "pm_1MqLiJLkdIwHu7ixUEgbFdYF", "pm_x"])
def test_a_provider_token_is_a_payment_method_reference(token):
    assert PaymentMethodReference(f" {token} ") == token


@pytest.mark.parametrize(
    "text", ["pm_", "tok_visa", "pm_card visa", "pm_\x00evil", "pm_\ud800", "pm_" + "x" * 98]
)
def test_anything_else_is_not(text):
    with pytest.raises(NotAPaymentMethodToken):
        PaymentMethodReference(text)


def test_a_payment_may_only_use_a_method_recorded_on_the_account():
    account = Account.open(
        uuid4(), "Acme", Edition.ESSENTIALS, "USD", billing(), administrator(), cause()
    )
    with pytest.raises(InvalidValue, match="no payment method"):
        account.payment_method_for(None)
    account.set_payment_method("pm_card_visa", cause())
    account.set_payment_method("pm_card_mastercard", cause())
    assert account.payment_method_for(None) == "pm_card_mastercard"
    assert account.payment_method_for("pm_card_visa") == "pm_card_visa"  # recorded earlier
    with pytest.raises(PaymentMethodNotOnAccount):
        account.payment_method_for("pm_card_amex")  # e.g. another account's
    with pytest.raises(CardNumberRefused):
        account.payment_method_for(VISA)


# -- every domain entry point ---------------------------------------------------------

POISON = ["a\x00b", "a\x1bb", "a\ud800b", f"card {VISA}"]
# Fields of value types that the ledger computes (from the catalog, ids it makes, the
# provider's answers) rather than takes from a request.
COMPUTED = {
    ("Money", "currency"),  # an ISO code, refused unless known (UnknownCurrency)
    ("Line", "line_id"),
    ("Tranche", "line_id"),  # a Line's id, copied when the line is added
    ("Line", "product_code"),
    ("InvoiceLine", "description"),
    ("InvoiceLine", "product_code"),
    ("Provenance", "actor_id"),  # what was stored; Cause (below) is where it is checked
    ("Provenance", "actor_role"),
    ("Provenance", "request_id"),
    ("Provenance", "correlation_id"),
    ("Provenance", "reason"),
    # The seller, copied onto each invoice: configuration, checked when the settings load
    # (domain/seller.py, legal_text's checks), never a request's input.
    *{("Seller", f) for f in ("legal_name", "email", "legal_form")},
    *{("PostalAddress", f) for f in ("line1", "city", "postal_code", "country", "line2")},
    ("PostalAddress", "region"),
    ("LatePaymentTerms", "early_payment"),
    ("VatNumber", "value"),
    ("Siren", "value"),
    ("Siret", "value"),
    ("BankAccount", "iban"),
    ("BankAccount", "bic"),
    # Held in aggregates' state alone (their snapshots), made from events' fields:
    ("CreditNote", "id"),  # the ledger's id for it
    ("CreditNote", "number"),  # taken from its series
    ("Reply", "message"),  # checked by SupportCase.reply (safe_text) before its event
    ("Reply", "replied_by"),  # the actor's id (Cause)
}
USD = Money(Decimal("10.00"), "USD")
EXAMPLES = {
    BillingDetails: billing(),
    Contact: Contact(ContactRole.BILLING, "Bea", "bea@acme.example", "+1 555 0100"),
    User: administrator(),
}


def text_fields(value_type: type) -> list[str]:
    return [f.name for f in dataclasses.fields(value_type) if "str" in str(f.type)]


def test_every_text_field_of_every_value_type_is_checked_or_computed():
    unchecked = [
        (t.__name__, name)
        for t in VALUE_TYPES
        for name in text_fields(t)
        if t not in EXAMPLES and (t.__name__, name) not in COMPUTED
    ]
    assert unchecked == [], "give these a check in their constructor, or list them as computed"


@pytest.mark.parametrize(
    ("value_type", "field"), [(t, f) for t in EXAMPLES for f in text_fields(t)]
)
@pytest.mark.parametrize("poison", POISON)
def test_every_free_text_field_of_a_value_refuses_poison(value_type, field, poison):
    with pytest.raises(InvalidValue):
        dataclasses.replace(EXAMPLES[value_type], **{field: poison})


@pytest.mark.parametrize("poison", POISON)
def test_every_command_that_takes_free_text_refuses_poison(poison):
    account = Account.open(
        uuid4(), "Acme", Edition.ESSENTIALS, "USD", billing(), administrator(), cause()
    )
    invoice = Invoice.issue(
        uuid4(),
        account.id,
        None,
        "INV-1",
        "USD",
        [
            InvoiceLine.charge(
                "Seats",
                "sales-cloud",
                1,
                USD,
                DateRange(date(2026, 1, 5), date(2027, 1, 5)),
                Fraction(1),
                Decimal(0),
            )
        ],
        date(2026, 2, 5),
        cause(),
    )
    refusals = {
        "account name": lambda: Account.open(
            uuid4(), poison, Edition.ESSENTIALS, "USD", billing(), administrator(), cause()
        ),
        "payment method": lambda: account.set_payment_method(f"pm_{poison}", cause()),
        "upgrade note": lambda: account.request_upgrade(Edition.PROFESSIONAL, poison, cause()),
        "support subject": lambda: SupportCase.open(uuid4(), account.id, poison, "help", cause()),
        "support description": lambda: SupportCase.open(
            uuid4(), account.id, "Help", poison, cause()
        ),
        "payment": lambda: invoice.record_payment("ch_1", USD, f"pm_{poison}", cause()),
        "failed payment": lambda: invoice.record_payment_failure(
            USD, f"pm_{poison}", "card_declined", "No.", cause()
        ),
        "reason": lambda: cause(reason=poison),
    }
    for what, refused in refusals.items():
        with pytest.raises(InvalidValue):
            refused()
            pytest.fail(f"{what} accepted {poison!r}")
    assert account.collect_events()[1:] == []  # nothing recorded beyond the opening


@pytest.mark.parametrize("field", ["actor_id", "actor_role", "request_id", "correlation_id"])
def test_the_ids_every_event_records_hold_no_control_character(field):
    fields = {"actor_id": "ada", "actor_role": "admin", "request_id": "r", "correlation_id": "c"}
    with pytest.raises(UnsafeText):
        Cause(cause().at, **(fields | {field: "x\x00y"}))


def test_values_recorded_before_a_rule_existed_still_read_back():
    """History is read as it was stored: the checks guard new values only."""
    stored = DataclassAsDict(BillingDetails).encode(billing()) | {"legal_name": "Acme\x00"}
    assert DataclassAsDict(BillingDetails).decode(stored).legal_name == "Acme\x00"
