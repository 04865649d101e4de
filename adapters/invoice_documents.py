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
from datetime import UTC
from decimal import Decimal
from html import escape

from fpdf.enums import XPos, YPos

from adapters.einvoice.facturx_pdf import FONT, ArchivalPdf
from domain import catalog
from domain.invoice import Invoice, InvoiceLine
from domain.invoice_document import Buyer, DocumentType, InvoiceDocument, last_day
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
    ("Product", 50, "L"),
    ("Qty", 14, "R"),
    ("Period", 50, "L"),
    ("Unit price", 26, "R"),
    ("Amount", 26, "R"),
    ("Tax", 24, "R"),
)


def amount(money: Money) -> str:
    """``1,500.00``: the rounded amount with thousands separators, without the currency."""
    return f"{money.rounded().amount:,}"


def percent(rate: Decimal) -> str:
    """``0.19``: ``19%``."""
    return f"{(rate * 100).normalize():f}%"


def product_name(line: InvoiceLine) -> str:
    return catalog.product(line.product_code).name


def period(line: InvoiceLine) -> str:
    return f"{line.period_start} to {line.period_end}"


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


def totals(invoice: Invoice) -> list[tuple[str, Money]]:
    rows = [("Subtotal", invoice.subtotal), ("Tax", invoice.tax), ("Total", invoice.total)]
    if not invoice.credited.is_zero:
        rows.append(("Credited", invoice.credited))
    rows += [("Paid", invoice.paid), ("Balance due", invoice.balance)]
    return rows


class _Pdf(ArchivalPdf):
    def text_line(self, text: str, width: float = 0, style: str = "", size: float = 10) -> None:
        self.set_font(FONT, style, size)
        self.cell(width, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def invoice_pdf(invoice: Invoice, document: InvoiceDocument, xml: bytes | None = None) -> bytes:
    """The invoice as a PDF/A-3 showing its legal ``document``; a Factur-X invoice when given
    the document's EN 16931 CII ``xml``."""
    seller = document.seller
    kind = "Credit note" if document.type is DocumentType.CREDIT_NOTE else "Invoice"
    title = f"{kind} {document.number}"
    pdf = _Pdf(invoice.modified_on.astimezone(UTC), title, seller.legal_name)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    pdf.text_line(seller.legal_name, style="B", size=12)
    for text in seller_lines(seller):
        pdf.text_line(text, size=9)
    pdf.ln(4)
    pdf.text_line(title, style="B", size=16)
    facts = [
        ("Status", invoice.status.value.upper()),
        ("Issued on", document.issued_on.isoformat()),
        ("Due date", document.due_on.isoformat()),
    ]
    if (service := document.service_period) is not None:
        facts.append(("Service period", f"{service.start} to {last_day(service)}"))
    facts.append(("Currency", document.currency))
    for label, value in facts:
        pdf.text_line(f"{label}: {value}")
    pdf.ln(4)
    pdf.text_line("Bill to", style="B")
    for text in buyer_lines(document.buyer):
        pdf.text_line(text)
    pdf.ln(6)

    pdf.set_font(FONT, "B", 9)
    for heading, width, align in TABLE:
        pdf.cell(width, 6, heading, border="B", align=align)
    pdf.ln()
    pdf.set_font(FONT, "", 9)
    for line in invoice.lines:
        cells = (
            product_name(line),
            str(line.quantity),
            period(line),
            amount(line.unit_price),
            amount(line.amount),
            f"{amount(line.tax)} ({percent(line.tax_rate)})",
        )
        for text, (_, width, align) in zip(cells, TABLE, strict=True):
            pdf.cell(width, 6, text, align=align)
        pdf.ln()
    pdf.ln(4)

    label_width = sum(width for _, width, _ in TABLE[:-2])
    for label, money in totals(invoice):
        style = "B" if label in ("Total", "Balance due") else ""
        pdf.set_font(FONT, style, 10)
        pdf.cell(label_width, 6, label, align="R")
        pdf.cell(TABLE[-2][1] + TABLE[-1][1], 6, f"{amount(money)} {invoice.currency}", align="R")
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
    """The page a share link opens: the invoice with its legal mentions, and the PDF
    download. Everything is escaped."""
    seller, buyer = document.seller, document.buyer
    period_text = ""
    if (service := document.service_period) is not None:
        period_text = f" Service period {service.start} to {last_day(service)}."
    notes = "".join(f"<p>{_paragraph(note.text.splitlines())}</p>" for note in document.notes)
    bank = seller.bank_account
    payment = (
        f"<p>Payment by transfer: IBAN {escape(bank.iban)} {escape(bank.bic)}</p>" if bank else ""
    )
    lines = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(cell)}</td>"
            for cell in (
                product_name(line),
                str(line.quantity),
                period(line),
                amount(line.unit_price),
                amount(line.amount),
                amount(line.tax),
            )
        )
        + "</tr>"
        for line in invoice.lines
    )
    sums = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(amount(money))} {escape(invoice.currency)}</td>"
        "</tr>"
        for label, money in totals(invoice)
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
<p>Status: <strong>{escape(invoice.status.value)}</strong>.
Issued on {escape(invoice.issued_on.isoformat())}, due on {escape(invoice.due_on.isoformat())}.
{escape(period_text)}</p>
<table>
<thead><tr><th>Product</th><th>Qty</th><th>Period</th><th>Unit price</th><th>Amount</th>
<th>Tax</th></tr></thead>
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
