"""Invoices: payments, voiding, credit notes. ``InvoiceOut`` validates
``projections.documents.invoice_document``."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from service.http.schemas.common import Amount, Body, MoneyOut, PaymentMethod, Reason
from service.http.schemas.legal_documents import CreditNoteSummaryOut, LegalDocumentOut


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


class CreditNoteOut(BaseModel):
    invoice: InvoiceOut
    refund: MoneyOut
    credit_note: CreditNoteSummaryOut
