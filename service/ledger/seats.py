"""Seats: the License pools a contract's per-seat products fill, and who holds them."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain import catalog
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import NotFound
from domain.license import License, license_id
from domain.subscription import Subscription
from service.ledger.context import CommandContext
from service.ledger.core import Receipt
from service.ledger.loading import Loading


class Seats(Loading):
    """Seats bought, moved at renewal or end, and assigned (mixed into ``Ledger``)."""

    def _add_seats(
        self,
        account_id: UUID,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        on: date,
        cause: Cause,
    ) -> list[LedgerAggregate]:
        """Put bought seats into the account's License for a per-seat product."""
        if not catalog.product(product_code).per_seat:
            return []
        try:
            lic = self.license(account_id, product_code)
        except NotFound:
            lic = License.open(account_id, product_code, cause)
        lic.add(subscription_id, quantity, on, cause)
        return [lic]

    def _move_seats(
        self, sub: Subscription, before: dict[str, int], after: dict[str, int], cause: Cause
    ) -> list[LedgerAggregate]:
        """The seats follow the contract's new quantities (``Subscription.seat_moves``)."""
        changed: list[LedgerAggregate] = []
        on, moves = sub.seat_moves(before, after, cause.today)
        for code, delta in moves.items():
            if delta > 0:
                changed += self._add_seats(sub.account_id, sub.id, code, delta, on, cause)
            else:
                lic = self.license(sub.account_id, code)
                lic.remove(sub.id, -delta, on, cause)
                changed.append(lic)
        return changed

    def assign_seat(
        self, ctx: CommandContext, account_id: UUID, product_code: str, user_id: str
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            self.account(account_id).user(user_id)
            lic = self.license(account_id, product_code)
            lic.assign(user_id, cause)
            return [lic]

        return self.execute(ctx, work, license_id(account_id, product_code))

    def unassign_seat(
        self, ctx: CommandContext, account_id: UUID, product_code: str, user_id: str
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            self.account(account_id).user(user_id)
            lic = self.license(account_id, product_code)
            lic.unassign(user_id, cause)
            return [lic]

        return self.execute(ctx, work, license_id(account_id, product_code))
