"""An account's seats on a day: held then, and the changes already scheduled after it.

Seats are bought for a day (``LicenseAdded.effective_at``): 3 seats added today from
next month are not held today. Each seat pool is read as known at ``as_of`` and in force
on ``effective`` (ADR 0004, one rule for every point-in-time read); every later day on
which a change already known takes effect is read the same way, so the schedule says
what the pool will hold from each of those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from domain import catalog
from domain.license import License
from projections.point_in_time import aggregates_of_account
from projections.store import Sql
from service.ledger.application import Ledger
from service.reads.point_in_time import aggregate_at

SEAT_CHANGES = (License.LicenseAdded, License.LicenseRemoved)
_CATALOG_ORDER = {code: n for n, code in enumerate(catalog.PRODUCTS)}


@dataclass(frozen=True)
class ScheduledSeats:
    """From ``effective_on`` the pool holds ``held`` seats, ``change`` more than before."""

    effective_on: date
    change: int
    held: int


@dataclass(frozen=True)
class SeatsOnDay:
    license: License  # the pool in force on the day: held and assigned then
    scheduled: tuple[ScheduledSeats, ...]  # known at as_of, in force only after the day


def seats_on_day(
    ledger: Ledger, sql: Sql, account_id: UUID, as_of: datetime, effective: date | None = None
) -> list[SeatsOnDay]:
    """The account's seat pools known at ``as_of``, in force on ``effective`` (default:
    as_of's day), in catalog order. The audit trail must have reached ``as_of``."""
    pools = [
        _pool_on_day(ledger, sql, license_id, as_of, effective)
        for _, license_id in aggregates_of_account(sql, account_id, as_of, ("License",))
    ]
    # in catalog order, as the read model lists them (a product no longer sold goes last)
    last = len(_CATALOG_ORDER)
    return sorted(pools, key=lambda pool: _CATALOG_ORDER.get(pool.license.product_code, last))


def _pool_on_day(
    ledger: Ledger, sql: Sql, license_id: UUID, as_of: datetime, effective: date | None
) -> SeatsOnDay:
    then = aggregate_at(ledger, sql, license_id, as_of, effective, License)
    held = then.aggregate.held
    scheduled = []
    # Rule 3 of ADR 0004 can put a removal in force later than its own date, but only on
    # the day of a later addition: reading the pool on each of these days follows it.
    for day in sorted({e.effective_at for e in then.deferred if isinstance(e, SEAT_CHANGES)}):
        later = aggregate_at(ledger, sql, license_id, as_of, day, License).aggregate.held
        if later != held:
            scheduled.append(ScheduledSeats(day, later - held, later))
            held = later
    return SeatsOnDay(then.aggregate, tuple(scheduled))
