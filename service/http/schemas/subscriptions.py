"""Contracts (subscriptions) and their seat pools (licenses). ``SubscriptionOut`` and
``LicenseOut`` validate ``projections.documents``' ``subscription_document`` and
``license_document``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.period import BillingPeriod
from projections.documents import license_document
from service.http.schemas.common import Body, Code, Day, MoneyOut, Months, Quantity, Reason
from service.reads.seats import SeatsOnDay


class LineIn(Body):
    product_code: Code
    quantity: Quantity


class SubscriptionIn(Body):
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=20)]
    term_months: Months = 12
    billing_period: BillingPeriod = BillingPeriod.ANNUAL
    auto_renew: bool = True

    def quantities(self) -> dict[str, int]:
        """Units per product (a product named twice is bought once, with both quantities)."""
        found: dict[str, int] = {}
        for line in self.lines:
            found[line.product_code] = found.get(line.product_code, 0) + line.quantity
        return found


class LicensesIn(Body):
    product_code: Code
    quantity: Quantity
    effective: Day | None = Field(None, description="Defaults to today; a past date needs a reason")
    reason: Reason | None = None


class RenewalIn(Body):
    term_months: Months = Field(12, description="The length of the next term, in months")
    quantities: dict[Code, Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        None,
        description=(
            "Changes to the next term's lines, by product code. A product named gets that "
            "quantity; 0 drops its line; a product not named keeps its line as it is in the "
            "scheduled renewal (or, when none is scheduled, on the contract). A product not "
            "there yet is added if the catalog sells it in the account's edition, else the "
            "request is refused (409 product-not-in-edition; 422 unknown-product for a code "
            "the catalog does not have). Named lines are priced at the list price in force on "
            "the next term's first day; kept lines keep their price. At least one line must "
            "remain (422): to let the contract end, cancel the renewal instead. "
            "Default: no change to the lines."
        ),
        examples=[{"sales-cloud": 6, "inbox": 0}],
    )


class CancellationIn(Body):
    reason: Reason
    effective: Day | None = None


class LineOut(BaseModel):
    line_id: str
    product_code: str
    product_name: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut


class RenewalOut(BaseModel):
    starts_on: date
    term_months: int
    lines: list[LineOut]


class SubscriptionOut(BaseModel):
    id: UUID
    version: int
    account_id: UUID
    status: Literal["active", "cancelled", "expired"]
    currency: str
    billing_period: BillingPeriod
    term_start: date
    term_end: date
    lines: list[LineOut]
    period_amount: MoneyOut
    renewal: RenewalOut | None
    ended_on: date | None


class SubscriptionChangeOut(BaseModel):
    subscription: SubscriptionOut
    invoice_id: UUID | None = Field(None, description="The invoice this change issued, if any")


class LicenseOut(BaseModel):
    product_code: str
    held: int
    assigned: list[str]
    available: int


class ScheduledSeatsOut(BaseModel):
    effective_on: date = Field(description="The day the change takes effect")
    change: int = Field(description="Seats added (positive) or removed (negative) that day")
    held: int = Field(description="Seats held from that day on")


class LicenseOnDayOut(LicenseOut):
    """A seat pool on one day: ``held`` counts only the seats in force that day."""

    scheduled: list[ScheduledSeatsOut] = Field(
        description="Changes already recorded that take effect after that day, in date order"
    )

    @classmethod
    def on_day(cls, seats: SeatsOnDay) -> LicenseOnDayOut:
        scheduled = [
            {"effective_on": s.effective_on, "change": s.change, "held": s.held}
            for s in seats.scheduled
        ]
        return cls.model_validate(license_document(seats.license) | {"scheduled": scheduled})
