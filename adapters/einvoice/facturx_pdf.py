"""PDF/A-3 documents, and the Factur-X invoice: a PDF/A-3 that carries its CII XML.

PDF/A-3 (ISO 19005-3) is the archival PDF that may embed other files. It requires every
font to be embedded (fpdf2's standard fonts are not, so text is set in Source Sans Pro,
which covers Latin, Greek and Cyrillic, shipped by the ``font-source-sans-pro`` package;
Chinese, Japanese and Korean fall back to Noto Sans CJK, from ``noto-cjk-sans-jp-regular``)
and forbids drawing a glyph a font lacks (a character neither font has is replaced), an
output intent with an ICC profile for its colours (fpdf2 adds sRGB), and XMP metadata
that declares the PDF/A part and conformance (fpdf2 then writes no information
dictionary, so the XMP is the only metadata). Factur-X adds the XML as an
associated file named ``factur-x.xml`` with the relationship ``Data``, and the Factur-X
XMP properties (document type, file name, version, profile) with their PDF/A extension
schema, read from the ``factur-x`` package.

The document is a pure function of what is drawn and of ``creation``: no clock is read, so
the same invoice version renders to the same bytes (ADR 11). fpdf2 writes everything; the
``factur-x`` package's own generator is not used because it stamps the current time into
the file (ADR 16).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont
from lxml import etree

FONT = "SourceSansPro"
FONT_FILES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf"}
FALLBACK_FONT = "NotoSansCJK"  # Chinese, Japanese and Korean, which Source Sans lacks
COMPLIANCE = "PDF/A-3B"
FACTURX_FILENAME = "factur-x.xml"
FACTURX_PROFILE = "EN 16931"  # the XMP name of the EN 16931 (COMFORT) profile
FACTURX_NAMESPACE = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS = {
    "x": "adobe:ns:meta/",
    "rdf": RDF,
    "fx": FACTURX_NAMESPACE,
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
}


def font_file(style: str = "") -> Path:
    """The TrueType file of ``style`` ("" or "B"), where the font's package installed it."""
    return Path(str(files("font_source_sans_pro") / "files" / FONT_FILES[style]))


def fallback_font_file() -> Path:
    """Noto Sans CJK (OpenType, Japanese forms first), where its package installed it."""
    return Path(str(files("noto_cjk_sans_jp_regular") / "NotoSansCJKjp-Regular.otf"))


def _facturx_xmp_template() -> Path:
    return Path(str(files("facturx") / "xmp" / "Factur-X_extension_schema.xmp"))


class ArchivalPdf(FPDF):
    """An A4 fpdf2 document that writes PDF/A-3B, its text in embedded Source Sans Pro
    (regular and ``B``), dated ``creation`` and described by ``title`` and ``author``."""

    def __init__(self, creation: datetime, title: str, author: str) -> None:
        super().__init__(format="A4", enforce_compliance=COMPLIANCE)
        for style in FONT_FILES:
            self.add_font(FONT, style, font_file(style))
        self.set_font(FONT)
        self.set_creation_date(creation.astimezone(UTC))
        self.set_title(title)
        self.set_author(author)
        self.set_creator("subledger")
        self.set_producer("subledger")
        self.set_xmp_metadata(self._xmp())

    def normalize_text(self, text: str) -> str:
        """``text`` as the embedded fonts show it (fpdf2 passes every text through here)."""
        return "".join(self._shown(char) for char in text)

    def _shown(self, char: str) -> str:
        """The character itself if a font has it, else its letters without accents, else
        ``?``: PDF/A forbids drawing a glyph the font lacks (``.notdef``)."""
        if char in "\t\n\r" or self._has_glyph(char):
            return char
        letters = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
        if letters and letters != [char] and all(self._has_glyph(c) for c in letters):
            return "".join(letters)
        return "?"

    def _has_glyph(self, char: str) -> bool:
        main = self.fonts[FONT.lower()]
        assert isinstance(main, TTFFont)
        return ord(char) in main.cmap or ord(char) in self._fallback().cmap

    def _fallback(self) -> TTFFont:
        """Noto Sans CJK, added on first need only: loading it takes half a second and
        subsetting it two, too much for every document (fpdf2 then draws with it every
        character the current font lacks, bold ones too)."""
        key = FALLBACK_FONT.lower()
        if key not in self.fonts:
            self.add_font(FALLBACK_FONT, "", fallback_font_file())
            self.set_fallback_fonts([FALLBACK_FONT], exact_match=False)
        font = self.fonts[key]
        assert isinstance(font, TTFFont)
        return font

    def attach_facturx(self, xml: bytes) -> None:
        """Embed the EN 16931 CII ``xml`` as the document's Factur-X data."""
        self.embed_file(
            bytes=xml,
            basename=FACTURX_FILENAME,
            modification_date=self.creation_date,
            mime_type="text/xml",
            associated_file_relationship="Data",
            desc="Factur-X invoice (EN 16931)",
        )
        self.set_xmp_metadata(self._xmp(facturx=True))

    def _xmp(self, facturx: bool = False) -> str:
        """The XMP packet's content: what the information dictionary says, in XMP."""
        meta = etree.Element(f"{{{NS['x']}}}xmpmeta", nsmap={"x": NS["x"]})
        rdf = etree.SubElement(meta, f"{{{RDF}}}RDF", nsmap={"rdf": RDF})
        rdf.append(self._description())
        if facturx:
            rdf.extend(_facturx_descriptions())
        return etree.tostring(meta, encoding="unicode")

    def _description(self) -> etree._Element:
        ns = {k: NS[k] for k in ("pdfaid", "dc", "xmp", "pdf")}
        description = etree.Element(f"{{{RDF}}}Description", nsmap=ns)
        description.set(f"{{{RDF}}}about", "")

        def add(tag: str, text: str) -> etree._Element:
            prefix, name = tag.split(":")
            child = etree.SubElement(description, f"{{{NS[prefix]}}}{name}")
            child.text = text
            return child

        add("pdfaid:part", "3")
        add("pdfaid:conformance", "B")
        add("xmp:CreateDate", self.creation_date.isoformat(timespec="seconds"))
        add("xmp:CreatorTool", str(self.creator))
        add("pdf:Producer", str(self.producer))
        title = etree.SubElement(add("dc:title", ""), f"{{{RDF}}}Alt")
        etree.SubElement(title, f"{{{RDF}}}li").text = str(self.title)
        title[0].set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
        creators = etree.SubElement(add("dc:creator", ""), f"{{{RDF}}}Seq")
        etree.SubElement(creators, f"{{{RDF}}}li").text = str(self.author)
        return description


def _facturx_descriptions() -> list[etree._Element]:
    """The Factur-X properties and their PDF/A extension schema, from the factur-x package's
    template, with this document's profile."""
    template = etree.parse(str(_facturx_xmp_template()), etree.XMLParser(remove_comments=True))
    descriptions = template.getroot().findall(f"{{{RDF}}}Description")
    for name, value in (
        ("ConformanceLevel", FACTURX_PROFILE),
        ("DocumentFileName", FACTURX_FILENAME),
        ("DocumentType", "INVOICE"),  # Factur-X's word for every CII document, credit notes too
        ("Version", "1.0"),
    ):
        element = descriptions[0].find(f"fx:{name}", NS)
        if element is None:
            raise RuntimeError(f"the Factur-X XMP template has no fx:{name}")
        element.text = value
    return descriptions
