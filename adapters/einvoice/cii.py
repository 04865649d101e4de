"""The EN 16931 e-invoice of an InvoiceDocument, in UN/CEFACT CII D16B syntax.

This is the XML a Factur-X PDF embeds at the EN 16931 ("COMFORT") profile
(``urn:cen.eu:en16931:2017``), in the element order the Factur-X XSD fixes. The mapping to
the EN 16931 business terms (BT-n, BG-n) is noted element by element. The writer adds no
logic of its own: every figure comes from the document, so the XML says what the PDF says.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree
from lxml.builder import ElementMaker
from lxml.etree import _Element as Element

from domain.invoice_document import (
    Buyer,
    DocumentLine,
    InvoiceDocument,
    Note,
    VatSubtotal,
    last_day,
)
from domain.money import Money
from domain.period import DateRange
from domain.postal_address import PostalAddress
from domain.seller import Seller
from domain.siren import Siren
from domain.vat_treatment import VatCategory, VatTreatment

EN16931_PROFILE = "urn:cen.eu:en16931:2017"
# BT-23, the French "cadre de facturation": S1 is an invoice for services, not yet paid.
BUSINESS_PROCESS = "S1"
NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
SIREN_SCHEME = "0002"  # ISO 6523 ICD of the French SIREN
SIRET_SCHEME = "0009"
ELECTRONIC_ADDRESS_SIREN = "0225"  # French e-invoicing directory: addressed by SIREN
ELECTRONIC_ADDRESS_EMAIL = "EM"
SEPA_CREDIT_TRANSFER = "58"  # UNTDID 4461 (BT-81)
UNIT = "C62"  # UN/ECE rec. 20: "one", a unit of a seat or subscription

RSM = ElementMaker(namespace=NAMESPACES["rsm"], nsmap=NAMESPACES)
RAM = ElementMaker(namespace=NAMESPACES["ram"], nsmap=NAMESPACES)
UDT = ElementMaker(namespace=NAMESPACES["udt"], nsmap=NAMESPACES)
QDT = ElementMaker(namespace=NAMESPACES["qdt"], nsmap=NAMESPACES)


EURO = "EUR"


def cii_xml(document: InvoiceDocument) -> bytes:
    """The CII XML of ``document``, UTF-8, with its XML declaration."""
    root = RSM.CrossIndustryInvoice(
        RSM.ExchangedDocumentContext(
            RAM.BusinessProcessSpecifiedDocumentContextParameter(RAM.ID(BUSINESS_PROCESS)),
            RAM.GuidelineSpecifiedDocumentContextParameter(RAM.ID(EN16931_PROFILE)),
        ),
        RSM.ExchangedDocument(
            RAM.ID(document.number),
            RAM.TypeCode(document.type.value),
            RAM.IssueDateTime(_date(UDT, document.issued_on)),
            *[_note(note) for note in document.notes],
        ),
        RSM.SupplyChainTradeTransaction(
            *[_line(index, line) for index, line in enumerate(document.lines, start=1)],
            _agreement(document),
            _delivery(document),
            _settlement(document),
        ),
    )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _date(maker: ElementMaker, day: date) -> Element:
    return maker.DateTimeString(day.strftime("%Y%m%d"), format="102")


def _amount(money: Money) -> str:
    return f"{money.rounded().amount:f}"


def _decimal(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _note(note: Note) -> Element:
    return RAM.IncludedNote(RAM.Content(note.text), RAM.SubjectCode(note.subject.value))


def _period(period: DateRange) -> Element:
    return RAM.BillingSpecifiedPeriod(
        RAM.StartDateTime(_date(UDT, period.start)),
        RAM.EndDateTime(_date(UDT, last_day(period))),
    )


def _line_tax(vat: VatTreatment) -> Element:
    return RAM.ApplicableTradeTax(
        RAM.TypeCode("VAT"),
        RAM.CategoryCode(vat.category.value),
        RAM.RateApplicablePercent(_decimal(vat.percent)),
    )


def _line(index: int, line: DocumentLine) -> Element:
    document_line = RAM.AssociatedDocumentLineDocument(RAM.LineID(str(index)))
    if line.note:
        document_line.append(RAM.IncludedNote(RAM.Content(line.note)))
    product = RAM.SpecifiedTradeProduct()
    if line.product_code:
        product.append(RAM.SellerAssignedID(line.product_code))
    product.append(RAM.Name(line.description))
    settlement = RAM.SpecifiedLineTradeSettlement(_line_tax(line.vat))
    if line.period is not None:
        settlement.append(_period(line.period))
    settlement.append(
        RAM.SpecifiedTradeSettlementLineMonetarySummation(RAM.LineTotalAmount(_amount(line.amount)))
    )
    return RAM.IncludedSupplyChainTradeLineItem(
        document_line,
        product,
        RAM.SpecifiedLineTradeAgreement(
            RAM.NetPriceProductTradePrice(RAM.ChargeAmount(_decimal(line.unit_price.amount)))
        ),
        RAM.SpecifiedLineTradeDelivery(RAM.BilledQuantity(_decimal(line.quantity), unitCode=UNIT)),
        settlement,
    )


def _address(address: PostalAddress) -> Element:
    element = RAM.PostalTradeAddress(
        RAM.PostcodeCode(address.postal_code), RAM.LineOne(address.line1)
    )
    if address.line2:
        element.append(RAM.LineTwo(address.line2))
    element.append(RAM.CityName(address.city))
    element.append(RAM.CountryID(address.country))
    if address.region:
        element.append(RAM.CountrySubDivisionName(address.region))
    return element


def _electronic_address(siren: Siren | None, email: str) -> Element:
    """BT-34 / BT-49: a French party is reached through the directory by its SIREN."""
    if siren is not None:
        uri = RAM.URIID(str(siren), schemeID=ELECTRONIC_ADDRESS_SIREN)
    else:
        uri = RAM.URIID(email, schemeID=ELECTRONIC_ADDRESS_EMAIL)
    return RAM.URIUniversalCommunication(uri)


def _seller(seller: Seller) -> Element:
    party = RAM.SellerTradeParty()
    if seller.siret is not None:
        party.append(RAM.GlobalID(str(seller.siret), schemeID=SIRET_SCHEME))
    party.append(RAM.Name(seller.legal_name))
    if seller.legal_form:
        party.append(RAM.Description(seller.legal_form))
    if seller.siren is not None:
        party.append(
            RAM.SpecifiedLegalOrganization(RAM.ID(str(seller.siren), schemeID=SIREN_SCHEME))
        )
    party.append(
        RAM.DefinedTradeContact(
            RAM.EmailURIUniversalCommunication(RAM.URIID(seller.email)),
        )
    )
    party.append(_address(seller.address))
    party.append(_electronic_address(seller.siren, seller.email))
    if seller.vat_number is not None:
        party.append(RAM.SpecifiedTaxRegistration(RAM.ID(str(seller.vat_number), schemeID="VA")))
    return party


def _buyer(buyer: Buyer) -> Element:
    party = RAM.BuyerTradeParty(RAM.Name(buyer.legal_name))
    if buyer.siren is not None:
        party.append(
            RAM.SpecifiedLegalOrganization(RAM.ID(str(buyer.siren), schemeID=SIREN_SCHEME))
        )
    party.append(_address(buyer.address))
    if buyer.siren is not None or buyer.email:
        party.append(_electronic_address(buyer.siren, buyer.email))
    if buyer.vat_number is not None:
        party.append(RAM.SpecifiedTaxRegistration(RAM.ID(str(buyer.vat_number), schemeID="VA")))
    return party


def _agreement(document: InvoiceDocument) -> Element:
    agreement = RAM.ApplicableHeaderTradeAgreement()
    if document.buyer_reference:
        agreement.append(RAM.BuyerReference(document.buyer_reference))
    agreement.append(_seller(document.seller))
    agreement.append(_buyer(document.buyer))
    return agreement


def _delivery(document: InvoiceDocument) -> Element:
    """An intra-community supply names where it goes (BR-IC-12); services have no delivery."""
    delivery = RAM.ApplicableHeaderTradeDelivery()
    if any(line.vat.category is VatCategory.INTRA_COMMUNITY for line in document.lines):
        delivery.append(
            RAM.ShipToTradeParty(
                RAM.PostalTradeAddress(RAM.CountryID(document.buyer.address.country))
            )
        )
    return delivery


def _vat_subtotal(subtotal: VatSubtotal) -> Element:
    tax = RAM.ApplicableTradeTax(RAM.CalculatedAmount(_amount(subtotal.tax)), RAM.TypeCode("VAT"))
    if subtotal.vat.exemption_reason:
        tax.append(RAM.ExemptionReason(subtotal.vat.exemption_reason))
    tax.append(RAM.BasisAmount(_amount(subtotal.basis)))
    tax.append(RAM.CategoryCode(subtotal.vat.category.value))
    if subtotal.vat.exemption_code:
        tax.append(RAM.ExemptionReasonCode(subtotal.vat.exemption_code))
    tax.append(RAM.RateApplicablePercent(_decimal(subtotal.vat.percent)))
    return tax


def _payment_means(seller: Seller) -> list[Element]:
    if seller.bank_account is None:
        return []
    means = RAM.SpecifiedTradeSettlementPaymentMeans(
        RAM.TypeCode(SEPA_CREDIT_TRANSFER),
        RAM.PayeePartyCreditorFinancialAccount(RAM.IBANID(seller.bank_account.iban)),
    )
    if seller.bank_account.bic:
        means.append(
            RAM.PayeeSpecifiedCreditorFinancialInstitution(RAM.BICID(seller.bank_account.bic))
        )
    return [means]


def _settlement(document: InvoiceDocument) -> Element:
    settlement = RAM.ApplicableHeaderTradeSettlement(
        RAM.PaymentReference(document.number),
        *_tax_currency(document),
        RAM.InvoiceCurrencyCode(document.currency),
        *_payment_means(document.seller),
        *[_vat_subtotal(subtotal) for subtotal in document.vat_subtotals],
    )
    if document.service_period is not None:
        settlement.append(_period(document.service_period))
    settlement.append(
        RAM.SpecifiedTradePaymentTerms(RAM.DueDateDateTime(_date(UDT, document.due_on)))
    )
    settlement.append(_totals(document))
    if document.preceding_invoice is not None:
        settlement.append(
            RAM.InvoiceReferencedDocument(
                RAM.IssuerAssignedID(document.preceding_invoice.number),
                RAM.FormattedIssueDateTime(_date(QDT, document.preceding_invoice.issued_on)),
            )
        )
    return settlement


def _vat_in_euros(document: InvoiceDocument) -> bool:
    """A French invoice in another currency states its VAT in euros too (BT-6, BT-111;
    BR-FR-CO-12). Without an exchange rate, the ledger states it when it is zero (a sale
    outside the EU, a reverse charge): that needs none."""
    return document.currency != EURO and document.tax_total.is_zero


def _tax_currency(document: InvoiceDocument) -> list[Element]:
    return [RAM.TaxCurrencyCode(EURO)] if _vat_in_euros(document) else []


def _totals(document: InvoiceDocument) -> Element:
    totals = RAM.SpecifiedTradeSettlementHeaderMonetarySummation(
        RAM.LineTotalAmount(_amount(document.line_total)),
        RAM.TaxBasisTotalAmount(_amount(document.line_total)),
        RAM.TaxTotalAmount(_amount(document.tax_total), currencyID=document.currency),
    )
    if _vat_in_euros(document):
        totals.append(RAM.TaxTotalAmount(_amount(document.tax_total), currencyID=EURO))
    totals.append(RAM.GrandTotalAmount(_amount(document.total)))
    if document.prepaid is not None:
        totals.append(RAM.TotalPrepaidAmount(_amount(document.prepaid)))
    totals.append(RAM.DuePayableAmount(_amount(document.amount_due)))
    return totals
