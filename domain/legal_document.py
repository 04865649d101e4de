"""The legal document of a ledger invoice: the Invoice, the buyer's billing details as they
were when it was issued, and the seller, made into an InvoiceDocument. An invoice records
both when it is issued (ADR 0027); one issued before that takes them from the caller (the
account's history, the configured seller).

A buyer identity whose retention has ended reads ``"[erased]"``: the document still
renders, naming no one.

The document shows what the ledger charged, never recomputes it: a line taxed at a rate is
standard-rated at that rate; an untaxed line takes the treatment the seller and buyer
call for (reverse charge, export, franchise: ``vat_treatment``), whose wording explains
why no VAT was charged. A line billed for part of a period (a mid-term addition, ADR 7)
shows the unit price of that part, to four places, so that quantity x unit price gives
its amount to the cent; the full-period price is in the line's note.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from domain.account import BillingDetails
from domain.invoice import CreditNote, Invoice, InvoiceLine
from domain.invoice_document import (
    Buyer,
    DocumentLine,
    DocumentType,
    InvoiceDocument,
    InvoiceReference,
)
from domain.money import Money
from domain.period import DateRange
from domain.personal_data import ERASED
from domain.postal_address import PostalAddress
from domain.seller import Seller
from domain.siren import Siren
from domain.vat_number import EU_MEMBER_STATES, VatNumber
from domain.vat_treatment import VatTreatment, vat_treatment

PRICE_PLACES = Decimal("0.0001")


def buyer_of(billing: BillingDetails) -> Buyer:
    """The buyer as an invoice shows it. In the EU the tax id must be a VAT number (it decides
    the reverse charge); a French buyer's SIREN is the one its VAT number carries."""
    vat_number = None
    if billing.tax_id and billing.tax_id != ERASED and billing.country in EU_MEMBER_STATES:
        vat_number = VatNumber.parse(billing.tax_id)
    siren = None
    if vat_number is not None and vat_number.country == "FR" and vat_number.value[4:7] != "000":
        siren = Siren(vat_number.value[4:])
    return Buyer(
        billing.legal_name,
        PostalAddress(
            billing.address_line1,
            billing.city,
            billing.postal_code,
            billing.country,
            billing.address_line2,
            billing.region,
        ),
        email=billing.invoice_email,
        vat_number=vat_number,
        siren=siren,
        # in the EU a tax id is a VAT number: shown as one, or as erased
        tax_id=billing.tax_id
        if billing.tax_id == ERASED
        else ""
        if billing.country in EU_MEMBER_STATES
        else billing.tax_id,
    )


def parties(invoice: Invoice, billing: BillingDetails, seller: Seller) -> tuple[Buyer, Seller]:
    """The buyer and seller the invoice names: ``billing`` (the invoice's ``buyer`` as
    recorded at issue, else the account's at issue) and the seller it recorded, else
    (an invoice issued before it kept one) ``seller``."""
    return buyer_of(billing), invoice.seller or seller


def _unit_price(line: InvoiceLine) -> tuple[Money, str]:
    """The price per unit of what the line bills, and a note when that is part of a period."""
    if line.unit_price.times(line.quantity) == line.amount:
        return line.unit_price, ""
    part = (line.amount.amount / line.quantity).quantize(PRICE_PLACES)
    note = f"Prorata ; prix de la période complète : {line.unit_price} par unité"
    return Money(part, line.amount.currency), note


def _treatment(line: InvoiceLine, seller: Seller, buyer: Buyer) -> VatTreatment:
    if line.tax_rate:
        return VatTreatment.standard(line.tax_rate)
    country = buyer.address.country
    return vat_treatment(
        seller.address.country, seller.vat_franchise, country, buyer.has_vat_number, line.tax_rate
    )


def _document_line(line: InvoiceLine, vat: VatTreatment) -> DocumentLine:
    unit_price, note = _unit_price(line)
    return DocumentLine(
        line.description,
        Decimal(line.quantity),
        unit_price,
        line.amount,
        line.tax,
        vat,
        DateRange(line.period_start, line.period_end),
        product_code=line.product_code,
        note=note,
    )


def invoice_document(
    invoice: Invoice, billing: BillingDetails, seller: Seller, number: str | None = None
) -> InvoiceDocument:
    """``number`` is the document's number when it differs from the invoice's own (a series
    number given at issue). ``seller`` is used only for an invoice that does not record
    its own (``parties``)."""
    buyer, seller = parties(invoice, billing, seller)
    return InvoiceDocument(
        DocumentType.INVOICE,
        number or invoice.number,
        invoice.issued_on,
        invoice.currency,
        seller,
        buyer,
        tuple(_document_line(line, _treatment(line, seller, buyer)) for line in invoice.lines),
        due_on=invoice.due_on,
        buyer_reference=str(invoice.account_id),
    )


def credit_note_document(
    invoice: Invoice,
    credit: CreditNote,
    billing: BillingDetails,
    seller: Seller,
) -> InvoiceDocument:
    """The credit note ``credit`` of ``invoice`` as its own legal document (type 381): it
    names the invoice it corrects, and credits each VAT treatment of the invoice its share
    of the amount, tax included, split into the amount excluding tax and the VAT (the
    ledger credits an amount of the invoice's total, ADR 11). Its parties are the invoice's."""
    buyer, seller = parties(invoice, billing, seller)
    treatments = list(dict.fromkeys(_treatment(line, seller, buyer) for line in invoice.lines))
    gross = {
        vat: sum(
            (
                (line.amount + line.tax).amount
                for line in invoice.lines
                if _treatment(line, seller, buyer) == vat
            ),
            Decimal(0),
        )
        for vat in treatments
    }
    total = sum(gross.values(), Decimal(0))
    period = DateRange(
        min(line.period_start for line in invoice.lines),
        max(line.period_end for line in invoice.lines),
    )
    lines = []
    left = credit.amount
    for n, vat in enumerate(treatments):
        last = n == len(treatments) - 1
        share = left if last else credit.amount.times(Fraction(gross[vat]) / Fraction(total))
        left = left - share
        if share.is_zero:
            continue
        net = Money(share.amount / (1 + vat.rate), share.currency).rounded()
        lines.append(
            DocumentLine(
                f"Avoir sur la facture {invoice.number}",
                Decimal(1),
                net,
                net,
                share - net,
                vat,
                period,
            )
        )
    return InvoiceDocument(
        DocumentType.CREDIT_NOTE,
        credit.number,
        credit.issued_on,
        invoice.currency,
        seller,
        buyer,
        tuple(lines),
        due_on=credit.issued_on,
        preceding_invoice=InvoiceReference(invoice.number, invoice.issued_on),
        buyer_reference=str(invoice.account_id),
    )
