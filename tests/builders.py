"""Small builders that keep tests to one screen."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from domain.account import BillingDetails, User
from domain.catalog import Edition
from domain.cause import Cause
from service.ledger.application import Ledger
from service.ledger.context import CommandContext

COUNTRY_OF = {"USD": "US", "EUR": "DE"}


def billing(country: str = "US", legal_name: str = "Acme Corp") -> BillingDetails:
    return BillingDetails(
        legal_name, "1 Main St", "Springfield", "12345", country, "ap@acme.example"
    )


def administrator(user_id: str = "ada") -> User:
    return User(user_id, "Ada Admin", f"{user_id}@acme.example", administrator=True)


def open_account(
    ledger: Ledger,
    ctx: CommandContext,
    edition: Edition = Edition.ESSENTIALS,
    currency: str = "USD",
    country: str | None = None,
) -> UUID:
    receipt = ledger.open_account(
        ctx, "Acme", edition, currency, billing(country or COUNTRY_OF[currency]), administrator()
    )
    return receipt.aggregate_id


def cause(
    at: datetime = datetime(2026, 1, 5, 9, tzinfo=UTC),
    reason: str | None = None,
    actor: str = "ada",
) -> Cause:
    return Cause(at, actor, "admin", "req-1", "corr-1", reason)
