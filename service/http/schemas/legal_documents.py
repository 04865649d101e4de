"""An invoice's or credit note's legal mentions as JSON: the one legal document
(domain/invoice_document.py) that the PDF, the XML and the web pages show too, field for
field, so no rendering says something the others do not."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.invoice import CreditNote
from domain.invoice_document import (
    Buyer,
    DocumentLine,
    DocumentType,
    InvoiceDocument,
    VatSubtotal,
    last_day,
)
from domain.money import Money
from domain.postal_address import PostalAddress
from domain.seller import Seller
from service.http.schemas.common import MoneyOut


class AddressOut(BaseModel):
    line1: str
    line2: str
    postal_code: str
    city: str
    region: str
    country: str

    @classmethod
    def of(cls, address: PostalAddress) -> AddressOut:
        return cls(
            line1=address.line1,
            line2=address.line2,
            postal_code=address.postal_code,
            city=address.city,
            region=address.region,
            country=address.country,
        )


class SellerOut(BaseModel):
    legal_name: str
    legal_form: str = Field(description="Legal form, share capital and registry")
    address: AddressOut
    vat_number: str | None
    siren: str | None
    siret: str | None
    email: str

    @classmethod
    def of(cls, seller: Seller) -> SellerOut:
        return cls(
            legal_name=seller.legal_name,
            legal_form=seller.legal_form,
            address=AddressOut.of(seller.address),
            vat_number=None if seller.vat_number is None else str(seller.vat_number),
            siren=None if seller.siren is None else str(seller.siren),
            siret=None if seller.siret is None else str(seller.siret),
            email=seller.email,
        )


class BuyerOut(BaseModel):
    """The buyer as the document names it; a field whose personal data was erased reads
    ``"[erased]"``."""

    legal_name: str
    address: AddressOut
    vat_number: str | None
    siren: str | None = Field(description="A French buyer's, from its VAT number")
    tax_id: str = Field(description="Outside the EU: the buyer's own tax id")
    email: str

    @classmethod
    def of(cls, buyer: Buyer) -> BuyerOut:
        return cls(
            legal_name=buyer.legal_name,
            address=AddressOut.of(buyer.address),
            vat_number=None if buyer.vat_number is None else str(buyer.vat_number),
            siren=None if buyer.siren is None else str(buyer.siren),
            tax_id=buyer.tax_id,
            email=buyer.email,
        )


class PriceOut(BaseModel):
    """A unit price: to the cent, or to four places for part of a period."""

    amount: str = Field(examples=["73.6000"])
    currency: str

    @classmethod
    def of(cls, money: Money) -> PriceOut:
        exact = money if money != money.rounded() else money.rounded()
        return cls(amount=str(exact.amount), currency=money.currency)


class DocumentLineOut(BaseModel):
    description: str
    product_code: str
    quantity: str = Field(examples=["5"])
    unit_price: PriceOut = Field(description="Excluding tax")
    amount: MoneyOut = Field(description="Excluding tax")
    vat_category: str = Field(description="UNTDID 5305, as EN 16931 restricts it", examples=["S"])
    vat_rate: str = Field(examples=["0.20"])
    tax: MoneyOut
    period_start: date | None
    period_end: date | None = Field(description="The last day included")
    note: str

    @classmethod
    def of(cls, line: DocumentLine) -> DocumentLineOut:
        return cls(
            description=line.description,
            product_code=line.product_code,
            quantity=f"{line.quantity.normalize():f}",
            unit_price=PriceOut.of(line.unit_price),
            amount=MoneyOut.of(line.amount),
            vat_category=line.vat.category.value,
            vat_rate=str(line.vat.rate),
            tax=MoneyOut.of(line.tax),
            period_start=None if line.period is None else line.period.start,
            period_end=None if line.period is None else last_day(line.period),
            note=line.note,
        )


class VatSubtotalOut(BaseModel):
    vat_category: str
    vat_rate: str
    basis: MoneyOut
    tax: MoneyOut
    exemption_reason: str = Field(description="Why no VAT is charged, in the law's words")
    exemption_code: str = Field(examples=["VATEX-EU-AE"])

    @classmethod
    def of(cls, subtotal: VatSubtotal) -> VatSubtotalOut:
        return cls(
            vat_category=subtotal.vat.category.value,
            vat_rate=str(subtotal.vat.rate),
            basis=MoneyOut.of(subtotal.basis),
            tax=MoneyOut.of(subtotal.tax),
            exemption_reason=subtotal.vat.exemption_reason,
            exemption_code=subtotal.vat.exemption_code,
        )


class LatePaymentOut(BaseModel):
    penalty_rate: str = Field(description="Per year", examples=["0.12"])
    recovery_indemnity: MoneyOut = Field(description="Fixed, per late invoice (French B2B)")


class NoteOut(BaseModel):
    subject: str = Field(description="UNTDID 4451", examples=["PMD"])
    text: str


class InvoiceReferenceOut(BaseModel):
    number: str
    issued_on: date


class LegalDocumentOut(BaseModel):
    """Every mention the law requires on the document, as its PDF and XML show them."""

    type: Literal["invoice", "credit_note"]
    type_code: Literal["380", "381"] = Field(description="UNTDID 1001 (EN 16931 BT-3)")
    number: str
    issued_on: date
    due_on: date = Field(description="When it is due; for a credit note, refunded or set off")
    currency: str
    service_period_start: date | None
    service_period_end: date | None = Field(description="The last day included")
    corrects: InvoiceReferenceOut | None = Field(description="The invoice a credit note corrects")
    seller: SellerOut
    buyer: BuyerOut
    lines: list[DocumentLineOut]
    vat_breakdown: list[VatSubtotalOut]
    total_excluding_tax: MoneyOut
    tax_total: MoneyOut
    total: MoneyOut
    late_payment: LatePaymentOut
    notes: list[NoteOut] = Field(description="The mentions the law requires, in its words")

    @classmethod
    def of(cls, document: InvoiceDocument) -> LegalDocumentOut:
        service = document.service_period
        corrected = document.preceding_invoice
        terms = document.seller.late_payment
        return cls(
            type="credit_note" if document.type is DocumentType.CREDIT_NOTE else "invoice",
            type_code="381" if document.type is DocumentType.CREDIT_NOTE else "380",
            number=document.number,
            issued_on=document.issued_on,
            due_on=document.due_on,
            currency=document.currency,
            service_period_start=None if service is None else service.start,
            service_period_end=None if service is None else last_day(service),
            corrects=None
            if corrected is None
            else InvoiceReferenceOut(number=corrected.number, issued_on=corrected.issued_on),
            seller=SellerOut.of(document.seller),
            buyer=BuyerOut.of(document.buyer),
            lines=[DocumentLineOut.of(line) for line in document.lines],
            vat_breakdown=[VatSubtotalOut.of(s) for s in document.vat_subtotals],
            total_excluding_tax=MoneyOut.of(document.line_total),
            tax_total=MoneyOut.of(document.tax_total),
            total=MoneyOut.of(document.total),
            late_payment=LatePaymentOut(
                penalty_rate=str(terms.penalty_rate),
                recovery_indemnity=MoneyOut.of(terms.recovery_indemnity),
            ),
            notes=[NoteOut(subject=n.subject.value, text=n.text) for n in document.notes],
        )


class CreditNoteSummaryOut(BaseModel):
    """A credit note as its invoice lists it; its own document is at
    ``/v1/invoices/{invoice_id}/credit-notes/{id}`` (``/pdf``, ``/xml``)."""

    id: str
    number: str = Field(examples=["A-2026-000007"])
    issued_on: date
    amount: MoneyOut = Field(description="Credited, tax included")
    refund: MoneyOut = Field(description="The part that returns money already paid")

    @classmethod
    def of(cls, credit: CreditNote) -> CreditNoteSummaryOut:
        return cls(
            id=credit.id,
            number=credit.number,
            issued_on=credit.issued_on,
            amount=MoneyOut.of(credit.amount),
            refund=MoneyOut.of(credit.refund),
        )


class CreditNoteDocumentOut(CreditNoteSummaryOut):
    """A credit note with its legal mentions."""

    invoice_id: UUID
    legal: LegalDocumentOut

    @classmethod
    def document(
        cls, invoice_id: UUID, credit: CreditNote, document: InvoiceDocument
    ) -> CreditNoteDocumentOut:
        return cls(
            **CreditNoteSummaryOut.of(credit).model_dump(),
            invoice_id=invoice_id,
            legal=LegalDocumentOut.of(document),
        )
