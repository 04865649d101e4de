"""Invoice documents: the PDF, the CSV of its lines, and the HTML page of a shared link.

Each is a pure function of the invoice and the parties, so the same invoice (the same
version) always renders to the same bytes: the PDF's creation date is the time of the
invoice's last event, not the time of rendering. The PDF is a PDF/A-3 (ADR 16) set in
embedded fonts that show Latin, Greek, Cyrillic, Chinese, Japanese and Korean names
(``ArchivalPdf``). It shows the invoice's legal document (``InvoiceDocument``: the seller
and buyer with their identifiers, the service period, the VAT per rate, the payment
details and the notes the law requires) and, given its EN 16931 XML, carries it as a
Factur-X invoice.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from fpdf.enums import XPos, YPos

from adapters.einvoice.facturx_pdf import FONT, ArchivalPdf
from domain import catalog
from domain.invoice import Invoice, InvoiceLine
from domain.invoice_document import Buyer, DocumentLine, DocumentType, InvoiceDocument, last_day
from domain.money import Money
from domain.seller import Seller

CSV_COLUMNS = (
    "invoice_number",
    "line",
    "product_code",
    "product",
    "description",
    "quantity",
    "period_start",
    "period_end",
    "unit_price",
    "amount",
    "tax_rate",
    "tax",
    "currency",
)

# The lines table: (heading, width in mm, alignment)
TABLE = (
    ("Description", 46, "L"),
    ("Qty", 12, "R"),
    ("Period", 44, "L"),
    ("Unit price excl. tax", 30, "R"),
    ("Amount excl. tax", 26, "R"),
    ("VAT rate", 12, "R"),
    ("VAT", 20, "R"),
)


def amount(money: Money) -> str:
    """``1,500.00``: the rounded amount with thousands separators, without the currency."""
    return f"{money.rounded().amount:,}"


def unit_price(money: Money) -> str:
    """A unit price to the cent, or to the four places a prorated one may have."""
    if money == money.rounded():
        return amount(money)
    return f"{money.amount.normalize():,f}"


def percent(rate: Decimal) -> str:
    """``0.19``: ``19%``."""
    return f"{(rate * 100).normalize():f}%"


def product_name(line: InvoiceLine) -> str:
    return catalog.product(line.product_code).name


def seller_lines(seller: Seller) -> list[str]:
    """The seller's identity as the law asks it shown: address, SIREN and SIRET, VAT
    number, legal form and registry, e-mail."""
    lines = list(seller.address.lines)
    ids = [
        f"SIREN {seller.siren}" if seller.siren else "",
        f"SIRET {seller.siret}" if seller.siret else "",
    ]
    lines.append(" - ".join(i for i in ids if i))
    if seller.vat_number is not None:
        lines.append(f"VAT number: {seller.vat_number}")
    lines += [seller.legal_form, seller.email]
    return [line for line in lines if line]


def buyer_lines(buyer: Buyer) -> list[str]:
    lines = [buyer.legal_name, *buyer.address.lines]
    if buyer.vat_number is not None:
        lines.append(f"VAT number: {buyer.vat_number}")
    if buyer.siren is not None:
        lines.append(f"SIREN {buyer.siren}")
    if buyer.tax_id:
        lines.append(f"Tax ID: {buyer.tax_id}")
    lines.append(buyer.email)
    return [line for line in lines if line]


def vat_lines(document: InvoiceDocument) -> list[str]:
    """The VAT per rate: the amount it applies to and the tax, or why none is charged."""
    return [
        f"VAT {s.vat.category.value} {s.vat.percent}% on {amount(s.basis)}: {amount(s.tax)}"
        f" {document.currency}" + (f" ({s.vat.exemption_reason})" if s.vat.exemption_reason else "")
        for s in document.vat_subtotals
    ]


def line_cells(line: DocumentLine) -> tuple[str, ...]:
    """A line of the legal document as the PDF and the HTML page show it."""
    period_text = "" if line.period is None else f"{line.period.start} to {last_day(line.period)}"
    rate = percent(line.vat.rate)
    if line.vat.category.value != "S":
        rate = f"{rate} {line.vat.category.value}"
    return (
        line.description,
        f"{line.quantity.normalize():f}",
        period_text,
        unit_price(line.unit_price),
        amount(line.amount),
        rate,
        amount(line.tax),
    )


def document_totals(document: InvoiceDocument) -> list[tuple[str, Money]]:
    """The document's own totals: excluding tax, the VAT, and including tax."""
    total_label = "Total credited" if document.type is DocumentType.CREDIT_NOTE else "Total"
    return [
        ("Total excl. tax", document.line_total),
        ("VAT", document.tax_total),
        (total_label, document.total),
    ]


def totals(invoice: Invoice, document: InvoiceDocument) -> list[tuple[str, Money]]:
    """The document's totals, then where the invoice's payment stands."""
    rows = document_totals(document)
    if not invoice.credited.is_zero:
        rows.append(("Credited", invoice.credited))
    rows += [("Paid", invoice.paid), ("Balance due", invoice.balance)]
    return rows


def document_facts(document: InvoiceDocument) -> list[tuple[str, str]]:
    """Dates, the service period and the invoice a credit note corrects."""
    due = "Refund or set-off date" if document.type is DocumentType.CREDIT_NOTE else "Due date"
    facts = [("Issued on", document.issued_on.isoformat()), (due, document.due_on.isoformat())]
    if (service := document.service_period) is not None:
        facts.append(("Service period", f"{service.start} to {last_day(service)}"))
    if (corrected := document.preceding_invoice) is not None:
        facts.append(
            ("Corrects invoice", f"{corrected.number} of {corrected.issued_on.isoformat()}")
        )
    facts.append(("Currency", document.currency))
    return facts


class _Pdf(ArchivalPdf):
    def text_line(self, text: str, width: float = 0, style: str = "", size: float = 10) -> None:
        self.set_font(FONT, style, size)
        self.cell(width, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def invoice_pdf(invoice: Invoice, document: InvoiceDocument, xml: bytes | None = None) -> bytes:
    """The invoice as a PDF/A-3 showing its legal ``document`` and where its payment
    stands; a Factur-X invoice when given the document's EN 16931 CII ``xml``."""
    status = [("Status", invoice.status.value.upper())]
    return _pdf(document, invoice.modified_on, status, totals(invoice, document), xml)


def credit_note_pdf(
    document: InvoiceDocument, created: datetime, xml: bytes | None = None
) -> bytes:
    """A credit note as a PDF/A-3, dated ``created`` (when it was issued): its lines, its
    totals and the invoice it corrects; Factur-X when given its CII ``xml`` (type 381)."""
    return _pdf(document, created, [], document_totals(document), xml)


def _pdf(
    document: InvoiceDocument,
    created: datetime,
    status: list[tuple[str, str]],
    sums: list[tuple[str, Money]],
    xml: bytes | None,
) -> bytes:
    seller = document.seller
    kind = "Credit note" if document.type is DocumentType.CREDIT_NOTE else "Invoice"
    title = f"{kind} {document.number}"
    pdf = _Pdf(created.astimezone(UTC), title, seller.legal_name)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    pdf.text_line(seller.legal_name, style="B", size=12)
    for text in seller_lines(seller):
        pdf.text_line(text, size=9)
    pdf.ln(4)
    pdf.text_line(title, style="B", size=16)
    for label, value in status + document_facts(document):
        pdf.text_line(f"{label}: {value}")
    pdf.ln(4)
    pdf.text_line("Bill to", style="B")
    for text in buyer_lines(document.buyer):
        pdf.text_line(text)
    pdf.ln(6)

    pdf.set_font(FONT, "", 8)
    with pdf.table(
        col_widths=tuple(width for _, width, _ in TABLE),
        text_align=tuple(align for _, _, align in TABLE),
        borders_layout="HORIZONTAL_LINES",
        line_height=4.5,
        first_row_as_headings=True,
    ) as table:
        table.row([heading for heading, _, _ in TABLE])
        for line in document.lines:
            table.row(line_cells(line))
            if line.note:
                table.row().cell(line.note, colspan=len(TABLE), align="L")
    pdf.ln(4)

    label_width = sum(width for _, width, _ in TABLE[:-3])
    value_width = sum(width for _, width, _ in TABLE[-3:])
    for label, money in sums:
        style = "B" if label in ("Total", "Total credited", "Balance due") else ""
        pdf.set_font(FONT, style, 10)
        pdf.cell(label_width, 6, label, align="R")
        pdf.cell(value_width, 6, f"{amount(money)} {document.currency}", align="R")
        pdf.ln()
    pdf.ln(4)
    pdf.set_font(FONT, "", 8)
    for text in vat_lines(document):
        pdf.text_line(text, size=8)
    if seller.bank_account is not None:
        bic = f" - BIC {seller.bank_account.bic}" if seller.bank_account.bic else ""
        pdf.text_line(f"Payment by transfer: IBAN {seller.bank_account.iban}{bic}", size=8)
    for note in document.notes:
        pdf.set_font(FONT, "", 8)
        pdf.multi_cell(0, 4, note.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if xml is not None:
        pdf.attach_facturx(xml)
    return bytes(pdf.output())


def invoice_csv(invoice: Invoice) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for number, line in enumerate(invoice.lines, start=1):
        writer.writerow(
            (
                invoice.number,
                number,
                line.product_code,
                product_name(line),
                line.description,
                line.quantity,
                line.period_start.isoformat(),
                line.period_end.isoformat(),
                amount(line.unit_price).replace(",", ""),
                amount(line.amount).replace(",", ""),
                str(line.tax_rate),
                amount(line.tax).replace(",", ""),
                invoice.currency,
            )
        )
    return out.getvalue()


def _paragraph(lines: list[str]) -> str:
    return "<br>".join(escape(line) for line in lines)


def shared_invoice_html(invoice: Invoice, document: InvoiceDocument, pdf_href: str) -> str:
    """The page a share link opens: the invoice with every mention its PDF shows (its legal
    ``document``), and the PDF download. Everything is escaped."""
    seller, buyer = document.seller, document.buyer
    facts = [("Status", invoice.status.value), *document_facts(document)]
    notes = "".join(f"<p>{_paragraph(note.text.splitlines())}</p>" for note in document.notes)
    bank = seller.bank_account
    payment = (
        f"<p>Payment by transfer: IBAN {escape(bank.iban)} {escape(bank.bic)}</p>" if bank else ""
    )
    headings = "".join(f"<th>{escape(heading)}</th>" for heading, _, _ in TABLE)
    lines = "".join(
        "<tr>"
        + "".join(f"<td>{escape(cell)}</td>" for cell in line_cells(line))
        + "</tr>"
        + (f'<tr><td colspan="{len(TABLE)}">{escape(line.note)}</td></tr>' if line.note else "")
        for line in document.lines
    )
    sums = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(amount(money))} {escape(invoice.currency)}</td>"
        "</tr>"
        for label, money in totals(invoice, document)
    )
    title = escape(f"Invoice {document.number}")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:48rem;margin:2rem auto}}
td,th{{padding:.2rem .6rem;text-align:left}}</style>
</head>
<body>
<h1>{title}</h1>
<p>From <strong>{escape(seller.legal_name)}</strong><br>{_paragraph(seller_lines(seller))}</p>
<p>To <strong>{escape(buyer.legal_name)}</strong><br>{_paragraph(buyer_lines(buyer)[1:])}</p>
<p>{_paragraph([f"{label}: {value}" for label, value in facts])}</p>
<table>
<thead><tr>{headings}</tr></thead>
<tbody>{lines}</tbody>
</table>
<table>{sums}</table>
<p>{_paragraph(vat_lines(document))}</p>
{payment}
{notes}
<p><a href="{escape(pdf_href)}" download>Download the PDF</a></p>
</body>
</html>
"""
