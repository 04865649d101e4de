"""Request and response bodies, declared once (pydantic), and their mapping to the domain.

Amounts travel as decimal strings ("12.50"), never as JSON numbers, so no float ever
touches money.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain import catalog
from domain.account import Account, BillingDetails, Contact, ContactRole, User
from domain.calendar_bounds import EARLIEST_DAY, LATEST_DAY, bounded_day, bounded_instant
from domain.catalog import Edition, ProductKind
from domain.errors import InvalidValue
from domain.invoice import Invoice, InvoiceLine
from domain.license import License
from domain.money import Money, minor_unit
from domain.payment_method import PaymentMethodReference
from domain.period import BillingPeriod
from domain.subscription import Line, Subscription
from domain.support_case import SupportCase, SupportCaseStatus
from domain.text import safe_text
from service.access.tokens import ApiToken, Role
from service.http.schemas.legal_documents import CreditNoteSummaryOut, LegalDocumentOut
from service.http.schemas.money import MoneyOut
from service.reads.seats import SeatsOnDay


def domain_rule(check: Callable[[str], str]) -> AfterValidator:
    """A domain check as a field validator: its refusal becomes the field's 422 message."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidValue as error:
            raise ValueError(str(error)) from None

    return AfterValidator(validate)


def safe(limit: int, multiline: bool = False) -> AfterValidator:
    """The domain's one definition of safe text (domain/text.py): no control characters,
    no card number, at most ``limit`` characters."""
    return domain_rule(lambda value: safe_text(value, "the text", limit, multiline))


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), safe(200)
]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,40}$")]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,100}$"), safe(100)]
Email = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200), safe(200)
]
Amount = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,4})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500), safe(500)
]
AddressLine = Annotated[str, StringConstraints(max_length=200), safe(200)]
PostalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), safe(20)
]
Region = Annotated[str, StringConstraints(max_length=100), safe(100)]
TaxId = Annotated[str, StringConstraints(max_length=50), safe(50)]
Phone = Annotated[str, StringConstraints(max_length=40), safe(40)]
PaymentMethod = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=100),
    domain_rule(PaymentMethodReference),
    Field(
        description="The payment provider's token (pm_ and letters, digits, underscores), "
        "e.g. pm_card_visa; never a card number",
        examples=["pm_card_visa"],
    ),
]
Quantity = Annotated[int, Field(ge=1, le=100_000)]
Months = Annotated[int, Field(ge=1, le=60)]


def _day(day: date) -> date:
    try:
        return bounded_day(day)
    except InvalidValue as error:
        raise ValueError(str(error)) from None


def _instant(moment: datetime) -> datetime:
    try:
        return bounded_instant(moment)
    except InvalidValue as error:
        raise ValueError(str(error)) from None


_BOUNDS = f"between {EARLIEST_DAY} and {LATEST_DAY}"
# Every date and instant a request may carry, in a body or a query (domain/calendar_bounds.py).
Day = Annotated[date, AfterValidator(_day), Field(description=f"A date {_BOUNDS}")]
Instant = Annotated[
    datetime, AfterValidator(_instant), Field(description=f"An ISO 8601 instant {_BOUNDS}")
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- money ------------------------------------------------------------------------------


# -- accounts ---------------------------------------------------------------------------


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

    @classmethod
    def of(cls, billing: BillingDetails) -> BillingDetailsOut:
        return cls(**{name: getattr(billing, name) for name in cls.model_fields})


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

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            version=account.version,
            name=account.name,
            edition=account.edition,
            currency=account.currency,
            billing_details=BillingDetailsOut.of(account.billing),
            payment_method=account.payment_method,
            contacts=[
                ContactOut(id=cid, role=c.role, name=c.name, email=c.email, phone=c.phone)
                for cid, c in account.contacts.items()
            ],
            users=[
                UserOut(
                    user_id=u.user_id,
                    name=u.name,
                    email=u.email,
                    administrator=u.administrator,
                    manage_billing=account.has_manage_billing(u.user_id),
                    identity_license=u.user_id in account.identity_licenses,
                )
                for u in account.users.values()
            ],
            identity_licenses=IdentityLicensesOut(
                used=len(account.identity_licenses), limit=catalog.FREE_IDENTITY_LICENSES
            ),
            upgrade_requested=account.upgrade_requested,
        )


class IdentityLicenseIn(Body):
    user_id: UserId


class UpgradeRequestIn(Body):
    edition: Edition
    note: Annotated[str, StringConstraints(max_length=2000), safe(2000, multiline=True)] = ""


class EditionChangeIn(Body):
    edition: Edition
    reason: Reason


class SupportCaseIn(Body):
    subject: Text
    description: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000),
        safe(10_000, multiline=True),
    ]


class SupportCaseReplyIn(Body):
    message: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000),
        safe(10_000, multiline=True),
    ]


class SupportCaseCloseIn(Body):
    resolution: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=2_000),
        safe(2_000, multiline=True),
    ] = Field("", description="What was done, for the customer to read (optional)")


class SupportCaseReplyOut(BaseModel):
    message: str
    replied_by: str
    replied_at: datetime


class SupportCaseOut(BaseModel):
    id: UUID
    version: int
    account_id: UUID
    status: SupportCaseStatus = Field(
        description="open (waiting for the vendor), answered (staff replied last) or closed"
    )
    subject: str
    description: str
    opened_by: str
    opened_at: datetime
    replies: list[SupportCaseReplyOut]
    resolution: str | None
    closed_by: str | None
    closed_at: datetime | None

    @classmethod
    def of(cls, case: SupportCase) -> SupportCaseOut:
        return cls(
            id=case.id,
            version=case.version,
            account_id=case.account_id,
            status=case.status,
            subject=case.subject,
            description=case.description,
            opened_by=case.opened_by,
            opened_at=case.created_on,
            replies=[
                SupportCaseReplyOut(
                    message=r.message, replied_by=r.replied_by, replied_at=r.replied_at
                )
                for r in case.replies
            ],
            resolution=case.resolution,
            closed_by=case.closed_by,
            closed_at=case.closed_at,
        )


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


# -- contracts --------------------------------------------------------------------------


class LineIn(Body):
    product_code: Code
    quantity: Quantity


class SubscriptionIn(Body):
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=20)]
    term_months: Months = 12
    billing_period: BillingPeriod = BillingPeriod.ANNUAL
    auto_renew: bool = True

    def quantities(self) -> dict[str, int]:
        """Units per product (a product named twice is bought once, with both quantities)."""
        found: dict[str, int] = {}
        for line in self.lines:
            found[line.product_code] = found.get(line.product_code, 0) + line.quantity
        return found


class LicensesIn(Body):
    product_code: Code
    quantity: Quantity
    effective: Day | None = Field(None, description="Defaults to today; a past date needs a reason")
    reason: Reason | None = None


class RenewalIn(Body):
    term_months: Months = Field(12, description="The length of the next term, in months")
    quantities: dict[Code, Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        None,
        description=(
            "Changes to the next term's lines, by product code. A product named gets that "
            "quantity; 0 drops its line; a product not named keeps its line as it is in the "
            "scheduled renewal (or, when none is scheduled, on the contract). A product not "
            "there yet is added if the catalog sells it in the account's edition, else the "
            "request is refused (409 product-not-in-edition; 422 unknown-product for a code "
            "the catalog does not have). Named lines are priced at the list price in force on "
            "the next term's first day; kept lines keep their price. At least one line must "
            "remain (422): to let the contract end, cancel the renewal instead. "
            "Default: no change to the lines."
        ),
        examples=[{"sales-cloud": 6, "inbox": 0}],
    )


class CancellationIn(Body):
    reason: Reason
    effective: Day | None = None


class LineOut(BaseModel):
    line_id: str
    product_code: str
    product_name: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut

    @classmethod
    def of(cls, line: Line) -> LineOut:
        return cls(
            line_id=line.line_id,
            product_code=line.product_code,
            product_name=catalog.product(line.product_code).name,
            quantity=line.quantity,
            unit_price=MoneyOut.of(line.unit_price),
            amount=MoneyOut.of(line.amount),
        )


class RenewalOut(BaseModel):
    starts_on: date
    term_months: int
    lines: list[LineOut]


class SubscriptionOut(BaseModel):
    id: UUID
    version: int
    account_id: UUID
    status: Literal["active", "cancelled", "expired"]
    currency: str
    billing_period: BillingPeriod
    term_start: date
    term_end: date
    lines: list[LineOut]
    period_amount: MoneyOut
    renewal: RenewalOut | None
    ended_on: date | None

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        return cls(
            id=sub.id,
            version=sub.version,
            account_id=sub.account_id,
            status=sub.status.value,
            currency=sub.currency,
            billing_period=sub.billing_period,
            term_start=sub.term.start,
            term_end=sub.term.end,
            lines=[LineOut.of(line) for line in sub.lines.values()],
            period_amount=MoneyOut.of(sub.period_amount),
            renewal=None
            if sub.renewal is None
            else RenewalOut(
                starts_on=sub.term.end,
                term_months=sub.renewal.term_months,
                lines=[LineOut.of(line) for line in sub.renewal.lines],
            ),
            ended_on=sub.ended_on,
        )


class SubscriptionChangeOut(BaseModel):
    subscription: SubscriptionOut
    invoice_id: UUID | None = Field(None, description="The invoice this change issued, if any")


class LicenseOut(BaseModel):
    product_code: str
    held: int
    assigned: list[str]
    available: int

    @classmethod
    def of(cls, lic: License) -> LicenseOut:
        return cls(
            product_code=lic.product_code,
            held=lic.held,
            assigned=list(lic.assigned),
            available=lic.available,
        )


class ScheduledSeatsOut(BaseModel):
    effective_on: date = Field(description="The day the change takes effect")
    change: int = Field(description="Seats added (positive) or removed (negative) that day")
    held: int = Field(description="Seats held from that day on")


class LicenseOnDayOut(LicenseOut):
    """A seat pool on one day: ``held`` counts only the seats in force that day."""

    scheduled: list[ScheduledSeatsOut] = Field(
        description="Changes already recorded that take effect after that day, in date order"
    )

    @classmethod
    def on_day(cls, seats: SeatsOnDay) -> LicenseOnDayOut:
        return cls(
            **LicenseOut.of(seats.license).model_dump(),
            scheduled=[
                ScheduledSeatsOut(effective_on=s.effective_on, change=s.change, held=s.held)
                for s in seats.scheduled
            ],
        )


# -- invoices ---------------------------------------------------------------------------


class PaymentIn(Body):
    amount: Amount | None = Field(None, description="Decimal string; default: the whole balance")
    payment_method: PaymentMethod | None = Field(
        None, description="A token recorded on the account; default: its payment method"
    )


class VoidIn(Body):
    reason: Reason


class CreditNoteIn(Body):
    amount: Amount
    reason: Reason


class InvoiceLineOut(BaseModel):
    description: str
    product_code: str
    quantity: int
    unit_price: MoneyOut
    period_start: date
    period_end: date
    amount: MoneyOut
    tax_rate: str
    tax: MoneyOut

    @classmethod
    def of(cls, line: InvoiceLine) -> InvoiceLineOut:
        return cls(
            description=line.description,
            product_code=line.product_code,
            quantity=line.quantity,
            unit_price=MoneyOut.of(line.unit_price),
            period_start=line.period_start,
            period_end=line.period_end,
            amount=MoneyOut.of(line.amount),
            tax_rate=str(line.tax_rate),
            tax=MoneyOut.of(line.tax),
        )


class InvoiceOut(BaseModel):
    id: UUID
    version: int
    number: str
    account_id: UUID
    subscription_id: UUID | None
    status: Literal["open", "paid", "void"]
    currency: str
    issued_on: date
    due_on: date
    lines: list[InvoiceLineOut]
    subtotal: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    paid: MoneyOut
    credited: MoneyOut
    balance: MoneyOut
    paid_on: date | None
    credit_notes: list[CreditNoteSummaryOut] = Field(description="In the order they were issued")
    legal: LegalDocumentOut | None = Field(
        default=None,
        description="Every mention the law requires, as the PDF and XML show them: in the"
        " answer of GET /v1/invoices/{id}, not in lists",
    )

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls(
            id=invoice.id,
            version=invoice.version,
            number=invoice.number,
            account_id=invoice.account_id,
            subscription_id=invoice.subscription_id,
            status=invoice.status.value,
            currency=invoice.currency,
            issued_on=invoice.issued_on,
            due_on=invoice.due_on,
            lines=[InvoiceLineOut.of(line) for line in invoice.lines],
            subtotal=MoneyOut.of(invoice.subtotal),
            tax=MoneyOut.of(invoice.tax),
            total=MoneyOut.of(invoice.total),
            paid=MoneyOut.of(invoice.paid),
            credited=MoneyOut.of(invoice.credited),
            balance=MoneyOut.of(invoice.balance),
            paid_on=invoice.paid_on,
            credit_notes=[CreditNoteSummaryOut.of(c) for c in invoice.credit_note_list],
        )


class CreditNoteOut(BaseModel):
    invoice: InvoiceOut
    refund: MoneyOut
    credit_note: CreditNoteSummaryOut


# -- previews ---------------------------------------------------------------------------


class InvoicePreviewOut(BaseModel):
    """An invoice as the command would issue it: its lines, tax and total. It has no id or
    number yet: those are given when it is issued."""

    subscription_id: UUID | None
    currency: str
    issued_on: date
    due_on: date
    lines: list[InvoiceLineOut]
    subtotal: MoneyOut
    tax: MoneyOut
    total: MoneyOut

    @classmethod
    def of(cls, invoice: Invoice) -> InvoicePreviewOut:
        return cls(
            subscription_id=invoice.subscription_id,
            currency=invoice.currency,
            issued_on=invoice.issued_on,
            due_on=invoice.due_on,
            lines=[InvoiceLineOut.of(line) for line in invoice.lines],
            subtotal=MoneyOut.of(invoice.subtotal),
            tax=MoneyOut.of(invoice.tax),
            total=MoneyOut.of(invoice.total),
        )


class PaymentPreviewOut(BaseModel):
    invoice_id: UUID
    amount: MoneyOut = Field(description="What the payment provider would be asked to charge")
    payment_method: str
    balance_after: MoneyOut


class PreviewOut(BaseModel):
    """What a command would do, computed by the command itself and not saved: nothing is
    written, no number is used, no money moves. Send the ``ETag`` of this answer as
    ``If-Match`` with the command to be sure it does exactly this."""

    invoices: list[InvoicePreviewOut] = Field(
        description="The invoices the command would issue now (none: it issues none)"
    )
    payment: PaymentPreviewOut | None = Field(
        None, description="The payment it would charge and record (paying an invoice)"
    )
    at_renewal: InvoicePreviewOut | None = Field(
        None,
        description=(
            "Changing the renewal: the invoice the next term's first period will carry "
            "when the contract renews, with the plan as changed and today's tax rate"
        ),
    )
    subscription: SubscriptionOut | None = Field(
        None, description="The contract as the command would leave it"
    )


def money_in(amount: str, currency: str) -> Money:
    return Money(Decimal(amount), currency)


def known_currency(currency: str | None) -> str | None:
    """A currency named in a query: refused (422 unknown-currency) unless ISO 4217 has it,
    as when opening an account in it."""
    if currency is not None:
        minor_unit(currency)
    return currency


# -- catalog ----------------------------------------------------------------------------


class PriceOut(BaseModel):
    edition: Edition
    billing_period: BillingPeriod
    unit_price: MoneyOut


class ProductOut(BaseModel):
    code: str
    name: str
    kind: ProductKind
    unit: str
    per_seat: bool
    editions: list[Edition]
    prices: list[PriceOut]


class CatalogOut(BaseModel):
    prices_on: date
    editions: list[Edition]
    products: list[ProductOut]
    free_identity_licenses: int


# -- tokens -----------------------------------------------------------------------------


class TokenIn(Body):
    role: Role
    account_id: UUID | None = None
    user_id: UserId | None = None
    label: Annotated[str, StringConstraints(max_length=100), safe(100)] = ""


class TokenOut(BaseModel):
    id: UUID
    role: Role
    account_id: UUID | None
    user_id: str | None
    label: str
    revoked: bool

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            role=token.role,
            account_id=token.account_id,
            user_id=token.user_id,
            label=token.label,
            revoked=token.revoked,
        )


class TokenIssuedOut(TokenOut):
    token: str = Field(description="The bearer token; shown only in this response")
