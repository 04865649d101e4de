"""An invoice or credit note as the legal document it is: every mention the law requires.

This is what the PDF, the HTML page, the JSON and the EN 16931 e-invoice (Factur-X CII)
all show, so they cannot disagree: the seller and the buyer (names, addresses, VAT
numbers, SIREN), the number and date of issue, the period of service, the lines with
quantity, unit price excluding tax and VAT category and rate, the VAT per rate, the
totals, the due date, and the notes the law requires (late-payment terms to business
customers, the reason no VAT is charged). A credit note names the invoice it corrects.

Amounts are as the ledger rounded them: each line's amount and its tax (ADR 7), so the
VAT of a rate is the sum of its lines' taxes, within a minor unit per line of the rate
applied to the sum (EN 16931 allows one unit: BR-CO-17). A credit note's amounts are
positive, as EN 16931 wants them: its type says they are owed back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

from domain.errors import CurrencyMismatch, InvalidValue
from domain.legal_text import checked, required
from domain.money import Money, total
from domain.period import DateRange
from domain.personal_data import ERASED
from domain.postal_address import PostalAddress
from domain.seller import Seller
from domain.siren import Siren
from domain.vat_number import VatNumber
from domain.vat_treatment import VatCategory, VatTreatment

# French e-invoicing (and most platforms) accept at most 35 of these characters (BR-FR-01/02).
_DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9+\-_/]{1,35}")


class DocumentType(Enum):
    """UNTDID 1001, as EN 16931 uses it (BT-3)."""

    INVOICE = "380"
    CREDIT_NOTE = "381"


class NoteSubject(Enum):
    """UNTDID 4451 subject codes of the notes (BT-21) that French e-invoicing requires."""

    LATE_PAYMENT_PENALTIES = "PMD"
    RECOVERY_INDEMNITY = "PMT"
    EARLY_PAYMENT = "AAB"
    TAX = "TXD"
    GENERAL = "AAI"


@dataclass(frozen=True)
class Note:
    subject: NoteSubject
    text: str

    def __post_init__(self) -> None:
        required(self.text, "note", 1000, multiline=True)


@dataclass(frozen=True)
class Buyer:
    legal_name: str  # BT-44
    address: PostalAddress  # BG-8
    email: str = ""  # BT-49 when it has no SIREN to be addressed by
    vat_number: VatNumber | None = None  # BT-48
    siren: Siren | None = None  # BT-47: a French buyer's
    tax_id: str = ""  # outside the EU: the buyer's own tax id, printed (no EN 16931 term)

    @property
    def has_vat_number(self) -> bool:
        """Whether the buyer has a VAT number: shown, or erased with its personal data
        (in the EU a buyer's tax id is its VAT number), which the VAT charged still follows."""
        return self.vat_number is not None or self.tax_id == ERASED

    def __post_init__(self) -> None:
        required(self.legal_name, "buyer legal name")
        checked(self.email, "buyer e-mail")
        checked(self.tax_id, "buyer tax id", 50)


@dataclass(frozen=True)
class InvoiceReference:
    """The invoice a credit note corrects (BG-3)."""

    number: str
    issued_on: date


def last_day(period: DateRange) -> date:
    """The last day of a half-open period: documents print periods with both ends included."""
    return period.end - timedelta(days=1)


@dataclass(frozen=True)
class DocumentLine:
    description: str  # BT-153
    quantity: Decimal  # BT-129
    unit_price: Money  # BT-146: net of tax, per unit; may have more places than the currency
    amount: Money  # BT-131: net of tax, rounded to the minor unit
    tax: Money  # the line's VAT, rounded as the ledger rounds it (not itself in the e-invoice)
    vat: VatTreatment  # BT-151, BT-152
    period: DateRange | None = None  # BT-134, BT-135
    product_code: str = ""  # BT-155
    note: str = ""  # BT-127

    def __post_init__(self) -> None:
        required(self.description, "line description")
        checked(self.product_code, "product code", 100)
        checked(self.note, "line note", 500)
        if self.quantity <= 0:
            raise InvalidValue(f"a line's quantity must be positive, got {self.quantity}")
        currency = self.amount.currency
        for money in (self.unit_price, self.tax):
            if money.currency != currency:
                raise CurrencyMismatch(currency, money.currency)
        for money in (self.amount, self.tax):
            if money != money.rounded() or money.amount < 0:
                raise InvalidValue(f"{money} is not an amount rounded to the minor unit")
        if self.unit_price.amount < 0:
            raise InvalidValue(f"a unit price cannot be negative, got {self.unit_price}")
        if not self.vat.category.charges_tax and not self.tax.is_zero:
            raise InvalidValue(f"no VAT is charged under category {self.vat.category.value}")


@dataclass(frozen=True)
class VatSubtotal:
    """The VAT of one category and rate (BG-23): the amount it applies to, and the tax."""

    vat: VatTreatment
    basis: Money  # BT-116
    tax: Money  # BT-117


@dataclass(frozen=True)
class InvoiceDocument:
    type: DocumentType
    number: str  # BT-1
    issued_on: date  # BT-2
    currency: str  # BT-5
    seller: Seller
    buyer: Buyer
    lines: tuple[DocumentLine, ...]
    due_on: date  # BT-9: when the invoice is due, or the credit note refunded or set off
    preceding_invoice: InvoiceReference | None = None  # BG-3: what a credit note corrects
    buyer_reference: str = ""  # BT-10: the buyer's own reference (a purchase order, an account)
    prepaid: Money | None = None  # BT-113: already paid when the document was issued
    extra_notes: tuple[Note, ...] = ()

    def __post_init__(self) -> None:
        if not _DOCUMENT_NUMBER.fullmatch(self.number):
            raise InvalidValue(
                f"a document number is 1 to 35 letters, digits and + - _ /, got {self.number!r}"
            )
        checked(self.buyer_reference, "buyer reference", 100)
        if not self.lines:
            raise InvalidValue("a document needs at least one line")
        for line in self.lines:
            if line.amount.currency != self.currency:
                raise CurrencyMismatch(self.currency, line.amount.currency)
        if self.due_on < self.issued_on:
            raise InvalidValue(f"the due date {self.due_on} is before the date of issue")
        if self.type is DocumentType.CREDIT_NOTE and self.preceding_invoice is None:
            raise InvalidValue("a credit note must name the invoice it corrects")
        if self.prepaid is not None and not Money.zero(self.currency) <= self.prepaid <= self.total:
            raise InvalidValue(f"the amount already paid must be between 0 and {self.total}")
        self._require_vat_numbers()

    def _require_vat_numbers(self) -> None:
        categories = {line.vat.category for line in self.lines}
        # An erased VAT number was one: the document still renders, without it.
        if VatCategory.REVERSE_CHARGE in categories and not self.buyer.has_vat_number:
            raise InvalidValue("a reverse-charge sale needs the buyer's VAT number (BR-AE-02)")
        if VatCategory.INTRA_COMMUNITY in categories and not self.buyer.has_vat_number:
            raise InvalidValue("an intra-community supply needs the buyer's VAT number (BR-IC-02)")

    @property
    def line_total(self) -> Money:
        """BT-106, and BT-109 as the ledger makes no document-level allowances or charges."""
        return total([line.amount for line in self.lines], self.currency)

    @property
    def tax_total(self) -> Money:
        """BT-110."""
        return total([line.tax for line in self.lines], self.currency)

    @property
    def total(self) -> Money:
        """BT-112: what the buyer owes (or, for a credit note, is owed), tax included."""
        return self.line_total + self.tax_total

    @property
    def amount_due(self) -> Money:
        """BT-115."""
        return self.total - (self.prepaid or Money.zero(self.currency))

    @property
    def vat_subtotals(self) -> tuple[VatSubtotal, ...]:
        """One per VAT treatment, in the order the lines first use it."""
        treatments = list(dict.fromkeys(line.vat for line in self.lines))
        return tuple(
            VatSubtotal(
                vat,
                total([line.amount for line in self.lines if line.vat == vat], self.currency),
                total([line.tax for line in self.lines if line.vat == vat], self.currency),
            )
            for vat in treatments
        )

    @property
    def service_period(self) -> DateRange | None:
        """BG-14: from the first line's first day to the last line's last, if lines have one."""
        periods = [line.period for line in self.lines if line.period is not None]
        if not periods:
            return None
        return DateRange(min(p.start for p in periods), max(p.end for p in periods))

    @property
    def notes(self) -> tuple[Note, ...]:
        """The mentions the law requires, then any others (BG-1)."""
        return (*legal_notes(self), *self.extra_notes)


def _amount_text(money: Money) -> str:
    return f"{money.rounded().amount} {money.currency}"


def legal_notes(document: InvoiceDocument) -> tuple[Note, ...]:
    """Late-payment terms (every ledger customer is a business: art. L441-9 and L441-10 of
    the Code de commerce) and, where no VAT is charged, why (one tax note: BR-FR-06)."""
    terms = document.seller.late_payment
    notes = [
        Note(
            NoteSubject.LATE_PAYMENT_PENALTIES,
            f"En cas de retard de paiement, pénalités au taux annuel de {terms.penalty_percent} %"
            " exigibles dès le lendemain de la date d'échéance.",
        ),
        Note(
            NoteSubject.RECOVERY_INDEMNITY,
            "Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : "
            f"{_amount_text(terms.recovery_indemnity)} (art. L441-10 et D441-5 du Code de"
            " commerce).",
        ),
        Note(NoteSubject.EARLY_PAYMENT, terms.early_payment),
    ]
    reasons = list(dict.fromkeys(s.vat.exemption_reason for s in document.vat_subtotals))
    exemptions = [reason for reason in reasons if reason]
    if exemptions:
        notes.append(Note(NoteSubject.TAX, "\n".join(exemptions)))
    return tuple(notes)
