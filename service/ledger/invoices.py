"""Invoices: issuing them (for a billing period, or an addition's own), VAT, payments,
voids, credit notes, and marking them overdue."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain import catalog
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import InvalidValue, PeriodNotBegun
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.invoice_series import SeriesKind
from domain.invoicing import due_on
from domain.money import Money
from domain.period import DateRange, billed_share, billing_periods
from domain.subscription import Line, Subscription
from domain.tax import tax_rate
from domain.vat_number import EU_MEMBER_STATES, VatNumber
from domain.vat_treatment import vat_treatment
from service.ledger.context import CommandContext
from service.ledger.core import Receipt
from service.ledger.loading import Loading


def period_invoice_id(subscription_id: UUID, period_start: date) -> UUID:
    """The invoice of one billing period: its id is fixed by the period, so it is issued once."""
    return uuid5(NAMESPACE_URL, f"subledger:invoice:{subscription_id}:period:{period_start}")


class Invoices(Loading):
    """Issuing invoices and the use cases on them (mixed into ``Ledger``)."""

    def vat_rate(self, account: Account) -> Decimal:
        """The VAT the seller charges the account: its country's rate at home, none to a
        business elsewhere in the EU (reverse charge) or outside it, none under the
        franchise (domain/vat_treatment.py). A tax id that is no VAT number is ignored."""
        billing = account.billing
        buyer_vat = None
        if billing.tax_id and billing.country in EU_MEMBER_STATES:
            with contextlib.suppress(InvalidValue):
                buyer_vat = VatNumber.parse(billing.tax_id)
        return vat_treatment(
            self.seller.address.country,
            self.seller.vat_franchise,
            billing.country,
            buyer_vat is not None,
            tax_rate(billing.country),
        ).rate

    def _period_invoice(
        self, account: Account, sub: Subscription, period: DateRange, cause: Cause
    ) -> Invoice:
        """The invoice for one whole billing period; its id is fixed by the period (issued once).

        It bills the units in force on the period's first day that no invoice of their own
        charges for it (domain/invoicing.py)."""
        rate = self.vat_rate(account)
        quantities = sub.period_quantities(period)
        lines = [
            InvoiceLine.charge(
                f"{catalog.product(line.product_code).name}, {period.start} to {period.end}",
                line.product_code,
                quantities[line.line_id],
                line.unit_price,
                period,
                billed_share(period, sub.billing_period),
                rate,
            )
            for line in sub.lines.values()
            if line.line_id in quantities
        ]
        return self._issue(period_invoice_id(sub.id, period.start), account, sub, lines, cause)

    def _first_period_invoice(self, account: Account, sub: Subscription, cause: Cause) -> Invoice:
        """The invoice of a term's first period: issued when it is bought or renews."""
        first_period = billing_periods(sub.term, sub.billing_period)[0]
        return self._period_invoice(account, sub, first_period, cause)

    def _issue(
        self,
        invoice_id: UUID,
        account: Account,
        sub: Subscription,
        lines: list[InvoiceLine],
        cause: Cause,
    ) -> Invoice:
        number = self.numbering.number(SeriesKind.INVOICE, account.id, str(invoice_id), cause)
        return Invoice.issue(
            invoice_id,
            account.id,
            sub.id,
            number,
            account.currency,
            lines,
            due_on(cause.today),
            cause,
            buyer=account.billing,
            seller=self.seller,
            financial_year=self.retention.financial_year(cause.today),
        )

    def invoice_billing_period(
        self, ctx: CommandContext, subscription_id: UUID, period_start: date
    ) -> Receipt:
        """Issue the invoice of the billing period starting on ``period_start`` (idempotent)."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            account = self.account(sub.account_id)
            periods = {p.start: p for p in billing_periods(sub.term, sub.billing_period)}
            if period_start not in periods:
                raise InvalidValue(
                    f"no billing period of the current term starts on {period_start}"
                )
            sub.require_billable_from(period_start)
            if self._exists(period_invoice_id(subscription_id, period_start)):
                return []
            if period_start > cause.today:
                # Issued ahead, it could miss seats added before the period begins.
                raise PeriodNotBegun(str(period_start))
            return [self._period_invoice(account, sub, periods[period_start], cause)]

        return self.execute(ctx, work, period_invoice_id(subscription_id, period_start))

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(list(self.events.get(aggregate_id, lte=1)))

    def _prorated_invoice(
        self, account: Account, sub: Subscription, line: Line, cause: Cause
    ) -> Invoice:
        """The own invoice of the units just added to ``line``: from their first day to the
        end of its period, prorated, and any later period already begun (a backdated
        addition; domain/invoicing.py)."""
        added = sub.last_addition
        name = catalog.product(line.product_code).name
        rate = self.vat_rate(account)
        charges = [
            InvoiceLine.charge(
                f"{name}: {added.quantity} added, prorated {c.first_day} to {c.period.end}",
                line.product_code,
                added.quantity,
                line.unit_price,
                c.period,
                c.share,
                rate,
            )
            for c in sub.charged_apart(added)
        ]
        invoice_id = uuid5(NAMESPACE_URL, f"subledger:invoice:{sub.id}:change:{sub.version}")
        return self._issue(invoice_id, account, sub, charges, cause)

    def record_payment(
        self,
        ctx: CommandContext,
        invoice_id: UUID,
        amount: Money,
        method_reference: str | None = None,
        payment_id: str | None = None,
    ) -> Receipt:
        """Record money received against an invoice (from the account's payment method
        unless another recorded on the account is named)."""
        new_id = payment_id or uuid4().hex

        def work(cause: Cause) -> list[LedgerAggregate]:
            invoice = self.invoice(invoice_id)
            invoice.require_payable(amount)  # the invoice's refusals come first
            method = self.account(invoice.account_id).payment_method_for(method_reference)
            invoice.record_payment(new_id, amount, method, cause)
            return [invoice]

        return self.execute(ctx, work, invoice_id)

    def void_invoice(self, ctx: CommandContext, invoice_id: UUID) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            invoice = self.invoice(invoice_id)
            invoice.void(cause)
            return [invoice]

        return self.execute(ctx, work, invoice_id)

    def issue_credit_note(
        self,
        ctx: CommandContext,
        invoice_id: UUID,
        amount: Money,
        credit_note_id: str | None = None,
    ) -> Receipt:
        new_id = credit_note_id or uuid4().hex
        refund: list[Money] = []

        def work(cause: Cause) -> list[LedgerAggregate]:
            invoice = self.invoice(invoice_id)
            invoice.require_creditable(new_id, amount, cause)  # refusals come first
            number = self.numbering.number(
                SeriesKind.CREDIT_NOTE, invoice.account_id, new_id, cause
            )
            refund[:] = [invoice.issue_credit_note(new_id, amount, cause, number)]
            return [invoice]

        return self.execute(ctx, work, invoice_id, refund=lambda: refund[0] if refund else None)

    def mark_overdue(self, ctx: CommandContext, invoice_id: UUID) -> Receipt:
        """Mark an invoice still open after its due date overdue; once (a repeat, or an invoice
        settled in the meantime, writes nothing)."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            invoice = self.invoice(invoice_id)
            if invoice.status is not InvoiceStatus.OPEN or invoice.overdue_since is not None:
                return []
            invoice.mark_overdue(cause)
            return [invoice]

        return self.execute(ctx, work, invoice_id)
