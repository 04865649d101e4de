"""Book-wide reports over the account overview's tables: renewals coming up, invoice ageing.

Both read the current state of the book; the day they take only places the window
(renewals) or measures lateness (ageing). Sums are taken in SQL over integers of minor
units, so they are exact, and turned into decimal strings only at the end.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TypedDict

from domain.catalog import Edition
from domain.invoice import InvoiceStatus
from domain.subscription import SubscriptionStatus
from projections.account_overview import ACCOUNTS, INVOICES, SUBSCRIPTIONS
from projections.documents import MoneyDocument, money_of_units
from projections.store import Sql


class RenewalDue(TypedDict):
    subscription_id: str
    account_id: str
    account_name: str
    edition: str
    currency: str
    billing_period: str
    starts_on: str
    term_months: int
    value: MoneyDocument  # one billing period of the renewal's lines, before tax


def upcoming_renewals(
    sql: Sql,
    on: date,
    within_days: int,
    edition: Edition | None = None,
    currency: str | None = None,
) -> list[RenewalDue]:
    """Active contracts whose scheduled renewal starts from ``on`` to ``on + within_days``
    (both included), soonest first."""
    clauses = ["s.status = ?", "s.renewal_starts_on >= ?", "s.renewal_starts_on <= ?"]
    params: list[object] = [
        SubscriptionStatus.ACTIVE.value,
        on.isoformat(),
        (on + timedelta(days=within_days)).isoformat(),
    ]
    if edition is not None:
        clauses.append("a.edition = ?")
        params.append(edition.value)
    if currency is not None:
        clauses.append("s.currency = ?")
        params.append(currency)
    rows = sql.execute(
        "SELECT s.id, s.account_id, a.name, a.edition, s.currency, s.billing_period, "
        "s.renewal_starts_on, s.renewal_term_months, s.renewal_value "
        f"FROM {SUBSCRIPTIONS} s JOIN {ACCOUNTS} a ON a.id = s.account_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY s.renewal_starts_on, a.name, s.id",
        params,
    ).fetchall()
    return [
        {
            "subscription_id": sub_id,
            "account_id": account_id,
            "account_name": name,
            "edition": edition_value,
            "currency": sub_currency,
            "billing_period": period,
            "starts_on": starts_on,
            "term_months": int(months),
            "value": money_of_units(int(value), sub_currency),
        }
        for (
            sub_id,
            account_id,
            name,
            edition_value,
            sub_currency,
            period,
            starts_on,
            months,
            value,
        ) in rows
    ]


class Ageing(TypedDict):
    currency: str
    open_invoices: int
    open_balance: MoneyDocument
    current: MoneyDocument  # not yet due (due today or later)
    days_1_30: MoneyDocument
    days_31_60: MoneyDocument
    days_61_90: MoneyDocument
    over_90: MoneyDocument


# Days past due, both ends included; None leaves that end open.
BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0),
    ("days_1_30", 1, 30),
    ("days_31_60", 31, 60),
    ("days_61_90", 61, 90),
    ("over_90", 91, None),
)


def invoice_ageing(sql: Sql, on: date, currency: str | None = None) -> list[Ageing]:
    """Open invoices' balance per currency, and how it splits by days past due on ``on``."""
    sums: list[str] = []
    params: list[object] = []
    for _, fewest, most in BUCKETS:
        # d days past due on ``on`` means due on ``on - d``: a range of days is a range of dates.
        conditions = []
        if most is not None:
            conditions.append("due_on >= ?")
            params.append((on - timedelta(days=most)).isoformat())
        if fewest is not None:
            conditions.append("due_on <= ?")
            params.append((on - timedelta(days=fewest)).isoformat())
        sums.append(f"SUM(CASE WHEN {' AND '.join(conditions)} THEN balance ELSE 0 END)")
    where = "status = ?"
    params.append(InvoiceStatus.OPEN.value)
    if currency is not None:
        where += " AND currency = ?"
        params.append(currency)
    rows = sql.execute(
        f"SELECT currency, COUNT(*), SUM(balance), {', '.join(sums)} FROM {INVOICES} "
        f"WHERE {where} GROUP BY currency ORDER BY currency",
        params,
    ).fetchall()
    found: list[Ageing] = []
    for code, count, balance, *buckets in rows:
        amounts = {
            name: money_of_units(int(units), code)
            for (name, _, _), units in zip(BUCKETS, buckets, strict=True)
        }
        found.append(
            {
                "currency": code,
                "open_invoices": int(count),
                "open_balance": money_of_units(int(balance), code),
                "current": amounts["current"],
                "days_1_30": amounts["days_1_30"],
                "days_31_60": amounts["days_31_60"],
                "days_61_90": amounts["days_61_90"],
                "over_90": amounts["over_90"],
            }
        )
    return found
