"""Fourteen months of realistic history for two accounts, written with a test clock.

Northwind Traders (Essentials, USD, annual billing) buys Sales Cloud, grows mid-term,
pays one invoice late and one in two parts (with a credit note between them), renews
with more seats, then asks to upgrade and opens a support case that staff answer. Lumen
GmbH (Professional, EUR, a German business with a VAT number, monthly billing) pays every
month, one month less a credit note, has a support case answered and closed, cancels its
renewal and expires, then comes back on a monthly Sales Cloud contract.

The history ends at ``DEMO_END``, where ``subledger serve --demo`` starts its test clock
(ADR 0015): moving it forward runs the billing run, so the visitor sees Lumen's next
monthly invoices appear.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from uuid import NAMESPACE_URL, UUID, uuid5

from adapters.clock import ControllableClock
from domain.account import BillingDetails, Contact, ContactRole, User
from domain.catalog import Edition
from domain.money import Money
from domain.period import BillingPeriod, billing_periods
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import DemoAlreadyLoaded

DEMO_START = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
DEMO_END = datetime(2026, 11, 15, 17, 0, tzinfo=UTC)
NORTHWIND = uuid5(NAMESPACE_URL, "subledger:demo:northwind")
LUMEN = uuid5(NAMESPACE_URL, "subledger:demo:lumen")

STAFF = CommandContext("staff-olivia", "billing_staff")


@dataclass
class DemoSummary:
    accounts: dict[str, UUID] = field(default_factory=dict)
    subscriptions: dict[str, UUID] = field(default_factory=dict)
    invoices: list[UUID] = field(default_factory=list)
    events: int = 0

    def lines(self, ledger: Ledger) -> list[str]:
        out = [f"demo history written: {self.events} events"]
        for name, account_id in self.accounts.items():
            account = ledger.account(account_id)
            out.append(
                f"  account {name} ({account.edition.value}, {account.currency}): {account_id}"
            )
        for name, sub_id in self.subscriptions.items():
            sub = ledger.subscription(sub_id)
            out.append(
                f"  contract {name}: {sub.status.value}, term {sub.term.start} .. {sub.term.end}"
            )
        open_balance: dict[str, Money] = {}
        for invoice_id in self.invoices:
            inv = ledger.invoice(invoice_id)
            open_balance[inv.currency] = (
                open_balance.get(inv.currency, Money.zero(inv.currency)) + inv.balance
            )
        balances = ", ".join(str(m) for m in open_balance.values())
        out.append(f"  {len(self.invoices)} invoices, open balance {balances}")
        return out


Story = Iterator[datetime]  # yields when its next step happens


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


class Demo:
    def __init__(self, ledger: Ledger, clock: ControllableClock) -> None:
        self.ledger = ledger
        self.clock = clock
        self.summary = DemoSummary()

    def invoice_of(self, receipt_position: int | None) -> UUID:
        """The invoice the last command issued (read back from the log)."""
        assert receipt_position is not None
        (notification,) = self.ledger.recorder.select_notifications(receipt_position, 1)
        return UUID(str(notification.originator_id))

    def run(self) -> DemoSummary:
        if self.ledger._exists(NORTHWIND):
            raise DemoAlreadyLoaded(
                "the demo history is already in this store; use an empty store to load it again"
            )
        self._interleave([self.northwind(), self.lumen()])
        self.summary.events = self.ledger.head_position()
        return self.summary

    def _interleave(self, stories: list[Story]) -> None:
        """Run several accounts' stories in one timeline: recorded time only moves forward."""
        pending = [(next(story), n, story) for n, story in enumerate(stories)]
        while pending:
            pending.sort(key=lambda item: (item[0], item[1]))
            moment, n, story = pending.pop(0)
            self.clock.set(moment)
            with contextlib.suppress(StopIteration):
                pending.append((next(story), n, story))

    def northwind(self) -> Story:
        ledger, s = self.ledger, self.summary
        ada = CommandContext("ada", "admin")
        yield at(DEMO_START.date(), 9)
        ledger.open_account(
            STAFF,
            "Northwind Traders",
            Edition.ESSENTIALS,
            "USD",
            BillingDetails(
                "Northwind Traders Inc.",
                "12 Harbor Way",
                "Portland",
                "97209",
                "US",
                "billing@northwind.example",
                region="OR",
                tax_id="US-93-1234567",
            ),
            User("ada", "Ada Lovelace", "ada@northwind.example", administrator=True),
            account_id=NORTHWIND,
        )
        s.accounts["Northwind Traders"] = NORTHWIND
        ledger.set_payment_method(ada, NORTHWIND, "pm_card_visa")
        ledger.add_contact(
            ada,
            NORTHWIND,
            Contact(ContactRole.BILLING, "Bo Jensen", "bo@northwind.example"),
            "billing",
        )
        sub_id = uuid5(NAMESPACE_URL, "subledger:demo:northwind:sales")
        ledger.start_subscription(ada, NORTHWIND, {"sales-cloud": 5}, subscription_id=sub_id)
        s.subscriptions["Northwind Sales Cloud"] = sub_id
        first = self._period_invoice(sub_id, DEMO_START.date())

        yield at(date(2025, 9, 3))
        self._pay(ada, first)

        yield at(date(2025, 10, 15))
        ledger.add_user(ada, NORTHWIND, User("ben", "Ben Okafor", "ben@northwind.example"))
        ledger.add_user(ada, NORTHWIND, User("cara", "Cara Diaz", "cara@northwind.example"))
        ledger.assign_seat(ada, NORTHWIND, "sales-cloud", "ada")
        ledger.assign_seat(ada, NORTHWIND, "sales-cloud", "ben")
        ledger.assign_identity_license(ada, NORTHWIND, "cara")
        ledger.grant_manage_billing(ada, NORTHWIND, "cara")

        yield at(date(2025, 12, 10))
        added = self.invoice_of(ledger.add_licenses(ada, sub_id, "sales-cloud", 3).position)
        s.invoices.append(added)
        yield at(date(2026, 1, 20))  # due 9 January: paid late
        self._pay(ada, added)

        yield at(date(2026, 2, 1))
        storage = self.invoice_of(ledger.add_product(ada, sub_id, "data-storage", 2).position)
        s.invoices.append(storage)
        half = Money(self.ledger.invoice(storage).balance.amount / 2, "USD").rounded()
        yield at(date(2026, 2, 10))
        self._pay(ada, storage, half)
        yield at(date(2026, 2, 12))
        # a credit note (its own numbered document): the rest paid on the 25th is less
        outage = replace(STAFF, reason="Data Storage unavailable on 11 February")
        ledger.issue_credit_note(outage, storage, Money.of("25.00", "USD"))
        yield at(date(2026, 2, 25))
        self._pay(ada, storage)

        yield at(date(2026, 3, 2))
        ledger.change_contact(
            CommandContext("cara", "identity"),
            NORTHWIND,
            "billing",
            Contact(ContactRole.BILLING, "Cara Diaz", "cara@northwind.example"),
        )
        yield at(date(2026, 6, 1))
        ledger.schedule_renewal(ada, sub_id, 12, {"sales-cloud": 10, "data-storage": 2})

        yield at(date(2026, 9, 1), 2)
        ledger.renew(CommandContext("subledger-billing", "system"), sub_id)
        renewal = self._period_invoice(sub_id, date(2026, 9, 1))
        yield at(date(2026, 9, 5))
        self._pay(ada, renewal)

        yield at(date(2026, 10, 1))
        ledger.request_upgrade(ada, NORTHWIND, Edition.PROFESSIONAL, "We need forecasting.")
        case = ledger.open_support_case(
            ada, NORTHWIND, "Upgrade timing", "Can the upgrade start with our next invoice?"
        ).aggregate_id
        yield at(date(2026, 10, 2))
        ledger.reply_to_support_case(
            STAFF, case, "Yes: your account manager will prepare it for the next invoice."
        )

    def lumen(self) -> Story:
        ledger, s = self.ledger, self.summary
        jonas = CommandContext("jonas", "admin")
        start = date(2025, 10, 1)
        yield at(start, 9)
        ledger.open_account(
            STAFF,
            "Lumen GmbH",
            Edition.PROFESSIONAL,
            "EUR",
            BillingDetails(
                "Lumen GmbH",
                "Torstrasse 5",
                "Berlin",
                "10119",
                "DE",
                "rechnung@lumen.example",
                tax_id="DE123456789",
            ),
            User("jonas", "Jonas Weber", "jonas@lumen.example", administrator=True),
            account_id=LUMEN,
        )
        s.accounts["Lumen GmbH"] = LUMEN
        ledger.set_payment_method(jonas, LUMEN, "pm_card_mastercard")
        sub_id = uuid5(NAMESPACE_URL, "subledger:demo:lumen:service")
        ledger.start_subscription(
            jonas,
            LUMEN,
            {"service-cloud": 10, "inbox": 10},
            billing_period=BillingPeriod.MONTHLY,
            subscription_id=sub_id,
        )
        s.subscriptions["Lumen Service Cloud"] = sub_id
        billing = CommandContext("subledger-billing", "system")
        term = ledger.subscription(sub_id).term
        for period in billing_periods(term, BillingPeriod.MONTHLY):
            yield at(period.start, 9)
            invoice = self._period_invoice(sub_id, period.start, billing)
            if period.start == date(2026, 3, 1):
                # a credit note under the reverse charge, before the invoice is paid
                yield at(date(2026, 3, 4))
                goodwill = replace(STAFF, reason="Service Cloud outage on 2 March")
                ledger.issue_credit_note(goodwill, invoice, Money.of("40.00", "EUR"))
            yield at(date(period.start.year, period.start.month, 8))
            self._pay(jonas, invoice)
            if period.start == date(2026, 1, 1):
                yield from self.lumen_asks_about_vat(jonas)
            if period.start == date(2026, 4, 1):
                ledger.cancel_renewal(jonas, sub_id)
        yield at(term.end, 4)
        ledger.expire(billing, sub_id)

        # Back a month later, on a monthly Sales Cloud contract: what a test clock moved
        # forward from DEMO_END invoices next (see README, "Rehearsing billing").
        comeback = date(2026, 11, 1)
        yield at(comeback, 9)
        sales_id = uuid5(NAMESPACE_URL, "subledger:demo:lumen:sales")
        ledger.start_subscription(
            jonas,
            LUMEN,
            {"sales-cloud": 3},
            billing_period=BillingPeriod.MONTHLY,
            subscription_id=sales_id,
        )
        s.subscriptions["Lumen Sales Cloud"] = sales_id
        first = self._period_invoice(sales_id, comeback)
        yield at(date(2026, 11, 8))
        self._pay(jonas, first)

    def lumen_asks_about_vat(self, jonas: CommandContext) -> Story:
        case = self.ledger.open_support_case(
            jonas, LUMEN, "VAT number", "Please show our VAT number DE123456789 on invoices."
        ).aggregate_id
        yield at(date(2026, 1, 9))
        self.ledger.reply_to_support_case(STAFF, case, "Done: it is on every invoice from now.")
        yield at(date(2026, 1, 12))
        self.ledger.close_support_case(STAFF, case, "VAT number added to the billing details.")

    def _period_invoice(self, sub_id: UUID, start: date, ctx: CommandContext = STAFF) -> UUID:
        receipt = self.ledger.invoice_billing_period(ctx, sub_id, start)
        self.summary.invoices.append(receipt.aggregate_id)
        return receipt.aggregate_id

    def _pay(self, ctx: CommandContext, invoice_id: UUID, amount: Money | None = None) -> None:
        invoice = self.ledger.invoice(invoice_id)
        self.ledger.record_payment(ctx, invoice_id, amount or invoice.balance)


def load_demo(make_ledger: Callable[[ControllableClock], Ledger]) -> tuple[Ledger, DemoSummary]:
    clock = ControllableClock(DEMO_START)
    ledger = make_ledger(clock)
    return ledger, Demo(ledger, clock).run()
