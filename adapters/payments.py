"""The embedded payment provider: a fake that behaves like a provider's sandbox.

Test payment-method tokens choose the outcome, as a sandbox's test cards do:

- ``pm_card_declined``, ``pm_card_insufficient_funds``, ``pm_card_expired``: declined,
  with the provider's code and reason;
- ``pm_card_outage``: the provider is unreachable (``PaymentProviderUnavailable``);
- any other token (``pm_card_visa``, ``pm_card_mastercard``, ...): the charge succeeds.

Idempotency as a real provider keeps it: a key remembers its request and its answer
(a decline too), a retry with the same key and request gets that answer and moves no
money, and the same key with another request is refused. An outage is no answer: a
retry after it is tried afresh. ``down`` makes every call fail, for refunds in outages.
Charges are kept in memory: like a sandbox, the fake forgets them when the process ends.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from domain.money import Money
from domain.payment_provider import (
    Charged,
    ChargeResult,
    Declined,
    PaymentProviderUnavailable,
    ProviderKeyReused,
    RefundRefused,
)

DECLINES: dict[str, Declined] = {
    "pm_card_declined": Declined("card_declined", "Your card was declined."),
    "pm_card_insufficient_funds": Declined(
        "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_expired": Declined("expired_card", "Your card has expired."),
}
OUTAGE = "pm_card_outage"


@dataclass(frozen=True)
class Charge:
    charge_id: str
    method_reference: str
    amount: Money


@dataclass(frozen=True)
class Refund:
    refund_id: str
    charge_id: str
    amount: Money


class FakePaymentProvider:
    def __init__(self) -> None:
        self.down = False
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, Refund] = {}
        self._answers: dict[str, tuple[tuple[object, ...], ChargeResult | str]] = {}
        self._lock = threading.Lock()  # the HTTP layer calls from a thread pool

    def charge(self, method_reference: str, amount: Money, idempotency_key: str) -> ChargeResult:
        with self._lock:
            request = ("charge", method_reference, amount)
            if (known := self._known(idempotency_key, request)) is not None:
                assert not isinstance(known, str)
                return known
            if self.down or method_reference == OUTAGE:
                raise PaymentProviderUnavailable("the payment provider did not answer")
            result: ChargeResult
            if method_reference in DECLINES:
                result = DECLINES[method_reference]
            else:
                charge = Charge(_new_id("ch"), method_reference, amount)
                self.charges[charge.charge_id] = charge
                result = Charged(charge.charge_id)
            self._answers[idempotency_key] = (request, result)
            return result

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> str:
        with self._lock:
            request = ("refund", charge_id, amount)
            if (known := self._known(idempotency_key, request)) is not None:
                assert isinstance(known, str)
                return known
            if self.down:
                raise PaymentProviderUnavailable("the payment provider did not answer")
            charge = self.charges.get(charge_id)
            if charge is None:
                raise RefundRefused(f"the payment provider knows no charge {charge_id}")
            if amount > charge.amount - self.refunded(charge_id):
                raise RefundRefused(
                    f"a refund of {amount} exceeds what is left of charge {charge_id}"
                )
            refund = Refund(_new_id("re"), charge_id, amount)
            self.refunds[refund.refund_id] = refund
            self._answers[idempotency_key] = (request, refund.refund_id)
            return refund.refund_id

    def refunded(self, charge_id: str) -> Money:
        """What has been returned of a charge so far."""
        charge = self.charges[charge_id]
        result = Money.zero(charge.amount.currency)
        for refund in self.refunds.values():
            if refund.charge_id == charge_id:
                result = result + refund.amount
        return result

    def _known(self, key: str, request: tuple[object, ...]) -> ChargeResult | str | None:
        """The first answer under ``key``, if it was for this very request."""
        if key not in self._answers:
            return None
        first, answer = self._answers[key]
        if first != request:
            raise ProviderKeyReused()
        return answer


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"
