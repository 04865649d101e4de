"""The payment-provider port: where money actually moves.

A charge either succeeds (the provider's charge id), is declined (the provider's code
and reason, which the customer is shown), or cannot be made at all because the provider
is unreachable. Every call carries an idempotency key: the same key with the same
request returns the first answer and never moves money twice; the same key with a
different request is refused, as real providers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.errors import DomainError, InvalidValue
from domain.money import Money


@dataclass(frozen=True)
class Charged:
    charge_id: str


@dataclass(frozen=True)
class Declined:
    code: str  # machine-readable, e.g. "insufficient_funds"
    reason: str  # the provider's words, shown to the customer


ChargeResult = Charged | Declined


class PaymentProviderUnavailable(Exception):
    """The provider could not be reached or failed: no money moved, nothing is recorded."""


class ProviderKeyReused(InvalidValue):
    code = "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__(
            "the payment provider already saw this Idempotency-Key with a different request; "
            "use a new key"
        )


class RefundRefused(DomainError):
    """The provider refused a refund (e.g. it knows no such charge)."""

    code = "refund-refused"


class PaymentProvider(Protocol):
    def charge(self, method_reference: str, amount: Money, idempotency_key: str) -> ChargeResult:
        """Charge ``amount`` to the payment method; raises PaymentProviderUnavailable."""
        ...

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> str:
        """Return part of a charge; the refund's id. Raises RefundRefused or
        PaymentProviderUnavailable."""
        ...
