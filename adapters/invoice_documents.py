"""Invoice documents: the PDF, the CSV of its lines, and the HTML page of a shared link.

Each is a pure function of the invoice and the parties, so the same invoice (the same
version) always renders to the same bytes: the PDF's creation date is the time of the
invoice's last event, not the time of rendering. The PDF is a PDF/A-3 (ADR 16) set in
embedded fonts that show Latin, Greek, Cyrillic, Chinese, Japanese and Korean names
(``ArchivalPdf``). Given the invoice's EN 16931 XML, the PDF carries it as a Factur-X
invoice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from html import escape

from fpdf.enums import XPos, YPos

from adapters.einvoice.facturx_pdf import FONT, ArchivalPdf
from domain import catalog
from domain.account import BillingDetails
from domain.invoice import Invoice, InvoiceLine
from domain.money import Money


@dataclass(frozen=True)
class Seller:
    name: str
    address: tuple[str, ...]
    tax_id: str
    email: str


SELLER = Seller(
    "Subledger Software, Inc.",
    ("100 Market Street, Suite 300", "San Francisco, CA 94105", "United States"),
    "US 94-1234567",
    "billing@subledger.example",
)

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


def buyer_lines(buyer: BillingDetails) -> list[str]:
    place = " ".join(p for p in (buyer.postal_code, buyer.city) if p)
    lines = [buyer.legal_name, buyer.address_line1, buyer.address_line2, place, buyer.region]
    lines.append(buyer.country)
    if buyer.tax_id:
        lines.append(f"Tax ID: {buyer.tax_id}")
    lines.append(buyer.invoice_email)
    return [line for line in lines if line]


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


def invoice_pdf(
    invoice: Invoice, buyer: BillingDetails, seller: Seller = SELLER, xml: bytes | None = None
) -> bytes:
    """The invoice as a PDF/A-3; a Factur-X invoice when given its EN 16931 CII ``xml``."""
    pdf = _Pdf(invoice.modified_on.astimezone(UTC), f"Invoice {invoice.number}", seller.name)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    pdf.text_line(seller.name, style="B", size=12)
    for text in (*seller.address, f"Tax ID: {seller.tax_id}", seller.email):
        pdf.text_line(text, size=9)
    pdf.ln(4)
    pdf.text_line(f"Invoice {invoice.number}", style="B", size=16)
    for label, value in (
        ("Status", invoice.status.value.upper()),
        ("Issued on", invoice.issued_on.isoformat()),
        ("Due date", invoice.due_on.isoformat()),
        ("Currency", invoice.currency),
    ):
        pdf.text_line(f"{label}: {value}")
    pdf.ln(4)
    pdf.text_line("Bill to", style="B")
    for text in buyer_lines(buyer):
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


def shared_invoice_html(
    invoice: Invoice, buyer: BillingDetails, pdf_href: str, seller: Seller = SELLER
) -> str:
    """The page a share link opens: a summary and the PDF download. Everything is escaped."""
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
    title = escape(f"Invoice {invoice.number}")
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
<p>From {escape(seller.name)} to {escape(buyer.legal_name)}</p>
<p>Status: <strong>{escape(invoice.status.value)}</strong>.
Issued on {escape(invoice.issued_on.isoformat())}, due on {escape(invoice.due_on.isoformat())}.</p>
<table>
<thead><tr><th>Product</th><th>Qty</th><th>Period</th><th>Unit price</th><th>Amount</th>
<th>Tax</th></tr></thead>
<tbody>{lines}</tbody>
</table>
<table>{sums}</table>
<p><a href="{escape(pdf_href)}" download>Download the PDF</a></p>
</body>
</html>
"""
