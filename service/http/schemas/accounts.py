"""Accounts: billing details, contacts, users, identity licenses, edition changes and the
overview. ``AccountOut`` validates ``projections.documents.account_document``."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, StringConstraints

from domain.account import BillingDetails, Contact, ContactRole, User
from domain.catalog import Edition
from service.http.schemas.common import (
    AddressLine,
    Body,
    Country,
    Currency,
    Email,
    MoneyOut,
    PaymentMethod,
    Phone,
    PostalCode,
    Reason,
    Region,
    TaxId,
    Text,
    UserId,
    safe,
)
from service.http.schemas.subscriptions import SubscriptionOut


class BillingDetailsIn(Body):
    legal_name: Text
    address_line1: Text
    address_line2: AddressLine = ""
    city: Text
    postal_code: PostalCode
    region: Region = ""
    country: Country
    tax_id: TaxId = ""
    invoice_email: Email

    def to_domain(self) -> BillingDetails:
        return BillingDetails(**self.model_dump())


class BillingDetailsPatch(Body):
    legal_name: Text | None = None
    address_line1: Text | None = None
    address_line2: AddressLine | None = None
    city: Text | None = None
    postal_code: PostalCode | None = None
    region: Region | None = None
    country: Country | None = None
    tax_id: TaxId | None = None
    invoice_email: Email | None = None

    def merged(self, current: BillingDetails) -> BillingDetails:
        return dataclasses.replace(current, **self.model_dump(exclude_none=True))


class BillingDetailsOut(BaseModel):
    legal_name: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    region: str
    country: str
    tax_id: str
    invoice_email: str


class UserIn(Body):
    user_id: UserId
    name: Text
    email: Email

    def to_domain(self, administrator: bool = False) -> User:
        return User(self.user_id, self.name, self.email, administrator)


class AccountIn(Body):
    name: Text
    edition: Edition
    currency: Currency
    billing_details: BillingDetailsIn
    administrator: UserIn


class PaymentMethodIn(Body):
    reference: PaymentMethod


class ContactIn(Body):
    role: ContactRole
    name: Text
    email: Email
    phone: Phone = ""

    def to_domain(self) -> Contact:
        return Contact(self.role, self.name, self.email, self.phone)


class ContactPatch(Body):
    role: ContactRole | None = None
    name: Text | None = None
    email: Email | None = None
    phone: Phone | None = None

    def merged(self, current: Contact) -> Contact:
        return dataclasses.replace(current, **self.model_dump(exclude_none=True))


class ContactOut(BaseModel):
    id: str
    role: ContactRole
    name: str
    email: str
    phone: str


class UserOut(BaseModel):
    user_id: str
    name: str
    email: str
    administrator: bool
    manage_billing: bool
    identity_license: bool


class IdentityLicensesOut(BaseModel):
    used: int
    limit: int


class AccountOut(BaseModel):
    id: UUID
    version: int
    name: str
    edition: Edition
    currency: str
    billing_details: BillingDetailsOut
    payment_method: str | None
    contacts: list[ContactOut]
    users: list[UserOut]
    identity_licenses: IdentityLicensesOut
    upgrade_requested: Edition | None


class IdentityLicenseIn(Body):
    user_id: UserId


class UpgradeRequestIn(Body):
    edition: Edition
    note: Annotated[str, StringConstraints(max_length=2000), safe(2000, multiline=True)] = ""


class EditionChangeIn(Body):
    edition: Edition
    reason: Reason


class SeatsOut(BaseModel):
    product_code: str
    product_name: str
    held: int
    assigned: int
    available: int


class NextRenewalOut(BaseModel):
    subscription_id: UUID
    starts_on: date
    term_months: int
    value: MoneyOut  # one billing period of the renewal's lines, before tax


class OverviewOut(BaseModel):
    """The account's home screen: who it is, what it holds, what renews next, what is owed."""

    account: AccountOut
    contracts: list[SubscriptionOut]
    seats: list[SeatsOut]
    next_renewal: NextRenewalOut | None
    open_balance: list[MoneyOut]
    open_invoices: int
