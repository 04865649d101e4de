"""The Account: billing details, contacts, users, Manage Billing, identity licenses, editions."""

import dataclasses
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.account import Account, BillingDetails, Contact, ContactRole, User
from domain.catalog import Edition
from domain.errors import (
    AlreadyExists,
    AlreadyInThatState,
    IdentityLicenseLimitReached,
    InvalidIdentifier,
    InvalidValue,
    NotFound,
    PermissionRule,
    ReasonRequired,
    UnknownCurrency,
    UpgradeNotHigher,
)
from tests.builders import administrator, billing, cause


def recorded(account):
    """The classes of the events recorded since the last call (and forget them)."""
    return [type(event) for event in account.collect_events()]


def open_account(edition=Edition.ESSENTIALS, currency="USD"):
    return Account.open(uuid4(), "Acme", edition, currency, billing(), administrator(), cause())


def member(user_id="bob", administrator=False):
    return User(user_id, f"User {user_id}", f"{user_id}@acme.example", administrator)


def billing_contact(name="Bea Billing"):
    return Contact(ContactRole.BILLING, name, "bea@acme.example")


@pytest.fixture
def account():
    account = open_account()
    account.collect_events()
    return account


# -- opening ----------------------------------------------------------------------------


def test_opening_records_account_opened_with_its_details():
    account_id = uuid4()
    account = Account.open(
        account_id, " Acme ", Edition.PROFESSIONAL, "EUR", billing("DE"), administrator(), cause()
    )
    (opened,) = account.collect_events()
    assert isinstance(opened, Account.AccountOpened)
    assert opened.originator_id == account_id
    assert (opened.name, opened.edition, opened.currency) == ("Acme", Edition.PROFESSIONAL, "EUR")
    assert opened.billing == billing("DE")
    assert opened.administrator == administrator()


def test_an_opened_account_has_its_administrator_holding_manage_billing():
    account = open_account()
    assert account.users == {"ada": administrator()}
    assert account.has_manage_billing("ada")
    assert account.contacts == {}
    assert account.identity_licenses == []
    assert account.payment_method is None
    assert account.upgrade_requested is None


def test_events_carry_the_recorded_time_and_provenance_of_their_cause():
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    account = Account.open(
        uuid4(), "Acme", Edition.ESSENTIALS, "USD", billing(), administrator(), cause(at)
    )
    (opened,) = account.collect_events()
    assert opened.timestamp == at
    assert opened.meta == cause(at).provenance


def test_opening_with_an_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        open_account(currency="XYZ")


def test_opening_with_a_first_user_who_is_not_an_administrator_is_refused():
    with pytest.raises(PermissionRule):
        Account.open(uuid4(), "Acme", Edition.ESSENTIALS, "USD", billing(), member(), cause())


def test_opening_without_a_name_is_refused():
    with pytest.raises(InvalidValue):
        Account.open(uuid4(), "  ", Edition.ESSENTIALS, "USD", billing(), administrator(), cause())


# -- billing details and payment method -------------------------------------------------


def test_changing_billing_details_records_them(account):
    new = billing("GB", legal_name="Acme Ltd")
    account.change_billing_details(new, cause())
    assert recorded(account) == [Account.BillingDetailsChanged]
    assert account.billing == new


def test_changing_billing_details_to_the_same_records_nothing(account):
    account.change_billing_details(billing(), cause())
    assert recorded(account) == []


@pytest.mark.parametrize(
    ("country", "email"), [("gb", "ap@acme.example"), ("GBR", "ap@acme.example"), ("GB", "ap")]
)
def test_billing_details_with_a_bad_country_or_email_cannot_be_made(country, email):
    with pytest.raises(InvalidValue):
        BillingDetails("Acme", "1 Main St", "Springfield", "12345", country, email)


def test_setting_a_payment_method_reference_records_the_token(account):
    account.set_payment_method(" pm_1Nv0Acme ", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.PaymentMethodSet)
    assert event.reference == "pm_1Nv0Acme"
    assert account.payment_method == "pm_1Nv0Acme"


@pytest.mark.parametrize(
    "card_number", ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242"]
)
def test_a_payment_method_reference_that_looks_like_a_card_number_is_refused(account, card_number):
    with pytest.raises(InvalidValue):
        account.set_payment_method(card_number, cause())
    assert recorded(account) == []
    assert account.payment_method is None


def test_an_empty_payment_method_reference_is_refused(account):
    with pytest.raises(InvalidValue):
        account.set_payment_method("   ", cause())
    assert recorded(account) == []


# -- contacts ---------------------------------------------------------------------------


def test_adding_a_contact_records_it(account):
    account.add_contact("c1", billing_contact(), cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.ContactAdded)
    assert (event.contact_id, event.contact) == ("c1", billing_contact())
    assert account.contacts == {"c1": billing_contact()}


def test_adding_a_contact_under_a_taken_id_is_refused(account):
    account.add_contact("c1", billing_contact(), cause())
    account.collect_events()
    with pytest.raises(AlreadyExists):
        account.add_contact("c1", billing_contact("Other"), cause())
    assert recorded(account) == []
    assert account.contacts["c1"] == billing_contact()


def test_changing_a_contact_records_the_new_contact(account):
    account.add_contact("c1", billing_contact(), cause())
    account.collect_events()
    technical = Contact(ContactRole.TECHNICAL, "Tom Tech", "tom@acme.example", "+1 555 0100")
    account.change_contact("c1", technical, cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.ContactChanged)
    assert (event.contact_id, event.contact) == ("c1", technical)
    assert account.contacts == {"c1": technical}


def test_changing_a_contact_that_does_not_exist_is_refused(account):
    with pytest.raises(NotFound):
        account.change_contact("nobody", billing_contact(), cause())
    assert recorded(account) == []


def test_removing_a_contact_records_it(account):
    account.add_contact("c1", billing_contact(), cause())
    account.collect_events()
    account.remove_contact("c1", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.ContactRemoved)
    assert event.contact_id == "c1"
    assert account.contacts == {}


def test_removing_a_contact_that_does_not_exist_is_refused(account):
    with pytest.raises(NotFound):
        account.remove_contact("nobody", cause())
    assert recorded(account) == []


def test_a_contact_without_a_name_or_a_valid_email_cannot_be_made():
    with pytest.raises(InvalidValue):
        Contact(ContactRole.PRIMARY, " ", "p@acme.example")
    with pytest.raises(InvalidValue):
        Contact(ContactRole.PRIMARY, "Pat", "pat-at-acme")


# -- users and Manage Billing -----------------------------------------------------------


def test_adding_a_user_records_it_without_manage_billing(account):
    account.add_user(member("bob"), cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.UserAdded)
    assert event.user == member("bob")
    assert account.user("bob") == member("bob")
    assert not account.has_manage_billing("bob")


def test_an_added_administrator_holds_manage_billing_from_the_start(account):
    account.add_user(member("eve", administrator=True), cause())
    assert account.has_manage_billing("eve")


def test_adding_a_user_whose_id_is_taken_is_refused(account):
    with pytest.raises(AlreadyExists):
        account.add_user(User("ada", "Another Ada", "other@acme.example"), cause())
    assert recorded(account) == []


def test_adding_a_user_whose_email_is_taken_is_refused_whatever_its_case(account):
    with pytest.raises(AlreadyExists):
        account.add_user(User("ada2", "Ada Again", "ADA@acme.example"), cause())
    assert recorded(account) == []


def test_looking_up_a_user_who_does_not_exist_is_refused(account):
    with pytest.raises(NotFound):
        account.user("nobody")


def test_granting_manage_billing_records_it(account):
    account.add_user(member("bob"), cause())
    account.collect_events()
    account.grant_manage_billing("bob", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.ManageBillingGranted)
    assert event.user_id == "bob"
    assert account.has_manage_billing("bob")


def test_granting_manage_billing_to_a_user_who_has_it_is_refused(account):
    with pytest.raises(AlreadyInThatState):
        account.grant_manage_billing("ada", cause())
    assert recorded(account) == []


def test_granting_manage_billing_to_a_user_not_in_the_account_is_refused(account):
    with pytest.raises(NotFound):
        account.grant_manage_billing("nobody", cause())
    assert recorded(account) == []


def test_revoking_manage_billing_records_it(account):
    account.add_user(member("bob"), cause())
    account.grant_manage_billing("bob", cause())
    account.collect_events()
    account.revoke_manage_billing("bob", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.ManageBillingRevoked)
    assert event.user_id == "bob"
    assert not account.has_manage_billing("bob")


def test_revoking_manage_billing_from_an_administrator_is_refused(account):
    with pytest.raises(PermissionRule):
        account.revoke_manage_billing("ada", cause())
    assert recorded(account) == []
    assert account.has_manage_billing("ada")


def test_revoking_manage_billing_from_a_user_who_lacks_it_is_refused(account):
    account.add_user(member("bob"), cause())
    account.collect_events()
    with pytest.raises(AlreadyInThatState):  # as granting twice is
        account.revoke_manage_billing("bob", cause())
    assert recorded(account) == []


def test_revoking_manage_billing_from_a_user_not_in_the_account_is_refused(account):
    with pytest.raises(NotFound):
        account.revoke_manage_billing("nobody", cause())
    assert recorded(account) == []


# -- identity licenses ------------------------------------------------------------------


def test_assigning_an_identity_license_records_it(account):
    account.add_user(member("bob"), cause())
    account.collect_events()
    account.assign_identity_license("bob", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.IdentityLicenseAssigned)
    assert event.user_id == "bob"
    assert account.identity_licenses == ["bob"]


def test_a_user_cannot_hold_two_identity_licenses(account):
    account.add_user(member("bob"), cause())
    account.assign_identity_license("bob", cause())
    account.collect_events()
    with pytest.raises(AlreadyInThatState):
        account.assign_identity_license("bob", cause())
    assert recorded(account) == []


def test_an_identity_license_for_a_user_not_in_the_account_is_refused(account):
    with pytest.raises(NotFound):
        account.assign_identity_license("nobody", cause())
    assert recorded(account) == []


@pytest.fixture
def all_identity_licenses_assigned(account):
    """An account with 101 users, 100 of whom (u0..u99) hold an identity license."""
    for n in range(101):
        account.add_user(member(f"u{n}"), cause())
    for n in range(100):
        account.assign_identity_license(f"u{n}", cause())
    account.collect_events()
    return account


def test_the_101st_identity_license_is_refused(all_identity_licenses_assigned):
    account = all_identity_licenses_assigned
    with pytest.raises(IdentityLicenseLimitReached) as refused:
        account.assign_identity_license("u100", cause())
    assert refused.value.limit == 100
    assert recorded(account) == []
    assert len(account.identity_licenses) == 100


def test_a_released_identity_license_can_be_assigned_again(all_identity_licenses_assigned):
    account = all_identity_licenses_assigned
    account.release_identity_license("u0", cause())
    account.assign_identity_license("u100", cause())
    assert len(account.identity_licenses) == 100
    assert "u100" in account.identity_licenses


def test_releasing_an_identity_license_records_it(account):
    account.add_user(member("bob"), cause())
    account.assign_identity_license("bob", cause())
    account.collect_events()
    account.release_identity_license("bob", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.IdentityLicenseReleased)
    assert event.user_id == "bob"
    assert account.identity_licenses == []


def test_releasing_an_identity_license_the_user_does_not_hold_is_refused(account):
    with pytest.raises(AlreadyInThatState):
        account.release_identity_license("ada", cause())
    with pytest.raises(NotFound):
        account.release_identity_license("nobody", cause())
    assert recorded(account) == []


# -- editions ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", [Edition.PROFESSIONAL, Edition.ENTERPRISE])
def test_an_essentials_account_can_request_an_upgrade(account, target):
    account.request_upgrade(target, "  we need territories  ", cause())
    (event,) = account.collect_events()
    assert isinstance(event, Account.UpgradeRequested)
    assert (event.edition, event.note) == (target, "we need territories")
    assert account.upgrade_requested is target
    assert account.edition is Edition.ESSENTIALS  # an account manager follows up


def test_an_upgrade_note_is_cut_to_2000_characters(account):
    account.request_upgrade(Edition.PROFESSIONAL, "x" * 3000, cause())
    (event,) = account.collect_events()
    assert len(event.note) == 2000


@pytest.mark.parametrize(
    ("current", "target", "error"),
    [
        (Edition.ESSENTIALS, Edition.ESSENTIALS, AlreadyInThatState),
        (Edition.PROFESSIONAL, Edition.PROFESSIONAL, AlreadyInThatState),
        (Edition.PROFESSIONAL, Edition.ESSENTIALS, UpgradeNotHigher),
        (Edition.ENTERPRISE, Edition.PROFESSIONAL, UpgradeNotHigher),
    ],
)
def test_an_upgrade_request_to_a_lower_or_the_same_edition_is_refused(current, target, error):
    """To the current edition, as changing the edition to it is: already in that state."""
    account = open_account(edition=current)
    account.collect_events()
    with pytest.raises(error):
        account.request_upgrade(target, "", cause())
    assert recorded(account) == []
    assert account.upgrade_requested is None


def test_staff_change_the_edition_with_a_reason(account):
    account.request_upgrade(Edition.PROFESSIONAL, "", cause())
    account.collect_events()
    account.change_edition(Edition.PROFESSIONAL, cause(reason="signed order 42"))
    (event,) = account.collect_events()
    assert isinstance(event, Account.EditionChanged)
    assert event.edition is Edition.PROFESSIONAL
    assert event.meta.reason == "signed order 42"
    assert account.edition is Edition.PROFESSIONAL
    assert account.upgrade_requested is None


def test_changing_the_edition_without_a_reason_is_refused(account):
    with pytest.raises(ReasonRequired):
        account.change_edition(Edition.PROFESSIONAL, cause(reason="  "))
    assert recorded(account) == []
    assert account.edition is Edition.ESSENTIALS


def test_changing_to_the_current_edition_is_refused(account):
    with pytest.raises(AlreadyInThatState):
        account.change_edition(Edition.ESSENTIALS, cause(reason="no-op"))
    assert recorded(account) == []


def test_removing_a_user_releases_their_identity_license_and_manage_billing(account):
    account.add_user(member("bob"), cause())
    account.assign_identity_license("bob", cause())
    account.grant_manage_billing("bob", cause())
    recorded(account)
    account.remove_user("bob", cause())
    assert recorded(account) == [Account.IdentityLicenseReleased, Account.UserRemoved]
    assert "bob" not in account.users and not account.has_manage_billing("bob")
    assert account.identity_licenses == []
    with pytest.raises(NotFound):
        account.remove_user("bob", cause())


def test_the_last_administrator_cannot_be_removed(account):
    with pytest.raises(PermissionRule):
        account.remove_user("ada", cause())
    account.add_user(member("dora", administrator=True), cause())
    account.remove_user("ada", cause())
    assert set(account.users) == {"dora"} and account.has_manage_billing("dora")


@pytest.mark.parametrize("tax_id", ["DE12345", "FR00123456789", "NL123"])
def test_an_eu_buyers_tax_id_must_be_a_vat_number_of_its_format(tax_id):
    german = dataclasses.replace(billing("DE"), tax_id=tax_id)
    with pytest.raises(InvalidIdentifier):
        Account.open(uuid4(), "Acme", Edition.ESSENTIALS, "EUR", german, administrator(), cause())
    account = open_account()
    with pytest.raises(InvalidIdentifier):
        account.change_billing_details(german, cause())
    assert recorded(account) == [Account.AccountOpened]
    # A VAT number as people write it, and any tax id outside the EU, are taken.
    account.change_billing_details(dataclasses.replace(german, tax_id="DE 136 695 976"), cause())
    account.change_billing_details(dataclasses.replace(billing("US"), tax_id=tax_id), cause())
    assert recorded(account) == [Account.BillingDetailsChanged] * 2
