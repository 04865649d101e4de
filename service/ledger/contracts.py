"""Contracts: buying products, changing them mid-term, renewals, expiry, cancellation."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from uuid import UUID, uuid4

from domain import catalog
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import InvalidValue, NotOnContract
from domain.invoice import Invoice
from domain.period import BillingPeriod
from domain.subscription import Line, Subscription, changed_lines
from service.ledger.context import CommandContext
from service.ledger.core import Receipt
from service.ledger.invoices import Invoices
from service.ledger.seats import Seats

# Who renews a contract in a preview of its renewal invoice (the billing run, in fact).
RENEWAL = CommandContext("subledger-billing", "system", preview=True)


class Contracts(Invoices, Seats):
    """Use cases on a contract; each issues its invoices and moves its seats."""

    def start_subscription(
        self,
        ctx: CommandContext,
        account_id: UUID,
        quantities: Mapping[str, int],
        term_months: int = 12,
        billing_period: BillingPeriod = BillingPeriod.ANNUAL,
        term_start: date | None = None,
        auto_renew: bool = True,
        subscription_id: UUID | None = None,
    ) -> Receipt:
        """Buy products: the contract, its seats, and the invoice for its first period."""
        new_id = subscription_id or uuid4()

        def work(cause: Cause) -> list[LedgerAggregate]:
            account = self.account(account_id)
            start = term_start or cause.today
            lines = self._price_lines(account, quantities, billing_period, start)
            sub = Subscription.start(
                new_id,
                account_id,
                account.currency,
                billing_period,
                start,
                term_months,
                lines,
                cause,
            )
            changed: list[LedgerAggregate] = [sub]
            for line in lines:
                changed += self._add_seats(
                    account_id, sub.id, line.product_code, line.quantity, start, cause
                )
            if auto_renew:
                sub.schedule_renewal(term_months, self._renewal_lines(account, sub, None), cause)
            changed.append(self._first_period_invoice(account, sub, cause))
            return changed

        return self.execute(ctx, work, new_id)

    def _price_lines(
        self, account: Account, quantities: Mapping[str, int], period: BillingPeriod, on: date
    ) -> list[Line]:
        if not quantities:
            raise InvalidValue("name at least one product and its quantity")
        return [
            Line(
                code,
                code,
                quantity,
                catalog.unit_price(code, account.edition, account.currency, period, on),
            )
            for code, quantity in quantities.items()
        ]

    def _renewal_lines(
        self, account: Account, sub: Subscription, quantities: Mapping[str, int] | None
    ) -> list[Line]:
        """Lines of the next term: the scheduled plan (or, with none, the contract's lines)
        with the named quantities changed (``changed_lines``); new and changed lines are
        priced from the catalog on the next term's first day."""
        on = sub.term.end

        def priced(code: str, quantity: int) -> Line:
            (line,) = self._price_lines(account, {code: quantity}, sub.billing_period, on)
            return line

        if sub.renewal is not None:
            base = list(sub.renewal.lines)
        else:
            current = sub.product_quantities
            base = self._price_lines(account, current, sub.billing_period, on)
        return changed_lines(base, quantities or {}, priced)

    def add_licenses(
        self,
        ctx: CommandContext,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        effective: date | None = None,
    ) -> Receipt:
        """Add seats to a line mid-term: prorated to the end of the period and invoiced at once."""

        def add(account: Account, sub: Subscription, on: date, cause: Cause) -> Line:
            line = sub.line_for(product_code)
            if line is None:
                catalog.product(product_code)  # an unknown code is refused as such (422)
                raise NotOnContract(product_code)
            sub.add_licenses(line.line_id, quantity, on, cause)
            return line

        return self._add_units(ctx, subscription_id, product_code, quantity, effective, add)

    def add_product(
        self,
        ctx: CommandContext,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        effective: date | None = None,
    ) -> Receipt:
        """Add a product or add-on to a contract at today's list price, prorated and invoiced."""

        def add(account: Account, sub: Subscription, on: date, cause: Cause) -> Line:
            (line,) = self._price_lines(account, {product_code: quantity}, sub.billing_period, on)
            sub.add_product(line, on, cause)
            return line

        return self._add_units(ctx, subscription_id, product_code, quantity, effective, add)

    def _add_units(
        self,
        ctx: CommandContext,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        effective: date | None,
        add: Callable[[Account, Subscription, date, Cause], Line],
    ) -> Receipt:
        """Units added mid-term: ``add`` records them on the contract and returns their line;
        their seats follow, and their own invoice is issued at once."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            account = self.account(sub.account_id)
            on = effective or cause.today
            line = add(account, sub, on, cause)
            seats = self._add_seats(sub.account_id, sub.id, product_code, quantity, on, cause)
            invoice = self._prorated_invoice(account, sub, line, cause)
            return [sub, *seats, invoice]

        return self.execute(ctx, work, subscription_id)

    def schedule_renewal(
        self,
        ctx: CommandContext,
        subscription_id: UUID,
        term_months: int = 12,
        quantities: Mapping[str, int] | None = None,
    ) -> Receipt:
        """Schedule the next term, or change the one already scheduled: each product named in
        ``quantities`` gets that quantity (0 drops it; one not on the plan is added if the
        account's edition sells it), and the lines not named are kept."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            account = self.account(sub.account_id)
            lines = self._renewal_lines(account, sub, quantities)
            if sub.renewal is None:
                sub.schedule_renewal(term_months, lines, cause)
            else:
                sub.change_renewal(term_months, lines, cause)
            return [sub]

        return self.execute(ctx, work, subscription_id)

    def cancel_renewal(self, ctx: CommandContext, subscription_id: UUID) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            sub.cancel_renewal(cause)
            return [sub]

        return self.execute(ctx, work, subscription_id)

    def renew(self, ctx: CommandContext, subscription_id: UUID) -> Receipt:
        """Start the scheduled next term: seats follow its quantities, its first period is
        invoiced, and the contract goes on auto-renewing with the same quantities."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            account = self.account(sub.account_id)
            before = sub.product_quantities
            renewal = sub.renew(cause)
            changed: list[LedgerAggregate] = [sub]
            after = sub.product_quantities
            changed += self._move_seats(sub, before, after, cause)
            sub.schedule_renewal(
                renewal.term_months, self._renewal_lines(account, sub, None), cause
            )
            changed.append(self._first_period_invoice(account, sub, cause))
            return changed

        return self.execute(ctx, work, subscription_id)

    def renewal_invoice(self, sub: Subscription) -> Invoice:
        """The invoice ``renew`` will issue for the first period of ``sub``'s next term, as
        the ledger knows the contract now (a preview of a renewal change: never saved)."""
        account = self.account(sub.account_id)
        renewing = copy.deepcopy(sub)
        cause = RENEWAL.cause(datetime.combine(sub.term.end, time(), tzinfo=UTC))
        renewing.renew(cause)
        return self._first_period_invoice(account, renewing, cause)

    def expire(self, ctx: CommandContext, subscription_id: UUID) -> Receipt:
        """End a contract whose renewal was cancelled, at its term end; its seats go."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            before = sub.product_quantities
            sub.expire(cause)
            return [sub, *self._move_seats(sub, before, {}, cause)]

        return self.execute(ctx, work, subscription_id)

    def cancel_subscription(
        self, ctx: CommandContext, subscription_id: UUID, effective: date | None = None
    ) -> Receipt:
        """Staff end a contract early, with a reason; its seats go."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            before = sub.product_quantities
            sub.cancel(effective or cause.today, cause)
            return [sub, *self._move_seats(sub, before, {}, cause)]

        return self.execute(ctx, work, subscription_id)

    def send_renewal_reminder(self, ctx: CommandContext, subscription_id: UUID) -> Receipt:
        """Remind the customer that the term ends soon; once per term (a repeat writes nothing)."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            if sub.reminded_for == sub.term.end:
                return []
            sub.send_renewal_reminder(cause)
            return [sub]

        return self.execute(ctx, work, subscription_id)
