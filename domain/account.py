"""The Account: a customer organisation, its billing details, contacts and users.

Manage Billing is the permission every self-service operation needs. Administrators
hold it from the moment they join and cannot lose it while they are administrators;
an administrator grants or revokes it for any other user, and removes users (never the
last administrator). Up to 100 identity licenses are free per account; the 101st is
refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate
from domain.catalog import FREE_IDENTITY_LICENSES, Edition
from domain.cause import Cause
from domain.errors import (
    AlreadyExists,
    AlreadyInThatState,
    IdentityLicenseLimitReached,
    InvalidValue,
    NotFound,
    PermissionRule,
)
from domain.money import minor_unit
from domain.payment_method import (
    PaymentMethodNotOnAccount,
    PaymentMethodReference,
    recorded_reference,
)
from domain.personal_data import PersonalFields, SubjectKind, erased, personal
from domain.text import safe_text
from domain.vat_number import EU_MEMBER_STATES, VatNumber

# The buyer identity that invoices name: kept for the legal retention period.
BILLING_FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "invoice_email",
    "tax_id",
)
_BILLING = tuple(f"billing.{name}" for name in BILLING_FIELDS)
_CONTACT_FIELDS = ("name", "email", "phone")
_CONTACT = tuple(f"contact.{name}" for name in _CONTACT_FIELDS)
_USER = ("name", "email")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _required(value: str, field: str, limit: int = 200) -> str:
    value = value.strip()
    if not value:
        raise InvalidValue(f"{field} must not be empty")
    return safe_text(value, field, limit)


def _email(value: str, field: str = "email") -> str:
    value = safe_text(value.strip(), field, 200)
    if not _EMAIL.match(value):
        raise InvalidValue(f"{field} {value!r} is not an e-mail address")
    return value


@dataclass(frozen=True)
class BillingDetails:
    legal_name: str
    address_line1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2; selects the tax rate
    invoice_email: str
    address_line2: str = ""
    region: str = ""
    tax_id: str = ""

    def __post_init__(self) -> None:
        _required(self.legal_name, "legal name")
        _required(self.address_line1, "address")
        _required(self.city, "city")
        _required(self.postal_code, "postal code", 20)
        safe_text(self.address_line2, "address line 2", 200)
        safe_text(self.region, "region", 100)
        safe_text(self.tax_id, "tax id", 50)
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise InvalidValue(f"country must be an ISO 3166 two-letter code, got {self.country!r}")
        _email(self.invoice_email, "invoice e-mail")


def require_vat_number(billing: BillingDetails) -> None:
    """In the EU a buyer's tax id is its VAT number, in its state's format (it decides the
    reverse charge and is printed on every invoice): InvalidIdentifier otherwise. Checked
    when details are given, not when stored ones are read back."""
    if billing.tax_id and billing.country in EU_MEMBER_STATES:
        VatNumber.parse(billing.tax_id)


class ContactRole(Enum):
    BILLING = "billing"
    TECHNICAL = "technical"
    PRIMARY = "primary"


@dataclass(frozen=True)
class Contact:
    role: ContactRole
    name: str
    email: str
    phone: str = ""

    def __post_init__(self) -> None:
        _required(self.name, "contact name")
        _email(self.email, "contact e-mail")
        safe_text(self.phone, "phone", 40)


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    email: str
    administrator: bool = False

    def __post_init__(self) -> None:
        _required(self.user_id, "user id", 100)
        _required(self.name, "user name")
        _email(self.email)


class Account(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        public: ClassVar[bool] = True  # its events are published (domain/base.py)

    class AccountOpened(LedgerAggregate.Created):
        name: str
        edition: Edition
        currency: str
        billing: BillingDetails
        administrator: User

        personal_data: ClassVar[tuple[PersonalFields, ...]] = (
            personal(SubjectKind.BUYER, *_BILLING),
            personal(
                SubjectKind.USER,
                "administrator.name",
                "administrator.email",
                subject_id="administrator.user_id",
            ),
        )

    class BillingDetailsChanged(LedgerAggregate.Event):
        billing: BillingDetails

        personal_data = (personal(SubjectKind.BUYER, *_BILLING),)

        def apply(self, account: Account) -> None:
            account.billing = self.billing

    class PaymentMethodSet(LedgerAggregate.Event):
        reference: str

        def apply(self, account: Account) -> None:
            account.payment_method = self.reference
            kept = [m for m in account.payment_methods if m != self.reference]
            account.payment_methods = [*kept, self.reference]

    class ContactAdded(LedgerAggregate.Event):
        contact_id: str
        contact: Contact

        personal_data = (personal(SubjectKind.CONTACT, *_CONTACT, subject_id="contact_id"),)

        def apply(self, account: Account) -> None:
            account.contacts[self.contact_id] = self.contact

    class ContactChanged(LedgerAggregate.Event):
        contact_id: str
        contact: Contact

        personal_data = (personal(SubjectKind.CONTACT, *_CONTACT, subject_id="contact_id"),)

        def apply(self, account: Account) -> None:
            account.contacts[self.contact_id] = self.contact

    class ContactRemoved(LedgerAggregate.Event):
        contact_id: str

        def apply(self, account: Account) -> None:
            del account.contacts[self.contact_id]

    class UserAdded(LedgerAggregate.Event):
        user: User

        personal_data = (
            personal(SubjectKind.USER, "user.name", "user.email", subject_id="user.user_id"),
        )

        def apply(self, account: Account) -> None:
            account.users[self.user.user_id] = self.user
            if self.user.administrator:
                account.manage_billing.append(self.user.user_id)

    class UserRemoved(LedgerAggregate.Event):
        user_id: str

        def apply(self, account: Account) -> None:
            del account.users[self.user_id]
            if self.user_id in account.manage_billing:
                account.manage_billing.remove(self.user_id)

    class ManageBillingGranted(LedgerAggregate.Event):
        user_id: str

        def apply(self, account: Account) -> None:
            account.manage_billing.append(self.user_id)

    class ManageBillingRevoked(LedgerAggregate.Event):
        user_id: str

        def apply(self, account: Account) -> None:
            account.manage_billing.remove(self.user_id)

    class IdentityLicenseAssigned(LedgerAggregate.Event):
        user_id: str

        def apply(self, account: Account) -> None:
            account.identity_licenses.append(self.user_id)

    class IdentityLicenseReleased(LedgerAggregate.Event):
        user_id: str

        def apply(self, account: Account) -> None:
            account.identity_licenses.remove(self.user_id)

    class UpgradeRequested(LedgerAggregate.Event):
        """v2 added ``note`` (what the customer tells the account manager)."""

        class_version = 2
        edition: Edition
        note: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["note"] = ""

        def apply(self, account: Account) -> None:
            account.upgrade_requested = self.edition

    class EditionChanged(LedgerAggregate.Event):
        edition: Edition

        def apply(self, account: Account) -> None:
            account.edition = self.edition
            account.upgrade_requested = None

    class PersonalDataErased(LedgerAggregate.Event):
        """A contact's, user's or buyer identity's personal data was erased: its keys are
        destroyed. A buyer's ``subject_id`` is empty for the account's billing details, or
        a financial year for its invoices' retention key (ADR 0027)."""

        kind: str  # "contact", "user" or "buyer" (domain/personal_data.py)
        subject_id: str

        def apply(self, account: Account) -> None:
            if self.kind == SubjectKind.CONTACT.value and self.subject_id in account.contacts:
                contact = account.contacts[self.subject_id]
                account.contacts[self.subject_id] = erased(contact, *_CONTACT_FIELDS)
            elif self.kind == SubjectKind.USER.value and self.subject_id in account.users:
                account.users[self.subject_id] = erased(account.users[self.subject_id], *_USER)
            elif self.kind == SubjectKind.BUYER.value and not self.subject_id:
                account.billing = erased(account.billing, *BILLING_FIELDS)

    class PersonalDataHeld(LedgerAggregate.Event):
        """An erasure request covered personal data the law retains (a buyer identity that
        invoices under retention name): it is kept until ``until``, then destroyed."""

        kind: str  # "buyer"
        subject_id: str  # as in PersonalDataErased
        until: date  # the day its retention ends and it is destroyed

    # Every payment method recorded on the account, the current one last. Snapshots taken
    # before the account kept them lack the attribute: they know the current one only.
    payment_methods: Sequence[str] = ()

    def __init__(
        self,
        name: str,
        edition: Edition,
        currency: str,
        billing: BillingDetails,
        administrator: User,
    ) -> None:
        self.name = name
        self.edition = edition
        self.currency = currency
        self.billing = billing
        self.payment_method: str | None = None
        self.payment_methods = []
        self.contacts: dict[str, Contact] = {}
        self.users: dict[str, User] = {administrator.user_id: administrator}
        self.manage_billing: list[str] = [administrator.user_id]
        self.identity_licenses: list[str] = []
        self.upgrade_requested: Edition | None = None

    @classmethod
    def open(
        cls,
        account_id: UUID,
        name: str,
        edition: Edition,
        currency: str,
        billing: BillingDetails,
        administrator: User,
        cause: Cause,
    ) -> Account:
        minor_unit(currency)  # refuses an unknown currency
        require_vat_number(billing)
        if not administrator.administrator:
            raise PermissionRule("the first user of an account must be an administrator")
        return cls._begin(
            cls.AccountOpened,
            account_id,
            cause,
            name=_required(name, "account name"),
            edition=edition,
            currency=currency,
            billing=billing,
            administrator=administrator,
        )

    # -- billing details -------------------------------------------------------------

    def change_billing_details(self, billing: BillingDetails, cause: Cause) -> None:
        if billing == self.billing:
            return  # nothing changed: no event, so retries and no-op saves stay quiet
        require_vat_number(billing)
        self._record(self.BillingDetailsChanged, cause, billing=billing)

    def set_payment_method(self, reference: str, cause: Cause) -> None:
        self._record(self.PaymentMethodSet, cause, reference=recorded_reference(reference))

    def payment_method_for(self, reference: str | None) -> PaymentMethodReference:
        """The method a payment of this account uses: the one named, which must be recorded
        on the account (never another account's), else the account's current one."""
        if reference is None:
            if self.payment_method is None:
                raise InvalidValue("the account has no payment method; name one to pay with")
            return PaymentMethodReference(self.payment_method)
        method = PaymentMethodReference(reference)
        if method != self.payment_method and method not in self.payment_methods:
            raise PaymentMethodNotOnAccount()
        return method

    # -- contacts ---------------------------------------------------------------------

    def add_contact(self, contact_id: str, contact: Contact, cause: Cause) -> None:
        if contact_id in self.contacts:
            raise AlreadyExists(f"contact {contact_id} already exists")
        self._record(self.ContactAdded, cause, contact_id=contact_id, contact=contact)

    def change_contact(self, contact_id: str, contact: Contact, cause: Cause) -> None:
        self._contact(contact_id)
        self._record(self.ContactChanged, cause, contact_id=contact_id, contact=contact)

    def remove_contact(self, contact_id: str, cause: Cause) -> None:
        self._contact(contact_id)
        self._record(self.ContactRemoved, cause, contact_id=contact_id)

    def _contact(self, contact_id: str) -> Contact:
        try:
            return self.contacts[contact_id]
        except KeyError:
            raise NotFound(f"no contact {contact_id} in this account") from None

    # -- users and Manage Billing -----------------------------------------------------

    def add_user(self, user: User, cause: Cause) -> None:
        if user.user_id in self.users:
            raise AlreadyExists(f"user {user.user_id} already belongs to this account")
        if any(u.email.lower() == user.email.lower() for u in self.users.values()):
            raise AlreadyExists(f"a user with e-mail {user.email} already belongs to this account")
        self._record(self.UserAdded, cause, user=user)

    def user(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise NotFound(f"no user {user_id} in this account") from None

    def remove_user(self, user_id: str, cause: Cause) -> None:
        """The user leaves the account with Manage Billing and any identity license."""
        user = self.user(user_id)
        if user.administrator and not any(
            u.administrator for u in self.users.values() if u.user_id != user_id
        ):
            raise PermissionRule(f"user {user_id} is the account's last administrator")
        if user_id in self.identity_licenses:
            self.release_identity_license(user_id, cause)
        self._record(self.UserRemoved, cause, user_id=user_id)

    def has_manage_billing(self, user_id: str) -> bool:
        return user_id in self.manage_billing

    def grant_manage_billing(self, user_id: str, cause: Cause) -> None:
        self.user(user_id)
        if self.has_manage_billing(user_id):
            raise AlreadyInThatState(f"user {user_id} already has Manage Billing")
        self._record(self.ManageBillingGranted, cause, user_id=user_id)

    def revoke_manage_billing(self, user_id: str, cause: Cause) -> None:
        if self.user(user_id).administrator:
            raise PermissionRule(
                f"user {user_id} is a system administrator and holds Manage Billing by default"
            )
        if not self.has_manage_billing(user_id):
            raise AlreadyInThatState(f"user {user_id} does not have Manage Billing")
        self._record(self.ManageBillingRevoked, cause, user_id=user_id)

    # -- identity licenses ------------------------------------------------------------

    def assign_identity_license(self, user_id: str, cause: Cause) -> None:
        self.user(user_id)
        if user_id in self.identity_licenses:
            raise AlreadyInThatState(f"user {user_id} already has an identity license")
        if len(self.identity_licenses) >= FREE_IDENTITY_LICENSES:
            raise IdentityLicenseLimitReached(FREE_IDENTITY_LICENSES)
        self._record(self.IdentityLicenseAssigned, cause, user_id=user_id)

    def release_identity_license(self, user_id: str, cause: Cause) -> None:
        self.user(user_id)
        if user_id not in self.identity_licenses:
            raise AlreadyInThatState(f"user {user_id} has no identity license")
        self._record(self.IdentityLicenseReleased, cause, user_id=user_id)

    # -- personal data ----------------------------------------------------------------

    def erase_personal_data(self, kind: SubjectKind, subject_id: str, cause: Cause) -> None:
        """Record that a contact's, user's or buyer identity's data is erased (the store
        destroys its keys). The contact or user may have left the account: its history
        still names it. A buyer's retention is the caller's to check (ADR 0027)."""
        cause.require_reason("erasing personal data")
        if kind not in (SubjectKind.CONTACT, SubjectKind.USER, SubjectKind.BUYER):
            raise InvalidValue(f"an account erases contacts, users and buyers, not a {kind.value}")
        self._record(self.PersonalDataErased, cause, kind=kind.value, subject_id=subject_id)

    def hold_personal_data(
        self, kind: SubjectKind, subject_id: str, until: date, cause: Cause
    ) -> None:
        """Record that an erasure request covers retained data, kept until ``until``."""
        cause.require_reason("erasing personal data")
        if not kind.retained:
            raise InvalidValue(f"a {kind.value} is erased at once, never held")
        self._record(
            self.PersonalDataHeld, cause, kind=kind.value, subject_id=subject_id, until=until
        )

    # -- editions ---------------------------------------------------------------------

    def request_upgrade(self, edition: Edition, note: str, cause: Cause) -> None:
        """Ask for a higher edition; an account manager follows up (not self-served)."""
        if edition == self.edition:
            raise AlreadyInThatState(f"the account is already on {edition.value}")
        self.edition.check_upgrade_to(edition)
        note = safe_text(note.strip()[:2000], "note", 2000, multiline=True)
        self._record(self.UpgradeRequested, cause, edition=edition, note=note)

    def change_edition(self, edition: Edition, cause: Cause) -> None:
        """Staff carry out an upgrade (or a negotiated downgrade), always with a reason."""
        cause.require_reason("changing the edition")
        if edition == self.edition:
            raise AlreadyInThatState(f"the account is already on {edition.value}")
        self._record(self.EditionChanged, cause, edition=edition)
