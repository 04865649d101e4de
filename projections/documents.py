"""Aggregates as JSON documents: the shapes the HTTP API answers with, as plain dicts.

This is the one conversion of an aggregate into its answer: a read model stores the
document, and the HTTP API validates it into the response model declared for it in
``service/http/schemas/`` (``AccountOut``, ``SubscriptionOut``, ``LicenseOut``,
``InvoiceOut``, ``SupportCaseOut``) both when it reads and after a command, which has
the aggregate in hand. A test checks that each model gives its document back unchanged.

Amounts travel as decimal strings rounded to the currency's minor unit; read models
that sum money keep integers of minor units instead (``minor_units``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, TypedDict
from uuid import UUID

from domain import catalog
from domain.account import Account
from domain.errors import CurrencyMismatch
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.license import License
from domain.money import MINOR_UNITS, Money, minor_unit
from domain.subscription import Line, Subscription
from domain.support_case import SupportCase

Document = dict[str, Any]


class MoneyDocument(TypedDict):
    amount: str
    currency: str


def _rounded(value: Money) -> Decimal:
    """``domain.money.round_half_up`` of the amount (what ``value.rounded()`` does),
    inlined: read models round every amount they show, half a million per 100,000
    events, and the calls around the one ``quantize`` cost more than it does."""
    try:
        unit = _UNIT_OF[value.currency]
    except KeyError:
        unit = minor_unit(value.currency)  # refuses an unknown currency as the domain does
    return value.amount.quantize(unit, rounding=ROUND_HALF_UP)


_UNIT_OF = {code: minor_unit(code) for code in MINOR_UNITS}


def money(value: Money) -> MoneyDocument:
    currency = value.currency
    unit = _UNIT_OF.get(currency)  # ``_rounded``, inlined (the call costs as much again)
    if unit is None:
        unit = minor_unit(currency)  # refuses an unknown currency as the domain does
    return {
        "amount": str(value.amount.quantize(unit, rounding=ROUND_HALF_UP)),
        "currency": currency,
    }


def minor_units(value: Money) -> int:
    """The amount as a whole number of the currency's minor unit (cents for USD)."""
    return int(_rounded(value).scaleb(MINOR_UNITS[value.currency]))


def money_of_units(units: int, currency: str) -> MoneyDocument:
    """The inverse of ``minor_units``, as a document."""
    unit = minor_unit(currency)
    return {"amount": str((Decimal(units) * unit).quantize(unit)), "currency": currency}


# Accounts' (and other often named) ids as text, by number: ``str`` of a UUID is Python
# code (a format and five slices), asked for the same few thousand accounts by each row
# of theirs. Bounded: emptied when full, made again as asked.
_ID_TEXTS: dict[int, str] = {}
ID_TEXTS = 20_000


def id_text(value: UUID) -> str:
    """``str(value)``, kept for the next time the same id is asked for."""
    text = _ID_TEXTS.get(value.int)
    if text is None:
        if len(_ID_TEXTS) >= ID_TEXTS:
            _ID_TEXTS.clear()
        text = _ID_TEXTS[value.int] = str(value)
    return text


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def instant(moment: datetime | None) -> str | None:
    """An instant in UTC as the HTTP models write it (``2026-01-05T09:00:00Z``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def account_document(account: Account) -> Document:
    return {
        "id": id_text(account.id),
        "version": account.version,
        "name": account.name,
        "edition": account.edition.value,
        "currency": account.currency,
        "billing_details": {
            "legal_name": account.billing.legal_name,
            "address_line1": account.billing.address_line1,
            "address_line2": account.billing.address_line2,
            "city": account.billing.city,
            "postal_code": account.billing.postal_code,
            "region": account.billing.region,
            "country": account.billing.country,
            "tax_id": account.billing.tax_id,
            "invoice_email": account.billing.invoice_email,
        },
        "payment_method": account.payment_method,
        "contacts": [
            {
                "id": contact_id,
                "role": contact.role.value,
                "name": contact.name,
                "email": contact.email,
                "phone": contact.phone,
            }
            for contact_id, contact in account.contacts.items()
        ],
        "users": [
            {
                "user_id": user.user_id,
                "name": user.name,
                "email": user.email,
                "administrator": user.administrator,
                "manage_billing": account.has_manage_billing(user.user_id),
                "identity_license": user.user_id in account.identity_licenses,
            }
            for user in account.users.values()
        ],
        "identity_licenses": {
            "used": len(account.identity_licenses),
            "limit": catalog.FREE_IDENTITY_LICENSES,
        },
        "upgrade_requested": None
        if account.upgrade_requested is None
        else account.upgrade_requested.value,
    }


def line_document(line: Line, amount: Money | None = None) -> Document:
    """``amount``: the line's own (``line.amount``, made again at each read), when the
    caller has it."""
    return {
        "line_id": line.line_id,
        "product_code": line.product_code,
        "product_name": catalog.product(line.product_code).name,
        "quantity": line.quantity,
        "unit_price": money(line.unit_price),
        "amount": money(line.amount if amount is None else amount),
    }


class SubscriptionFigures(NamedTuple):
    """A contract's sums over its lines, each line's amount made once for its document
    and its sum."""

    period_amount: Money  # ``Subscription.period_amount``
    renewal_value: Money | None  # ``renewal_value``


def _lines(lines: Iterable[Line], currency: str) -> tuple[list[Document], Money]:
    """The lines' documents and the sum of their amounts, added as ``period_amount`` and
    ``renewal_value`` add them (from zero, in order)."""
    documents = []
    result = Money.zero(currency)
    for line in lines:
        amount = line.amount
        documents.append(line_document(line, amount))
        result = result + amount
    return documents, result


def subscription_document(sub: Subscription) -> Document:
    return subscription_document_and_figures(sub)[0]


def subscription_document_and_figures(sub: Subscription) -> tuple[Document, SubscriptionFigures]:
    """The contract's document and the sums beside it (read models store both)."""
    lines, period_amount = _lines(sub.lines.values(), sub.currency)
    end = sub.term.end.isoformat()
    renewal = sub.renewal
    value: Money | None = None
    renewal_document: Document | None = None
    if renewal is not None:
        renewal_lines, value = _lines(renewal.lines, sub.currency)
        renewal_document = {
            "starts_on": end,
            "term_months": renewal.term_months,
            "lines": renewal_lines,
        }
    document = {
        "id": id_text(sub.id),
        "version": sub.version,
        "account_id": id_text(sub.account_id),
        "status": sub.status.value,
        "currency": sub.currency,
        "billing_period": sub.billing_period.value,
        "term_start": sub.term.start.isoformat(),
        "term_end": end,
        "lines": lines,
        "period_amount": money(period_amount),
        "renewal": renewal_document,
        "ended_on": _iso(sub.ended_on),
    }
    return document, SubscriptionFigures(period_amount, value)


def renewal_value(sub: Subscription) -> Money | None:
    """One billing period of the scheduled renewal's lines, before tax (None: none scheduled)."""
    if sub.renewal is None:
        return None
    result = Money.zero(sub.currency)
    for line in sub.renewal.lines:
        result = result + line.amount
    return result


def license_document(lic: License) -> Document:
    return {
        "product_code": lic.product_code,
        "held": lic.held,
        "assigned": list(lic.assigned),
        "available": lic.available,
    }


def invoice_line_document(line: InvoiceLine) -> Document:
    return {
        "description": line.description,
        "product_code": line.product_code,
        "quantity": line.quantity,
        "unit_price": money(line.unit_price),
        "period_start": line.period_start.isoformat(),
        "period_end": line.period_end.isoformat(),
        "amount": money(line.amount),
        "tax_rate": str(line.tax_rate),
        "tax": money(line.tax),
    }


class InvoiceFigures(NamedTuple):
    """An invoice's sums over its lines, each made once (each property makes them again)."""

    subtotal: Money
    tax: Money
    total: Money
    balance: Money


def invoice_figures(invoice: Invoice) -> InvoiceFigures:
    """What ``Invoice``'s properties of those names give (a test holds them to it): the
    same Decimal additions in the same order, both sums in one pass over the lines and
    one Money made per figure (the properties make one per step)."""
    currency = invoice.currency
    subtotal = tax = Money.zero(currency).amount
    for line in invoice.lines:
        amount, line_tax = line.amount, line.tax
        if amount.currency != currency:
            raise CurrencyMismatch(currency, amount.currency)
        if line_tax.currency != currency:
            raise CurrencyMismatch(currency, line_tax.currency)
        subtotal += amount.amount
        tax += line_tax.amount
    total = subtotal + tax
    if invoice.status is InvoiceStatus.VOID:
        balance = Money.zero(currency)
    else:
        credited, paid = invoice.credited, invoice.paid
        if credited.currency != currency:
            raise CurrencyMismatch(currency, credited.currency)
        if paid.currency != currency:
            raise CurrencyMismatch(currency, paid.currency)
        balance = Money(total - credited.amount - paid.amount, currency)
    return InvoiceFigures(
        Money(subtotal, currency), Money(tax, currency), Money(total, currency), balance
    )


def invoice_document(invoice: Invoice, figures: InvoiceFigures | None = None) -> Document:
    """``figures``: the invoice's own (``invoice_figures``), when the caller has them."""
    if figures is None:
        figures = invoice_figures(invoice)
    return {
        "id": str(invoice.id),
        "version": invoice.version,
        "number": invoice.number,
        "account_id": id_text(invoice.account_id),
        "subscription_id": None
        if invoice.subscription_id is None
        else id_text(invoice.subscription_id),
        "status": invoice.status.value,
        "currency": invoice.currency,
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": invoice.due_on.isoformat(),
        "lines": [invoice_line_document(line) for line in invoice.lines],
        "subtotal": money(figures.subtotal),
        "tax": money(figures.tax),
        "total": money(figures.total),
        "paid": money(invoice.paid),
        "credited": money(invoice.credited),
        "balance": money(figures.balance),
        "paid_on": _iso(invoice.paid_on),
        "credit_notes": [
            {
                "id": credit.id,
                "number": credit.number,
                "issued_on": credit.issued_on.isoformat(),
                "amount": money(credit.amount),
                "refund": money(credit.refund),
            }
            for credit in invoice.credit_note_list
        ],
    }


def support_case_document(case: SupportCase) -> Document:
    return {
        "id": str(case.id),
        "version": case.version,
        "account_id": id_text(case.account_id),
        "status": case.status.value,
        "subject": case.subject,
        "description": case.description,
        "opened_by": case.opened_by,
        "opened_at": instant(case.created_on),
        "replies": [
            {
                "message": reply.message,
                "replied_by": reply.replied_by,
                "replied_at": instant(reply.replied_at),
            }
            for reply in case.replies
        ],
        "resolution": case.resolution,
        "closed_by": case.closed_by,
        "closed_at": instant(case.closed_at),
    }
