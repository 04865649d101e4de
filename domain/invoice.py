"""The Invoice: lines, tax, total, due date, payments and credit notes.

Each line's amount is rounded half-up to the minor unit, and so is its tax; totals are
sums of rounded figures. balance = total - credited - (payments - refunds), and it
never goes below zero: a payment cannot exceed it, and a credit note first reduces it
and refunds only what was paid beyond it. When the balance reaches zero the invoice
is paid (`InvoicePaid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from uuid import UUID

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import (
    AlreadyExists,
    AmountNotPositive,
    CreditExceedsInvoice,
    CurrencyMismatch,
    InvalidValue,
    InvoiceNotOpen,
    PaymentExceedsBalance,
)
from domain.money import Money, total
from domain.period import DateRange
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


class Invoice(LedgerAggregate):
    class InvoiceIssued(LedgerAggregate.Created):
        account_id: UUID
        subscription_id: UUID | None
        number: str
        currency: str
        lines: tuple[InvoiceLine, ...]
        issued_on: date
        due_on: date  # effective: when payment is due

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
        credit_note_id: str
        amount: Money
        refund: Money  # the part of the credit that returns money already paid
        effective_at: date

        def apply(self, invoice: Invoice) -> None:
            invoice.credit_notes[self.credit_note_id] = self.amount
            invoice.credited = invoice.credited + self.amount
            invoice.paid = invoice.paid - self.refund

    def __init__(
        self,
        account_id: UUID,
        subscription_id: UUID | None,
        number: str,
        currency: str,
        lines: tuple[InvoiceLine, ...],
        issued_on: date,
        due_on: date,
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
    ) -> Invoice:
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
        )
        invoice._settle_if_zero(cause)  # nothing to pay (e.g. free seats): settled at once
        return invoice

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

    def record_payment(
        self, payment_id: str, amount: Money, method_reference: str, cause: Cause
    ) -> None:
        self._require_open("pay")
        if payment_id in self.payments:
            raise AlreadyExists(f"payment {payment_id} is already recorded")
        self._positive(amount)
        if amount > self.balance:
            raise PaymentExceedsBalance(
                f"the payment of {amount} exceeds the balance of {self.balance}"
            )
        self._record(
            self.PaymentRecorded,
            cause,
            payment_id=payment_id,
            amount=amount,
            method_reference=method_reference,
            effective_at=cause.today,
        )
        self._settle_if_zero(cause)

    def _settle_if_zero(self, cause: Cause) -> None:
        if self.balance.is_zero and self.status is InvoiceStatus.OPEN:
            self._record(self.InvoicePaid, cause, effective_at=cause.today)

    def void(self, cause: Cause) -> None:
        cause.require_reason("voiding an invoice")
        self._require_open("void")
        if not self.paid.is_zero:
            raise InvoiceNotOpen("partly paid", "void")
        self._record(self.InvoiceVoided, cause, effective_at=cause.today)

    def issue_credit_note(self, credit_note_id: str, amount: Money, cause: Cause) -> Money:
        """Credit part of the invoice; returns the part to refund to the customer."""
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
        refund = amount - self.balance if amount > self.balance else Money.zero(self.currency)
        self._record(
            self.CreditNoteIssued,
            cause,
            credit_note_id=credit_note_id,
            amount=amount,
            refund=refund,
            effective_at=cause.today,
        )
        self._settle_if_zero(cause)
        return refund
