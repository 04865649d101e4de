"""An account as known at a recorded instant and in force on a day, as rows of facts,
and what changed between two such views (the staff's time travel, ADR 0024).

The views are ``service.reads.point_in_time.account_at``'s, the same as the API's ``as_of``
reads and ``subledger history``: nothing here folds events itself. Each fact has a
stable key, so two views line up row by row and a changed value is found by key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import catalog
from domain.money import Money
from service.reads.point_in_time import AccountAt
from service.web import i18n
from service.web.i18n import N_

DASH = "\u2013"  # an en dash: nothing, or a span of days


@dataclass(frozen=True)
class Fact:
    key: str  # the same thing in two views has the same key
    section: str  # a msgid
    label: str  # a msgid
    subject: str  # what the fact is about (a product, an invoice number), shown as is
    value: str  # formatted for the page's language


@dataclass(frozen=True)
class Compared:
    """A fact in the view asked for, and in the view compared with (None: absent there)."""

    fact: Fact
    then: str | None
    changed: bool


def facts(view: AccountAt, language: str, gettext: Callable[[str], str]) -> list[Fact]:
    def money(value: Money) -> str:
        return i18n.money(value, language)

    def day(value: object) -> str:
        return i18n.day(value, language)  # type: ignore[arg-type]

    def label(value: str) -> str:
        return gettext(i18n.LABELS.get(value, value))

    account = view.account.aggregate
    found: list[Fact] = []

    def add(key: str, section: str, name: str, subject: str, value: str) -> None:
        found.append(Fact(key, section, name, subject, value))

    general = N_("Account")
    add("edition", general, N_("Edition"), "", account.edition.value)
    add("currency", general, N_("Currency"), "", account.currency)
    add("legal-name", general, N_("Legal name"), "", account.billing.legal_name)
    add("invoice-email", general, N_("Invoice e-mail"), "", account.billing.invoice_email)
    add("payment-method", general, N_("Payment method"), "", account.payment_method or DASH)
    users = N_("Users")
    for user in account.users.values():
        rights = [gettext(N_("Administrator"))] if user.administrator else []
        if account.has_manage_billing(user.user_id):
            rights.append(gettext(N_("Manage Billing")))
        if user.user_id in account.identity_licenses:
            rights.append(gettext(N_("Identity license")))
        add(f"user-{user.user_id}", users, N_("User"), user.name, ", ".join(rights) or DASH)
    contracts = N_("Contracts")
    for found_sub in view.subscriptions:
        sub = found_sub.aggregate
        subject = f"{', '.join(catalog.product(c).name for c in sub.lines)}"
        status = sub.status.value if found_sub.in_force or not sub.is_active else "not-started"
        key = f"contract-{sub.id}"
        add(f"{key}-status", contracts, N_("Status"), subject, label(status))
        add(
            f"{key}-term",
            contracts,
            N_("Term"),
            subject,
            f"{day(sub.term.start)} {DASH} {day(sub.term.end)}",
        )
        for line in sub.lines.values():
            name = catalog.product(line.product_code).name
            add(
                f"{key}-{line.product_code}",
                contracts,
                N_("Quantity"),
                name,
                i18n.number(line.quantity, language),
            )
        renewal = (
            gettext(N_("%(months)s months")) % {"months": sub.renewal.term_months}
            if sub.renewal
            else gettext(N_("not scheduled"))
        )
        add(f"{key}-renewal", contracts, N_("Renewal"), subject, renewal)
        add(f"{key}-amount", contracts, N_("Per billing period"), subject, money(sub.period_amount))
    seats = N_("Seats")
    for found_lic in view.licenses:
        lic = found_lic.aggregate
        name = catalog.product(lic.product_code).name
        value = gettext(N_("%(assigned)s of %(held)s assigned")) % {
            "assigned": i18n.number(len(lic.assigned), language),
            "held": i18n.number(lic.held, language),
        }
        add(f"seats-{lic.product_code}", seats, N_("Seats"), name, value)
    invoices = N_("Invoices")
    balance = Money.zero(account.currency)
    for found_inv in view.invoices:
        if not found_inv.in_force:
            continue
        inv = found_inv  # its document's figures (ADR 0030)
        balance = balance + inv.balance
        due = gettext(N_("balance %(amount)s")) % {"amount": money(inv.balance)}
        value = f"{label(inv.status.value)} · {money(inv.total)} · {due}"
        add(f"invoice-{inv.id}", invoices, N_("Invoice"), inv.number, value)
    add("open-balance", invoices, N_("Open balance"), "", money(balance))
    return found


def compare(now: list[Fact], then: list[Fact] | None) -> list[Compared]:
    """The facts of ``now``, each with its value in ``then``; facts only ``then`` had
    come last, shown as gone."""
    if then is None:
        return [Compared(f, None, False) for f in now]
    before = {f.key: f for f in then}
    rows = [
        Compared(
            f,
            before[f.key].value if f.key in before else None,
            f.key not in before or before[f.key].value != f.value,
        )
        for f in now
    ]
    keys = {f.key for f in now}
    rows += [
        Compared(Fact(f.key, f.section, f.label, f.subject, DASH), f.value, True)
        for f in then
        if f.key not in keys
    ]
    return rows
