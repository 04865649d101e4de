"""The Factur-X PDF: a PDF/A-3 whose embedded XML is the invoice's EN 16931 e-invoice.

No PDF/A validator (veraPDF) can be installed from the registries, so the test checks what
PDF/A-3 and Factur-X require of the file's structure, one requirement at a time, and an
independent reader (the factur-x package) finds the XML where Factur-X puts it.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from adapters.einvoice.cii import cii_xml
from adapters.einvoice.validation import validate_cii
from adapters.invoice_documents import invoice_pdf
from domain.account import BillingDetails
from domain.invoice import Invoice, InvoiceLine
from domain.legal_document import invoice_document
from domain.period import DateRange
from tests import einvoices
from tests.builders import cause

BUYER = BillingDetails(
    "Boulangerie Martin SARL",
    "8 avenue Jean Jaurès",
    "Toulouse",
    "31000",
    "FR",
    "compta@martin.example",
    tax_id="FR14987654324",
)


@pytest.fixture(scope="module")
def invoice() -> Invoice:
    period = DateRange(date(2026, 1, 5), date(2027, 1, 5))
    line = InvoiceLine.charge(
        "Sales Cloud, société générale",
        "sales-cloud",
        5,
        einvoices.eur("1200.00"),
        period,
        Fraction(1),
        Decimal("0.20"),
    )
    invoice = Invoice.issue(
        uuid4(),
        uuid4(),
        None,
        "F-2026-000001",
        "EUR",
        [line],
        date(2026, 2, 4),
        cause(datetime(2026, 1, 5, 9, tzinfo=UTC)),
    )
    invoice.collect_events()
    return invoice


@pytest.fixture(scope="module")
def xml(invoice) -> bytes:
    return cii_xml(invoice_document(invoice, BUYER, einvoices.SELLER))


@pytest.fixture(scope="module")
def pdf(invoice, xml) -> bytes:
    return invoice_pdf(invoice, invoice_document(invoice, BUYER, einvoices.SELLER), xml=xml)


def test_the_pdf_carries_the_xml_and_readers_find_it_equal(pdf, xml):
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments == {"factur-x.xml": [xml]}
    filename, found = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert (filename, found) == ("factur-x.xml", xml)
    assert facturx.get_level(etree.fromstring(found)) == "en16931"
    assert validate_cii(found).valid


def test_the_xml_is_an_associated_file_of_the_document_with_the_data_relationship(pdf):
    catalog = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    (filespec,) = [ref.get_object() for ref in catalog["/AF"]]
    assert filespec["/F"] == filespec["/UF"] == "factur-x.xml"
    assert filespec["/AFRelationship"] == "/Data"
    embedded = filespec["/EF"]["/F"].get_object()
    assert embedded["/Subtype"] == "/text/xml"


def test_the_colours_have_an_output_intent_with_an_icc_profile(pdf):
    catalog = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    (intent,) = [ref.get_object() for ref in catalog["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.get_data()[36:40] == b"acsp"  # an ICC header


def test_the_xmp_declares_pdf_a_3_and_the_factur_x_profile_with_its_schema(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    xmp = etree.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())
    ns = {
        "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
        "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
        "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
        "xmp": "http://ns.adobe.com/xap/1.0/",
    }

    def text(path: str) -> str:
        return xmp.findtext(f".//{path}", namespaces=ns)

    assert (text("pdfaid:part"), text("pdfaid:conformance")) == ("3", "B")
    assert text("fx:ConformanceLevel") == "EN 16931"
    assert text("fx:DocumentFileName") == "factur-x.xml"
    assert (text("fx:DocumentType"), text("fx:Version")) == ("INVOICE", "1.0")
    assert text("pdfaSchema:namespaceURI") == ns["fx"]
    assert text("xmp:CreateDate") == "2026-01-05T09:00:00+00:00"


def fonts(reader: PdfReader) -> list[tuple[DictionaryObject, DictionaryObject]]:
    """Each font the pages use: (the font, its descendant CIDFont or itself)."""
    found = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            found += [(font, d.get_object()) for d in font.get("/DescendantFonts", [font])]
    return found


def test_every_font_is_embedded(pdf):
    used = fonts(PdfReader(io.BytesIO(pdf)))
    assert used
    for _, font in used:
        assert "/FontFile2" in font["/FontDescriptor"], font["/BaseFont"]


def test_a_cjk_name_brings_an_embedded_cff_font_whose_cmap_matches_it(invoice):
    """PDF/A-3 6.2.11: every font program embedded, and a CIDFont's CIDSystemInfo
    compatible with its CMap's (the same registry and ordering), the CMap embedded."""
    buyer = replace(BUYER, legal_name="北京 Société 有限公司")
    document = invoice_document(invoice, buyer, einvoices.SELLER)
    xml = cii_xml(document)
    reader = PdfReader(io.BytesIO(invoice_pdf(invoice, document, xml=xml)))
    used = {str(font["/BaseFont"]).split("+")[1]: (top, font) for top, font in fonts(reader)}
    assert set(used) == {"SourceSansPro", "SourceSansProBold", "NotoSansCJKJP"}
    top, cjk = used["NotoSansCJKJP"]
    program = cjk["/FontDescriptor"]["/FontFile3"].get_object()
    assert cjk["/Subtype"] == "/CIDFontType0" and program["/Subtype"] == "/CIDFontType0C"
    cmap = top["/Encoding"].get_object()
    assert cmap["/Type"] == "/CMap" and cmap.get_data()  # embedded, not a name
    font_system = cjk["/CIDSystemInfo"].get_object()
    cmap_system = cmap["/CIDSystemInfo"]
    for key in ("/Registry", "/Ordering"):
        assert font_system[key] == cmap_system[key]
    assert font_system["/Supplement"] >= cmap_system["/Supplement"]
    assert facturx.get_xml_from_pdf(reader.stream.getvalue(), check_xsd=True)[1] == xml


def test_the_same_invoice_renders_to_the_same_factur_x_bytes(invoice, xml, pdf):
    document = invoice_document(invoice, BUYER, einvoices.SELLER)
    assert invoice_pdf(invoice, document, xml=xml) == pdf
    assert "/Encrypt" not in PdfReader(io.BytesIO(pdf)).trailer
