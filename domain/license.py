"""The License: the seats of one per-seat product that an account holds.

One License per (account, product), with a deterministic id, so buying seats on two
contracts adds to the same pool. Seats are held per contract: when a contract ends or
renews with fewer seats, its seats leave the pool, and if that would leave more users
assigned than seats held, the most recently assigned users are unassigned first.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import AlreadyInThatState, InvalidValue, SeatsExhausted
from domain.subscription import positive


def license_id(account_id: UUID, product_code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"subledger:license:{account_id}:{product_code}")


class License(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        public: ClassVar[bool] = True  # its events are published (domain/base.py)

    class LicenseOpened(LedgerAggregate.Created):
        account_id: UUID
        product_code: str

    class LicenseAdded(LedgerAggregate.Event):
        """Seats bought: on a new contract, added mid-term, or on renewal."""

        subscription_id: UUID
        quantity: int
        effective_at: date

        def apply(self, lic: License) -> None:
            key = str(self.subscription_id)
            lic.held_by_contract[key] = lic.held_by_contract.get(key, 0) + self.quantity

    class LicenseRemoved(LedgerAggregate.Event):
        """Seats leave the pool: the contract ended or renewed with fewer."""

        subscription_id: UUID
        quantity: int
        effective_at: date

        def apply(self, lic: License) -> None:
            key = str(self.subscription_id)
            left = lic.held_by_contract[key] - self.quantity
            if left:
                lic.held_by_contract[key] = left
            else:
                del lic.held_by_contract[key]

    class SeatAssigned(LedgerAggregate.Event):
        user_id: str

        def apply(self, lic: License) -> None:
            lic.assigned.append(self.user_id)

    class SeatUnassigned(LedgerAggregate.Event):
        user_id: str

        def apply(self, lic: License) -> None:
            lic.assigned.remove(self.user_id)

    def __init__(self, account_id: UUID, product_code: str) -> None:
        self.account_id = account_id
        self.product_code = product_code
        self.held_by_contract: dict[str, int] = {}
        self.assigned: list[str] = []

    @classmethod
    def open(cls, account_id: UUID, product_code: str, cause: Cause) -> License:
        return cls._begin(
            cls.LicenseOpened,
            license_id(account_id, product_code),
            cause,
            account_id=account_id,
            product_code=product_code,
        )

    @property
    def held(self) -> int:
        return sum(self.held_by_contract.values())

    @property
    def available(self) -> int:
        return self.held - len(self.assigned)

    def add(self, subscription_id: UUID, quantity: int, effective: date, cause: Cause) -> None:
        positive(quantity)
        self._record(
            self.LicenseAdded,
            cause,
            subscription_id=subscription_id,
            quantity=quantity,
            effective_at=effective,
        )

    def remove(self, subscription_id: UUID, quantity: int, effective: date, cause: Cause) -> None:
        positive(quantity)
        if quantity > self.held_by_contract.get(str(subscription_id), 0):
            raise InvalidValue(
                f"contract {subscription_id} holds fewer than {quantity} seats"
                f" of {self.product_code!r}"
            )
        for user_id in reversed(self.assigned[max(self.held - quantity, 0) :]):
            self._record(self.SeatUnassigned, cause, user_id=user_id)
        self._record(
            self.LicenseRemoved,
            cause,
            subscription_id=subscription_id,
            quantity=quantity,
            effective_at=effective,
        )

    def remove_contract(self, subscription_id: UUID, effective: date, cause: Cause) -> None:
        held = self.held_by_contract.get(str(subscription_id), 0)
        if held:
            self.remove(subscription_id, held, effective, cause)

    def assign(self, user_id: str, cause: Cause) -> None:
        if user_id in self.assigned:
            raise AlreadyInThatState(f"user {user_id} already has a {self.product_code!r} seat")
        if self.available <= 0:
            raise SeatsExhausted(self.product_code, self.held)
        self._record(self.SeatAssigned, cause, user_id=user_id)

    def unassign(self, user_id: str, cause: Cause) -> None:
        if user_id not in self.assigned:
            raise AlreadyInThatState(f"user {user_id} has no {self.product_code!r} seat")
        self._record(self.SeatUnassigned, cause, user_id=user_id)
