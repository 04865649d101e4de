"""Payments and refunds through the payment provider: money moves, then the ledger records it.

The provider is called outside the ledger's transaction, so a charge is made at most once
per Idempotency-Key by two guards:

- a retry whose first attempt was recorded gets the recorded answer, and the provider
  is not called (``Ledger.replay``);
- a retry whose first attempt charged but was not recorded (the store failed, or the
  request timed out before it) reaches the provider with the same provider key, derived
  from the invoice and the Idempotency-Key, gets the same charge back, and records it.

Every check runs before the provider is called, while holding the invoice's lock
(ADR 0014) until the outcome is recorded: If-Match, the invoice's state and the amount,
and the payment method (one recorded on the paying account). So no money is taken for a
payment the ledger would refuse, and payments of one invoice in this process are charged
one after another, each against the balance the previous one left. If the ledger refuses
anyway (another process settled the invoice in between), the charge is refunded at once.
Refunds hold the lock likewise. A decline is recorded (``PaymentFailed``, with the
provider's reason); an outage (``PaymentProviderUnavailable``) records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import DomainError
from domain.invoice import Invoice
from domain.invoice_series import SeriesKind
from domain.money import Money
from domain.payment_provider import Declined, PaymentProviderUnavailable
from service.ledger import idempotency
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.ledger.errors import PreconditionFailed

log = logging.getLogger("subledger.payments")


@dataclass(frozen=True)
class PaymentOutcome:
    receipt: Receipt
    declined: Declined | None  # None: the charge succeeded and was recorded


class Payments:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.provider = ledger.payment_provider

    def pay(
        self,
        ctx: CommandContext,
        invoice_id: UUID,
        amount: Money | None = None,
        method_reference: str | None = None,
    ) -> PaymentOutcome:
        """Charge the balance (or ``amount``) to the account's payment method (or the one
        named, if recorded on the account), and record the payment, or the decline."""
        with self.ledger.holding(invoice_id):
            if (replay := self.ledger.replay(ctx)) is not None:
                return PaymentOutcome(replay, self._declined_at(invoice_id, replay.version))
            invoice = self.ledger.invoice(invoice_id)
            _require_if_match(ctx, invoice)
            due = amount if amount is not None else invoice.balance
            invoice.require_payable(due)
            method = self.ledger.account(invoice.account_id).payment_method_for(method_reference)
            if ctx.preview:  # what would be charged and recorded; the provider is not called
                receipt = self.ledger.record_payment(ctx, invoice_id, due, method)
                return PaymentOutcome(receipt, None)
            key = f"subledger:charge:{invoice_id}:{_request(ctx)}"
            result = self.provider.charge(method, due, key)
            if isinstance(result, Declined):
                receipt = self._record_decline(ctx, invoice_id, due, method, result)
                return PaymentOutcome(receipt, result)
            receipt = self._record(ctx, invoice_id, due, method, result.charge_id)
            return PaymentOutcome(receipt, None)

    def _record(
        self, ctx: CommandContext, invoice_id: UUID, amount: Money, method: str, charge_id: str
    ) -> Receipt:
        try:
            return self.ledger.record_payment(ctx, invoice_id, amount, method, charge_id)
        except DomainError:
            if charge_id not in self.ledger.invoice(invoice_id).payments:
                self._reverse(charge_id, amount)
            raise

    def _reverse(self, charge_id: str, amount: Money) -> None:
        """Give back a charge the ledger refused to record."""
        try:
            self.provider.refund(charge_id, amount, f"subledger:reversal:{charge_id}")
        except (PaymentProviderUnavailable, DomainError):
            log.exception("charge %s was not recorded and could not be refunded", charge_id)

    def _record_decline(
        self,
        ctx: CommandContext,
        invoice_id: UUID,
        amount: Money,
        method: str,
        declined: Declined,
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            invoice = self.ledger.invoice(invoice_id)
            invoice.record_payment_failure(amount, method, declined.code, declined.reason, cause)
            return [invoice]

        return self.ledger.execute(ctx, work, invoice_id)

    def _declined_at(self, invoice_id: UUID, version: int) -> Declined | None:
        """The decline a replayed request answered with (None if it paid)."""
        (event,) = self.ledger.events.get(invoice_id, gt=version - 1, lte=version)
        if isinstance(event, Invoice.PaymentFailed):
            return Declined(event.decline_code, event.reason)
        return None

    def refund(self, ctx: CommandContext, invoice_id: UUID, amount: Money) -> Receipt:
        """Staff: credit ``amount`` (with the reason ``ctx`` carries) and pay out through the
        provider the part of it that returns money already paid, newest payments first."""
        with self.ledger.holding(invoice_id):
            return self._refund(ctx, invoice_id, amount)

    def _refund(self, ctx: CommandContext, invoice_id: UUID, amount: Money) -> Receipt:
        if (replay := self.ledger.replay(ctx)) is not None:
            return replay
        probe = self.ledger.invoice(invoice_id)
        _require_if_match(ctx, probe)
        # Without an Idempotency-Key the invoice's version names the request: a retry after
        # a payout that was not recorded meets the same version, so the same provider keys.
        request = _request(ctx) if ctx.idempotency_key else f"v{probe.version}"
        credit_note_id = uuid5(NAMESPACE_URL, f"subledger:credit:{invoice_id}:{request}").hex
        # The credit note on a copy that is never saved: the refund part, checked, and the
        # payments it comes from.
        now = ctx.cause(self.ledger.clock.now())
        due = probe.issue_credit_note(credit_note_id, amount, now, "unsaved")
        key = f"subledger:refund:{invoice_id}:{request}"
        paid_out = [
            (payment_id, share, self.provider.refund(payment_id, share, f"{key}:{payment_id}"))
            for payment_id, share in probe.refunds_for(due)
        ]
        refund: list[Money] = []

        def work(cause: Cause) -> list[LedgerAggregate]:
            invoice = self.ledger.invoice(invoice_id)
            invoice.require_creditable(credit_note_id, amount, cause)
            number = self.ledger.numbering.number(
                SeriesKind.CREDIT_NOTE, invoice.account_id, credit_note_id, cause
            )
            refund[:] = [invoice.issue_credit_note(credit_note_id, amount, cause, number)]
            for payment_id, share, refund_id in paid_out:
                invoice.record_refund(payment_id, refund_id, share, credit_note_id, cause)
            return [invoice]

        return self.ledger.execute(
            ctx, work, invoice_id, refund=lambda: refund[0] if refund else None
        )


def _require_if_match(ctx: CommandContext, invoice: Invoice) -> None:
    """If-Match, checked before money moves (``Ledger.execute`` checks it again when the
    outcome is recorded, against the store)."""
    if ctx.expected_version is not None and ctx.expected_version != invoice.version:
        raise PreconditionFailed(ctx.expected_version, invoice.version)


def _request(ctx: CommandContext) -> str:
    """Names the request to the provider: its Idempotency-Key, scoped to the caller as the
    ledger scopes it, or a fresh id without one."""
    if ctx.idempotency_key:
        return str(idempotency.record_id(ctx.key_owner, ctx.idempotency_key))
    return uuid4().hex
