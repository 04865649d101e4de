"""Invoice documents over HTTP: content negotiation, and the PDF or CSV as a download.

The routes are in ``invoices.py``: ``GET /v1/invoices/{id}`` with an Accept header, and
``GET /v1/invoices/{id}/pdf`` (the Factur-X PDF/A-3), ``/csv`` and ``/xml`` (the EN 16931
CII XML the PDF carries); a credit note's ``/pdf`` and ``/xml`` in ``credit_notes.py``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Response

from adapters.invoice_documents import invoice_csv
from domain.invoice import Invoice
from service.documents import invoices as documents
from service.http.reads import Reads
from service.ledger.application import Ledger
from service.reads.point_in_time import aggregate_at

PDF = "application/pdf"
CSV = "text/csv"
XML = "application/xml"
JSON = "application/json"

SCHEMAS: dict[str, dict[str, Any]] = {
    PDF: {"schema": {"type": "string", "format": "binary"}},
    CSV: {"schema": {"type": "string"}},
    XML: {"schema": {"type": "string"}},
}


def responses(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI description of a 200 that can be these documents."""
    return {200: {"content": {m: SCHEMAS[m] for m in media_types}}}


# What each media type a client may ask for answers with (None: the JSON document).
ANSWERS: dict[str, str | None] = {
    PDF: PDF,
    CSV: CSV,
    JSON: None,
    "*/*": None,
    "application/*": None,
}


def negotiated(accept: str | None) -> str | None:
    """The document the Accept header prefers: PDF, CSV, or None for JSON (the default,
    also for wildcards and for types this API does not serve). Ties go to the first named."""
    chosen: str | None = None
    best = 0.0
    for part in (accept or "").split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        if media not in ANSWERS:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > best:
            chosen, best = ANSWERS[media], quality
    return chosen


def invoice_then(ledger: Ledger, reads: Reads, invoice_id: UUID) -> Invoice:
    """The invoice now, or as of the instant the request names."""
    if reads.as_of is None:
        return ledger.invoice(invoice_id)
    with reads.sql() as sql:
        then = aggregate_at(ledger, sql, invoice_id, reads.as_of, reads.effective, Invoice)
    return then.aggregate


def document(ledger: Ledger, invoice: Invoice, media_type: str) -> Response:
    """The invoice as a download; the ETag names the version it shows."""
    if media_type == PDF:
        body, kind, suffix = documents.pdf(ledger, invoice), PDF, "pdf"
    elif media_type == XML:
        body, kind, suffix = documents.xml(ledger, invoice), f"{XML}; charset=utf-8", "xml"
    else:
        body, kind, suffix = invoice_csv(invoice).encode(), f"{CSV}; charset=utf-8", "csv"
    return Response(
        body,
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{invoice.number}.{suffix}"',
            "ETag": f'"{invoice.version}"',
        },
    )


def credit_note_document(
    ledger: Ledger, invoice: Invoice, credit_note_id: str, media_type: str
) -> Response:
    """A credit note's PDF or XML as a download, named by its number. It never changes once
    issued: the ETag names the credit note."""
    credit = invoice.credit_note(credit_note_id)
    if media_type == PDF:
        body, kind, suffix = documents.credit_note_pdf(ledger, invoice, credit.id), PDF, "pdf"
    else:
        body = documents.credit_note_xml(ledger, invoice, credit.id)
        kind, suffix = f"{XML}; charset=utf-8", "xml"
    return Response(
        body,
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{credit.number}.{suffix}"',
            "ETag": f'"{credit.id}"',
        },
    )
