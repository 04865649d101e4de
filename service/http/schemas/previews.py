"""What a command would do (``POST .../preview``): the invoices it would issue, the
payment it would charge. ``InvoicePreviewOut`` validates the would-be invoice's document
(``projections.documents.invoice_document``), which it reads part of."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, Field

from service.http.schemas.common import MoneyOut
from service.http.schemas.invoices import InvoiceLineOut
from service.http.schemas.subscriptions import SubscriptionOut


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
