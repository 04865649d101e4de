"""The Invoice: lines, tax, total, due date, payments and credit notes.

Each line's amount is rounded half-up to the minor unit, and so is its tax; totals are
sums of rounded figures. balance = total - credited - (payments - refunds), and it
never goes below zero: a payment cannot exceed it, and a credit note first reduces it
and refunds only what was paid beyond it. When the balance reaches zero the invoice
is paid (`InvoicePaid`). A charge the payment provider declined is recorded too
(`PaymentFailed`), and a refund paid out by the provider is taken from the newest
payments first (`PaymentRefunded`), never beyond the refunds that credit notes made due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any, ClassVar
from uuid import UUID

from domain.account import BILLING_FIELDS, BillingDetails
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import (
    AlreadyExists,
    AlreadyInThatState,
    AmountNotPositive,
    CreditExceedsInvoice,
    CurrencyMismatch,
    InvalidValue,
    InvoiceNotOpen,
    NotFound,
    PaymentExceedsBalance,
)
from domain.legal_text import required
from domain.money import Money, total
from domain.payment_method import recorded_reference
from domain.period import DateRange
from domain.personal_data import PersonalFields, SubjectKind, personal
from domain.seller import Seller
from domain.subscription import positive


class InvoiceStatus(Enum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    product_code: str
    quantity: int
    unit_price: Money  # per full billing period
    period_start: date
    period_end: date
    amount: Money  # quantity x unit price x share of the period, rounded
    tax_rate: Decimal
    tax: Money

    @classmethod
    def charge(
        cls,
        description: str,
        product_code: str,
        quantity: int,
        unit_price: Money,
        period: DateRange,
        share: Fraction,
        tax_rate: Decimal,
    ) -> InvoiceLine:
        """Price ``quantity`` units for ``share`` of a billing period (1 for a whole one)."""
        if not 0 < share <= 1:
            raise InvalidValue(f"a charge covers part of one period, not {share}")
        positive(quantity)
        amount = unit_price.times(quantity * share)
        return cls(
            description,
            product_code,
            quantity,
            unit_price,
            period.start,
            period.end,
            amount,
            tax_rate,
            amount.times(Fraction(tax_rate)),
        )


@dataclass(frozen=True)
class CreditNote:
    """A credit note as issued: a document of its own that corrects its invoice."""

    id: str
    number: str
    amount: Money  # credited, tax included
    refund: Money  # the part that returns money already paid
    issued_on: date


class Invoice(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        public: ClassVar[bool] = True  # its events are published (domain/base.py)

    class InvoiceIssued(LedgerAggregate.Created):
        """v2 added the buyer and seller as at issue, and the financial year of issue, whose
        retention key seals the buyer (ADR 0027)."""

        class_version = 2
        account_id: UUID
        subscription_id: UUID | None
        number: str
        currency: str
        lines: tuple[InvoiceLine, ...]
        issued_on: date
        due_on: date  # effective: when payment is due
        buyer: BillingDetails | None
        seller: Seller | None
        financial_year: int | None

        # Kept for the retention period of the financial year, under a key of its own.
        personal_data: ClassVar[tuple[PersonalFields, ...]] = (
            personal(
                SubjectKind.BUYER,
                *(f"buyer.{name}" for name in BILLING_FIELDS),
                subject_id="financial_year",
                holder="account_id",
            ),
        )

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Issued before invoices kept their own copy: the buyer is found in the
            # account's history, the seller in the configuration (legal_document.py).
            state["buyer"] = None
            state["seller"] = None
            state["financial_year"] = None

    class PaymentRecorded(LedgerAggregate.Event):
        payment_id: str
        amount: Money
        method_reference: str
        effective_at: date

        def apply(self, invoice: Invoice) -> None:
            invoice.payments[self.payment_id] = self.amount
            invoice.paid = invoice.paid + self.amount

    class InvoicePaid(LedgerAggregate.Event):
        effective_at: date

        def apply(self, invoice: Invoice) -> None:
            invoice.status = InvoiceStatus.PAID
            invoice.paid_on = self.effective_at

    class InvoiceVoided(LedgerAggregate.Event):
        effective_at: date

        def apply(self, invoice: Invoice) -> None:
            invoice.status = InvoiceStatus.VOID

    class CreditNoteIssued(LedgerAggregate.Event):
        """v2 added ``number``, the credit note's number in its series (ADR 0022)."""

        class_version = 2
        credit_note_id: str
        number: str
        amount: Money
        refund: Money  # the part of the credit that returns money already paid
        effective_at: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Credit notes issued before the series were known by their id alone.
            state["number"] = state["credit_note_id"]

        def apply(self, invoice: Invoice) -> None:
            invoice.credit_notes[self.credit_note_id] = self.amount
            if invoice.numbered_credit_notes is None:
                invoice.numbered_credit_notes = {}
            invoice.numbered_credit_notes[self.credit_note_id] = self.number
            if invoice.issued_credit_notes is None:
                invoice.issued_credit_notes = {}
            invoice.issued_credit_notes[self.credit_note_id] = CreditNote(
                self.credit_note_id, self.number, self.amount, self.refund, self.effective_at
            )
            invoice.credited = invoice.credited + self.amount
            invoice.paid = invoice.paid - self.refund
            invoice.refund_due = invoice.refund_due + self.refund

    class PaymentFailed(LedgerAggregate.Event):
        """The provider declined a charge: nothing was paid."""

        amount: Money
        method_reference: str
        decline_code: str
        reason: str  # the provider's words, as the customer was shown them
        effective_at: date

    class PaymentRefunded(LedgerAggregate.Event):
        """The provider returned part of a payment: the refund of a credit note, paid out."""

        payment_id: str
        refund_id: str
        amount: Money
        credit_note_id: str
        effective_at: date

        def apply(self, invoice: Invoice) -> None:
            invoice.refunded[self.payment_id] = invoice.refunded_of(self.payment_id) + self.amount
            invoice.refund_due = invoice.refund_due - self.amount

    class InvoiceOverdue(LedgerAggregate.Event):
        balance: Money  # what was still owed when it was found overdue
        effective_at: date  # the first day past due: the day after due_on

        def apply(self, invoice: Invoice) -> None:
            invoice.overdue_since = self.effective_at

    # Snapshots taken before invoices could fall overdue lack the attribute: none were.
    overdue_since: date | None = None
    # Credit note id -> number; None until the first. Snapshots taken before credit notes
    # were numbered lack it: their credit notes are known by their ids (CreditNoteIssued v1).
    numbered_credit_notes: dict[str, str] | None = None
    # Credit note id -> the credit note as issued; None until the first. A snapshot taken
    # before this was kept (one every 50 events of an invoice) lacks the credit notes
    # issued before it.
    issued_credit_notes: dict[str, CreditNote] | None = None
    # As at issue; None for invoices issued before they were recorded (InvoiceIssued v1).
    # The buyer is not kept in the state: read from the event each time, it reads
    # "[erased]" as soon as its retention key is destroyed, in every process, and no
    # cached aggregate or snapshot holds a copy (ADR 0027).
    seller: Seller | None = None
    financial_year: int | None = None

    def __init__(
        self,
        account_id: UUID,
        subscription_id: UUID | None,
        number: str,
        currency: str,
        lines: tuple[InvoiceLine, ...],
        issued_on: date,
        due_on: date,
        buyer: BillingDetails | None = None,
        seller: Seller | None = None,
        financial_year: int | None = None,
    ) -> None:
        self.account_id = account_id
        self.subscription_id = subscription_id
        self.number = number
        self.currency = currency
        self.lines = list(lines)
        self.issued_on = issued_on
        self.due_on = due_on
        self.status = InvoiceStatus.OPEN
        self.paid = Money.zero(currency)
        self.credited = Money.zero(currency)
        self.payments: dict[str, Money] = {}
        self.credit_notes: dict[str, Money] = {}
        self.paid_on: date | None = None
        self.refunded: dict[str, Money] = {}  # per payment, what the provider returned
        self.refund_due = Money.zero(currency)  # credited refunds not yet paid out
        self.overdue_since = None
        self.numbered_credit_notes = None
        self.issued_credit_notes = None
        del buyer  # see above: read from InvoiceIssued (service/documents/invoices.py)
        self.seller = seller
        self.financial_year = financial_year

    @classmethod
    def issue(
        cls,
        invoice_id: UUID,
        account_id: UUID,
        subscription_id: UUID | None,
        number: str,
        currency: str,
        lines: list[InvoiceLine],
        due_on: date,
        cause: Cause,
        buyer: BillingDetails | None = None,
        seller: Seller | None = None,
        financial_year: int | None = None,
    ) -> Invoice:
        """``buyer`` and ``seller`` as the invoice names them, and the ``financial_year`` it
        belongs to (the ledger always gives them; domain tests may leave them out)."""
        if not lines:
            raise InvalidValue("an invoice needs at least one line")
        for line in lines:
            for money in (line.amount, line.tax):
                if money.currency != currency:
                    raise CurrencyMismatch(currency, money.currency)
        if due_on < cause.today:
            raise InvalidValue(f"an invoice cannot fall due ({due_on}) before it is issued")
        invoice = cls._begin(
            cls.InvoiceIssued,
            invoice_id,
            cause,
            account_id=account_id,
            subscription_id=subscription_id,
            number=number,
            currency=currency,
            lines=tuple(lines),
            issued_on=cause.today,
            due_on=due_on,
            buyer=buyer,
            seller=seller,
            financial_year=financial_year,
        )
        invoice._settle_if_zero(cause)  # nothing to pay (e.g. free seats): settled at once
        return invoice

    @property
    def credit_note_numbers(self) -> dict[str, str]:
        """Each credit note's number, by its id; an id for one numbered before the series."""
        numbers = {id_: id_ for id_ in self.credit_notes}
        return numbers | (self.numbered_credit_notes or {})

    @property
    def credit_note_list(self) -> list[CreditNote]:
        """The credit notes, in the order they were issued."""
        return list((self.issued_credit_notes or {}).values())

    def credit_note(self, credit_note_id: str) -> CreditNote:
        found = (self.issued_credit_notes or {}).get(credit_note_id)
        if found is None:
            raise NotFound(f"no credit note {credit_note_id} on invoice {self.number}")
        return found

    @property
    def subtotal(self) -> Money:
        return total([line.amount for line in self.lines], self.currency)

    @property
    def tax(self) -> Money:
        return total([line.tax for line in self.lines], self.currency)

    @property
    def total(self) -> Money:
        return self.subtotal + self.tax

    @property
    def balance(self) -> Money:
        if self.status is InvoiceStatus.VOID:
            return Money.zero(self.currency)
        return self.total - self.credited - self.paid

    @property
    def overdue(self) -> bool:
        """Open and marked overdue. A paid invoice keeps ``overdue_since``: it was paid late."""
        return self.status is InvoiceStatus.OPEN and self.overdue_since is not None

    def _require_open(self, action: str) -> None:
        if self.status is not InvoiceStatus.OPEN:
            raise InvoiceNotOpen(self.status.value, action)

    def _positive(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(self.currency, amount.currency)
        if not amount.is_positive:
            raise AmountNotPositive(f"the amount must be positive, got {amount}")
        if amount != amount.rounded():
            raise InvalidValue(f"{amount.amount} has more decimals than {self.currency} allows")

    def require_payable(self, amount: Money) -> None:
        """Refuse a payment of ``amount`` as ``record_payment`` would: checked before any
        money moves, so that a charge is never made for a payment the ledger refuses."""
        self._require_open("pay")
        self._positive(amount)
        if amount > self.balance:
            raise PaymentExceedsBalance(
                f"the payment of {amount} exceeds the balance of {self.balance}"
            )

    def record_payment(
        self, payment_id: str, amount: Money, method_reference: str, cause: Cause
    ) -> None:
        self._require_open("pay")
        if payment_id in self.payments:
            raise AlreadyExists(f"payment {payment_id} is already recorded")
        self.require_payable(amount)
        self._record(
            self.PaymentRecorded,
            cause,
            payment_id=payment_id,
            amount=amount,
            method_reference=recorded_reference(method_reference),
            effective_at=cause.today,
        )
        self._settle_if_zero(cause)

    def _settle_if_zero(self, cause: Cause) -> None:
        if self.balance.is_zero and self.status is InvoiceStatus.OPEN:
            self._record(self.InvoicePaid, cause, effective_at=cause.today)

    def void(self, cause: Cause) -> None:
        cause.require_reason("voiding an invoice")
        if self.status is InvoiceStatus.VOID:
            raise AlreadyInThatState(f"invoice {self.number} is already void")
        self._require_open("void")
        if not self.paid.is_zero:
            raise InvoiceNotOpen("partly paid", "void")
        self._record(self.InvoiceVoided, cause, effective_at=cause.today)

    def require_creditable(self, credit_note_id: str, amount: Money, cause: Cause) -> None:
        """Refuse a credit note as ``issue_credit_note`` would: before it takes a number."""
        cause.require_reason("a credit note")
        if self.status is InvoiceStatus.VOID:
            raise InvoiceNotOpen(self.status.value, "credit")
        if credit_note_id in self.credit_notes:
            raise AlreadyExists(f"credit note {credit_note_id} is already issued")
        self._positive(amount)
        if amount > self.total - self.credited:
            raise CreditExceedsInvoice(
                f"the credit of {amount} exceeds the {self.total - self.credited} not yet credited"
            )

    def issue_credit_note(
        self, credit_note_id: str, amount: Money, cause: Cause, number: str
    ) -> Money:
        """Credit part of the invoice with the credit note ``number`` (a document of its own,
        numbered in its series); returns the part to refund to the customer."""
        self.require_creditable(credit_note_id, amount, cause)
        required(number, "credit note number", 35)
        refund = amount - self.balance if amount > self.balance else Money.zero(self.currency)
        self._record(
            self.CreditNoteIssued,
            cause,
            credit_note_id=credit_note_id,
            number=number,
            amount=amount,
            refund=refund,
            effective_at=cause.today,
        )
        self._settle_if_zero(cause)
        return refund

    def mark_overdue(self, cause: Cause) -> None:
        """Record, once, that the invoice is still open after its due date. It can still be paid."""
        self._require_open("mark overdue")
        if self.overdue_since is not None:
            raise AlreadyExists(f"the invoice has been overdue since {self.overdue_since}")
        if cause.today <= self.due_on:
            raise InvalidValue(f"the invoice is due on {self.due_on}: it is not overdue yet")
        self._record(
            self.InvoiceOverdue,
            cause,
            balance=self.balance,
            effective_at=self.due_on + timedelta(days=1),
        )

    def record_payment_failure(
        self, amount: Money, method_reference: str, decline_code: str, reason: str, cause: Cause
    ) -> None:
        self._require_open("pay")
        self._positive(amount)
        self._record(
            self.PaymentFailed,
            cause,
            amount=amount,
            method_reference=recorded_reference(method_reference),
            decline_code=decline_code,
            reason=reason,
            effective_at=cause.today,
        )

    def refunded_of(self, payment_id: str) -> Money:
        return self.refunded.get(payment_id, Money.zero(self.currency))

    def refunds_for(self, refund: Money) -> list[tuple[str, Money]]:
        """Which payments return ``refund``: the newest first, each at most what is left of it."""
        plan: list[tuple[str, Money]] = []
        left = refund
        for payment_id, amount in reversed(self.payments.items()):
            if not left.is_positive:
                break
            share = min(amount - self.refunded_of(payment_id), left)
            if share.is_positive:
                plan.append((payment_id, share))
                left = left - share
        if left.is_positive:
            raise CreditExceedsInvoice(f"{left} of the refund is beyond what was paid")
        return plan

    def record_refund(
        self, payment_id: str, refund_id: str, amount: Money, credit_note_id: str, cause: Cause
    ) -> None:
        """The provider paid out ``amount`` of a credit note's refund from one payment."""
        if payment_id not in self.payments:
            raise NotFound(f"no payment {payment_id} on invoice {self.number}")
        if credit_note_id not in self.credit_notes:
            raise NotFound(f"no credit note {credit_note_id} on invoice {self.number}")
        self._positive(amount)
        if amount > self.refund_due:
            raise CreditExceedsInvoice(f"{amount} exceeds the {self.refund_due} of refunds due")
        if amount > self.payments[payment_id] - self.refunded_of(payment_id):
            raise CreditExceedsInvoice(f"{amount} exceeds what is left of payment {payment_id}")
        self._record(
            self.PaymentRefunded,
            cause,
            payment_id=payment_id,
            refund_id=refund_id,
            amount=amount,
            credit_note_id=credit_note_id,
            effective_at=cause.today,
        )
