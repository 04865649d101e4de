"""Invoice documents for the e-invoice tests: one per way VAT applies, and a credit note.

The identifiers are made up but well formed (their check digits pass); the IBAN is ISO
13616's own example.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import strategies as st

from domain.bank_account import BankAccount
from domain.invoice_document import (
    Buyer,
    DocumentLine,
    DocumentType,
    InvoiceDocument,
    InvoiceReference,
)
from domain.money import Money
from domain.period import DateRange
from domain.postal_address import PostalAddress
from domain.seller import LatePaymentTerms, Seller
from domain.siren import Siren, Siret
from domain.vat_number import VatNumber
from domain.vat_treatment import (
    EXPORT_OF_SERVICES,
    FRANCHISE,
    REVERSE_CHARGE,
    VatTreatment,
)

SELLER = Seller(
    legal_name="Subledger SAS",
    address=PostalAddress("12 rue de la Paix", "Paris", "75002", "FR"),
    email="facturation@subledger.example",
    late_payment=LatePaymentTerms(Decimal("0.1215")),
    vat_number=VatNumber("FR11123456782"),
    siren=Siren("123456782"),
    siret=Siret("12345678200010"),
    bank_account=BankAccount("FR7630006000011234567890189", "AGRIFRPP"),
    legal_form="SAS au capital de 10 000 EUR, RCS Paris 123 456 782",
)
FRANCHISED_SELLER = Seller(
    legal_name="Atelier Dupont EI",
    address=PostalAddress("3 place du Marché", "Lyon", "69002", "FR"),
    email="contact@dupont.example",
    late_payment=LatePaymentTerms(Decimal("0.1215")),
    vat_number=VatNumber("FR72555123454"),
    siren=Siren("555123454"),
    bank_account=BankAccount("FR7630006000011234567890189"),
    vat_franchise=True,
)

FRENCH_BUYER = Buyer(
    "Boulangerie Martin SARL",
    PostalAddress("8 avenue Jean Jaurès", "Toulouse", "31000", "FR"),
    email="compta@martin.example",
    vat_number=VatNumber("FR14987654324"),
    siren=Siren("987654324"),
)
GERMAN_BUYER = Buyer(
    "Lumen GmbH",
    PostalAddress("Hauptstraße 5", "Berlin", "10115", "DE"),
    email="rechnung@lumen.example",
    vat_number=VatNumber("DE136695976"),
)
AMERICAN_BUYER = Buyer(
    "Acme Corp",
    PostalAddress("1 Main St", "Springfield", "62701", "US", region="IL"),
    email="ap@acme.example",
)

YEAR = DateRange(date(2026, 1, 5), date(2027, 1, 5))
FRENCH_VAT = VatTreatment.standard(Decimal("0.20"))


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def line(
    description: str,
    quantity: int,
    unit_price: str,
    vat: VatTreatment,
    period: DateRange | None = YEAR,
) -> DocumentLine:
    price = eur(unit_price)
    amount = price.times(quantity)
    return DocumentLine(
        description,
        Decimal(quantity),
        price,
        amount,
        amount.times(Fraction(vat.rate)),
        vat,
        period,
        product_code=description.lower().replace(" ", "-"),
    )


def invoice(
    buyer: Buyer,
    vat: VatTreatment,
    seller: Seller = SELLER,
    number: str = "F-2026-000001",
) -> InvoiceDocument:
    return InvoiceDocument(
        DocumentType.INVOICE,
        number,
        date(2026, 1, 5),
        "EUR",
        seller,
        buyer,
        (
            line("Sales Cloud", 5, "1200.00", vat),
            line("Data Storage", 3, "60.00", vat),
            line("Onboarding", 1, "499.99", vat, period=None),
        ),
        due_on=date(2026, 2, 4),
        buyer_reference="ACME-PO-1",
    )


def french_b2b() -> InvoiceDocument:
    return invoice(FRENCH_BUYER, FRENCH_VAT)


def intra_eu_reverse_charge() -> InvoiceDocument:
    return invoice(GERMAN_BUYER, REVERSE_CHARGE)


def export_outside_eu() -> InvoiceDocument:
    return invoice(AMERICAN_BUYER, EXPORT_OF_SERVICES)


def franchise() -> InvoiceDocument:
    return invoice(FRENCH_BUYER, FRANCHISE, seller=FRANCHISED_SELLER)


def credit_note() -> InvoiceDocument:
    return InvoiceDocument(
        DocumentType.CREDIT_NOTE,
        "A-2026-000001",
        date(2026, 3, 2),
        "EUR",
        SELLER,
        FRENCH_BUYER,
        (line("Sales Cloud: 2 seats credited", 2, "1200.00", FRENCH_VAT),),
        due_on=date(2026, 3, 2),
        preceding_invoice=InvoiceReference("F-2026-000001", date(2026, 1, 5)),
    )


ALL = {
    "French B2B, VAT 20%": french_b2b,
    "intra-EU reverse charge": intra_eu_reverse_charge,
    "export outside the EU": export_outside_eu,
    "art. 293 B franchise": franchise,
    "credit note": credit_note,
}


# Hypothesis: any document the domain accepts, for the properties and the rules to hold on.
FRENCH_RATES = [Decimal(r) for r in ("0.20", "0.10", "0.055", "0.021")]
# Who buys, from whom, and the treatments that sale can take.
SALES = [
    (SELLER, FRENCH_BUYER, [VatTreatment.standard(rate) for rate in FRENCH_RATES]),
    (SELLER, GERMAN_BUYER, [REVERSE_CHARGE]),
    (SELLER, AMERICAN_BUYER, [EXPORT_OF_SERVICES]),
    (FRANCHISED_SELLER, FRENCH_BUYER, [FRANCHISE]),
]


@st.composite
def document_lines(draw: st.DrawFn, treatments: list[VatTreatment]) -> DocumentLine:
    quantity = draw(st.integers(1, 500))
    price = draw(
        st.decimals(Decimal("0.01"), Decimal("20000"), places=draw(st.sampled_from([2, 4])))
    )
    vat = draw(st.sampled_from(treatments))
    amount = Money(price * quantity, "EUR").rounded()
    start = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    period = draw(
        st.none() | st.integers(1, 366).map(lambda d: DateRange(start, start + timedelta(d)))
    )
    return DocumentLine(
        draw(st.sampled_from(["Sales Cloud", "Service Cloud", "Inbox", "Stockage de données"])),
        Decimal(quantity),
        Money(price, "EUR"),
        amount,
        amount.times(Fraction(vat.rate)),
        vat,
        period,
    )


@st.composite
def documents(draw: st.DrawFn) -> InvoiceDocument:
    seller, buyer, treatments = draw(st.sampled_from(SALES))
    kind = draw(st.sampled_from(DocumentType))
    issued = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    lines = tuple(draw(st.lists(document_lines(treatments), min_size=1, max_size=8)))
    preceding = InvoiceReference("F-2026-000001", date(2026, 1, 1))
    return InvoiceDocument(
        kind,
        draw(st.from_regex(r"[A-Z]-20[0-9]{2}-[0-9]{6}", fullmatch=True)),
        issued,
        "EUR",
        seller,
        buyer,
        lines,
        due_on=issued + timedelta(days=draw(st.integers(0, 60))),
        preceding_invoice=preceding if kind is DocumentType.CREDIT_NOTE else None,
    )
