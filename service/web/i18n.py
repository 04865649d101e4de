"""French and English: the language of a request, the catalogs, and locale formatting.

Messages are English in the code and templates, marked for gettext; the French catalog
is ``locale/fr/LC_MESSAGES/messages.po``, committed as text and compiled in memory when
the app starts (no binary ``.mo`` in the repository, no build step). ``make messages``
extracts the marked strings again and merges them into the catalog.

Money, numbers and dates are formatted by Babel for the page's locale:
``1 234,56 €`` in French, ``€1,234.56`` in English.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
LANGUAGES = ("en", "fr")  # the first is the default, and the language of the msgids
DEFAULT = LANGUAGES[0]
LANGUAGE_COOKIE = "subledger_lang"
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}  # each in its own language

# Extraction: templates through Jinja2's own extractor, Python through Babel's, with
# ``N_`` marking a message whose translation is looked up later (in a template).
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def N_(message: str) -> str:
    """Marks ``message`` for extraction; it is translated where it is shown."""
    return message


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as po:
        return read_po(po, locale=language)


@cache
def translations(language: str) -> NullTranslations:
    """The language's catalog, compiled in memory once per process."""
    if language == DEFAULT:
        return NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, read_catalog(language))
    compiled.seek(0)
    return Translations(compiled)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page's language: the visitor's choice (cookie), else the browser's preference
    (Accept-Language, by quality), else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    for tag in _preferred(accept_language or ""):
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT


def _preferred(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, n, tag))
    return [tag for _, _, tag in sorted(weighted)]


# What a page says after a change (``?notice=``): a fixed list, so a link cannot make a
# page say anything else.
NOTICES = {
    "signed-in": N_("You are signed in."),
    "licenses-added": N_("Licenses added. Their invoice was issued."),
    "product-added": N_("Added to your contract. Its invoice was issued."),
    "products-bought": N_(
        "Bought: your new contract has started and its first invoice was issued."
    ),
    "renewal-scheduled": N_("Your renewal is scheduled."),
    "renewal-cancelled": N_("Your renewal is cancelled: the contract ends at the end of its term."),
    "paid": N_("Payment received. Thank you!"),
    "declined": N_("The payment was declined; nothing was charged."),
    "link-revoked": N_("The share link was revoked: it no longer opens the invoice."),
    "billing-details-saved": N_("Billing details saved."),
    "payment-method-saved": N_("Payment method saved."),
    "contact-added": N_("Contact added."),
    "contact-removed": N_("Contact removed."),
    "user-added": N_("User added."),
    "user-removed": N_("User removed: their seats are free again and their tokens revoked."),
    "manage-billing-granted": N_("Manage Billing granted."),
    "manage-billing-revoked": N_("Manage Billing revoked."),
    "identity-license-assigned": N_("Identity license assigned."),
    "identity-license-released": N_("Identity license released."),
    "seat-assigned": N_("Seat assigned."),
    "seat-unassigned": N_("Seat freed."),
    "upgrade-requested": N_("Request sent. Your account manager will contact you."),
    "case-opened": N_("Support case opened. We will answer by e-mail."),
    "invoice-voided": N_("Invoice voided."),
    "invoice-credited": N_("Credit note issued."),
    "edition-changed": N_("Edition changed."),
    "case-answered": N_("Reply sent."),
    "case-closed": N_("Support case closed."),
    "billing-run": N_("The clock moved and billing ran up to it."),
}


# The words for the ledger's own values (statuses, roles, periods), shown translated.
LABELS = {
    "open": N_("Open"),
    "paid": N_("Paid"),
    "void": N_("Void"),
    "overdue": N_("Overdue"),
    "active": N_("Active"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
    "not-started": N_("Not started"),
    "revoked": N_("Revoked"),
    "monthly": N_("Monthly"),
    "annual": N_("Annual"),
    "billing": N_("Billing"),
    "technical": N_("Technical"),
    "primary": N_("Primary"),
    "product": N_("Product"),
    "add-on": N_("Add-on"),
    "admin": N_("Administrator"),
    "user": N_("User"),
    "identity": N_("Identity license user"),
    "billing_staff": N_("Billing staff"),
    "account_manager": N_("Account manager"),
    "auditor": N_("Auditor"),
    "summary": N_("Page"),
    "pdf": N_("PDF"),
}


def notice(code: str | None) -> str | None:
    return NOTICES.get(code or "")


# -- formatting -------------------------------------------------------------------------


def money(value: Mapping[str, str] | Any, language: str) -> str:
    """A money document (``{"amount": "12.50", "currency": "EUR"}``) or ``Money``."""
    if isinstance(value, Mapping):
        amount, currency = Decimal(value["amount"]), str(value["currency"])
    else:
        amount, currency = value.amount, value.currency
    return str(format_currency(amount, currency, locale=language))


def price(value: Mapping[str, str], language: str) -> str:
    """A unit price: to the cent, or to the four places a price for part of a period has."""
    amount = Decimal(value["amount"])
    exact = amount != amount.quantize(Decimal("0.01"))
    formatted = format_currency(
        amount.normalize() if exact else amount,
        value["currency"],
        locale=language,
        decimal_quantization=not exact,
    )
    return str(formatted)


def percent(value: str | Decimal, language: str) -> str:
    """A rate as a fraction (``"0.055"``) in percent: ``5.5 %``."""
    return str(format_percent(Decimal(value), locale=language, decimal_quantization=False))


def number(value: int | Decimal, language: str) -> str:
    return str(format_decimal(value, locale=language))


def day(value: date | str | None, language: str, form: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return str(format_date(value, format=form, locale=language))


def moment(value: datetime | str, language: str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(format_datetime(value, format="medium", locale=language, tzinfo=value.tzinfo))


# -- maintaining the catalog ------------------------------------------------------------


def extract() -> Catalog:
    """Every message the web app marks, as a fresh template catalog."""
    catalog = Catalog(project="subledger", domain="messages")
    found: Iterable[tuple[str, int, Any, list[str], Any]] = extract_from_dir(
        str(HERE), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    )
    for filename, lineno, message, comments, _context in found:
        catalog.add(message, None, [(f"service/web/{filename}", lineno)], auto_comments=comments)
    return catalog


def update_catalogs() -> None:
    """``make messages``: merge the extracted messages into each language's catalog."""
    template = extract()
    for language in LANGUAGES[1:]:
        catalog = read_catalog(language)
        template.creation_date = catalog.creation_date  # no date churn in the diff
        catalog.update(template, no_fuzzy_matching=True)
        with po_path(language).open("wb") as po:
            write_po(po, catalog, sort_output=True, ignore_obsolete=True, include_lineno=False)


if __name__ == "__main__":
    update_catalogs()
