"""A state machine that drives the real Ledger on a real store with random commands.

Each run gets a store of its own (a SQLite file, or a fresh PostgreSQL schema). After
every step every aggregate in the log is reloaded by a second Ledger instance, one that
never wrote anything, and the invariants of the book are checked on what was read:
seats assigned never above seats held, invoice balances between zero and the total,
totals equal to the sums of their lines, at most 100 identity licenses, and contracts
holding exactly their lines' seats while active. A command the ledger refuses must
write nothing; the rules also say which commands must be accepted.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain import catalog
from domain.account import Account, User
from domain.catalog import FREE_IDENTITY_LICENSES, Edition
from domain.errors import (
    AlreadyExists,
    DomainError,
    IdentityLicenseLimitReached,
    InvoiceNotOpen,
    PaymentExceedsBalance,
    PeriodNotBegun,
    SeatsExhausted,
)
from domain.invoice import Invoice, InvoiceStatus
from domain.license import License, license_id
from domain.money import Money, minor_unit
from domain.period import BillingPeriod, billing_periods
from domain.subscription import Subscription
from projections.billing_agenda import Contract, contracts_due
from service.ledger.application import Ledger, Receipt, period_invoice_id
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict
from service.ledger.read_models import own_read_models
from tests.builders import billing
from tests.conftest import T0, FreshSchema, require_postgres

ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff", reason="agreed with the customer")
STAFF_WITHOUT_REASON = CommandContext("staff-1", "billing_staff")
COUNTRY = {"USD": "US", "EUR": "DE", "GBP": "GB"}  # the catalog has no GBP prices
PRODUCT_CODES = [*catalog.PRODUCTS, "no-such-product"]
PER_SEAT = [code for code, p in catalog.PRODUCTS.items() if p.per_seat]
ON_CONTRACT = "a product already on the contract"
CREATED = {
    "AccountOpened": "accounts",
    "SubscriptionStarted": "subscriptions",
    "LicenseOpened": "licenses",
    "InvoiceIssued": "invoices",
}

picks = st.integers(min_value=0, max_value=1000)
quantities = st.sampled_from([1, 2, 3, 5, 0, -1])  # mostly valid; 0 drops a renewal line
users = st.integers(min_value=-1, max_value=100)  # -1: a user the account does not have
line_codes = st.just(ON_CONTRACT) | st.sampled_from(PRODUCT_CODES)  # half on the contract
wanted_lines = st.dictionaries(st.sampled_from(PRODUCT_CODES), quantities, min_size=1, max_size=3)
amount_kinds = st.sampled_from(["part", "all", "over", "units"])


def pick(items: list[Any], index: int) -> Any:
    return items[index % len(items)]


@dataclass
class Store:
    """An empty store for one state-machine run, and how to get rid of it."""

    settings: StoreSettings
    drop: Callable[[], None]


@dataclass
class Book:
    """Every aggregate in the log, in the order it was created, as reloaded from the store."""

    accounts: dict[UUID, Account] = field(default_factory=dict)
    subscriptions: dict[UUID, Subscription] = field(default_factory=dict)
    licenses: dict[UUID, License] = field(default_factory=dict)
    invoices: dict[UUID, Invoice] = field(default_factory=dict)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.clock = ControllableClock(T0)
        env = store.settings.eventsourcing_env()
        self.ledger = Ledger(env=env, clock=self.clock, payment_provider=FakePaymentProvider())
        self.reader = Ledger(
            env=env, clock=self.clock, payment_provider=FakePaymentProvider()
        )  # reloads; never writes
        self.ids = itertools.count(1)
        self.created: dict[str, list[UUID]] = {kind: [] for kind in CREATED.values()}
        self.scanned = 0
        self.book = Book()
        self.filled_identity_licenses = False

    def teardown(self) -> None:
        self.ledger.close()
        self.reader.close()
        self.store.drop()

    # -- plumbing ---------------------------------------------------------------------

    def _do(self, command: Callable[..., Receipt], *args: Any) -> Receipt | None:
        """Run a command; a refusal is fine but must leave the log exactly as it was."""
        before = self.ledger.head_position()
        try:
            receipt = command(*args)
        except ConcurrencyConflict:
            raise  # there is one writer: a conflict would be a bug
        except DomainError as refusal:
            assert self.ledger.head_position() == before, "a refused command wrote events"
            event(f"{command.__name__} refused: {type(refusal).__name__}")
            return None
        after = self.ledger.head_position()
        assert receipt.position == (after if after > before else None)
        self._discover()
        event(f"{command.__name__} accepted")
        return receipt

    def _refused(
        self, error: type[DomainError], command: Callable[..., Receipt], *args: Any
    ) -> None:
        before = self.ledger.head_position()
        with pytest.raises(error):
            command(*args)
        assert self.ledger.head_position() == before, "a refused command wrote events"

    def _discover(self) -> None:
        """Learn from the log every aggregate created since the last look."""
        for n in self.ledger.recorder.select_notifications(self.scanned + 1, 1000):
            kind = CREATED.get(n.topic.rpartition(".")[2])
            if kind is not None and n.originator_version == 1:
                self.created[kind].append(UUID(str(n.originator_id)))
            self.scanned = n.id

    def _reload(self) -> Book:
        get = self.reader.repository.get
        return Book(**{kind: {i: get(i) for i in ids} for kind, ids in self.created.items()})

    @property
    def accounts(self) -> list[UUID]:
        return list(self.book.accounts)

    @property
    def subscriptions(self) -> list[UUID]:
        return list(self.book.subscriptions)

    @property
    def invoices(self) -> list[UUID]:
        return list(self.book.invoices)

    def _user(self, account: Account, index: int, among: list[str] | None = None) -> str:
        """A user of the account (from ``among`` when it is not empty), or one it lacks."""
        if index < 0:
            return "ghost"
        return pick(among or list(account.users), index)

    def _new_user(self) -> User:
        n = next(self.ids)
        return User(f"u{n}", f"User {n}", f"u{n}@acme.example")

    # -- accounts and users -----------------------------------------------------------

    def _open_account(self, edition: Edition, currency: str) -> UUID:
        account_id = uuid5(NAMESPACE_URL, f"account-{next(self.ids)}")
        admin = User("ada", "Ada Admin", "ada@acme.example", administrator=True)
        details = billing(COUNTRY[currency])
        opened = self._do(
            self.ledger.open_account, ADMIN, "Acme", edition, currency, details, admin, account_id
        )
        assert opened is not None
        return account_id

    @initialize(
        edition=st.sampled_from(Edition),
        currency=st.sampled_from(["USD", "EUR"]),
        seats=st.integers(min_value=1, max_value=4),
        more_users=st.integers(min_value=0, max_value=4),
        term_months=st.sampled_from([1, 3, 12]),
        period=st.sampled_from(BillingPeriod),
    )
    def a_customer_with_a_contract(
        self,
        edition: Edition,
        currency: str,
        seats: int,
        more_users: int,
        term_months: int,
        period: BillingPeriod,
    ) -> None:
        """Every run starts from a paying customer, so that most steps have work to do."""
        account_id = self._open_account(edition, currency)
        assert self._do(self.ledger.set_payment_method, ADMIN, account_id, "pm_card_visa")
        for _ in range(more_users):
            assert self._do(self.ledger.add_user, ADMIN, account_id, self._new_user())
        lines = {"sales-cloud": seats}
        assert self._do(
            self.ledger.start_subscription, ADMIN, account_id, lines, term_months, period
        )

    @precondition(lambda self: len(self.accounts) < 3)
    @rule(edition=st.sampled_from(Edition), currency=st.sampled_from(sorted(COUNTRY)))
    def open_account(self, edition: Edition, currency: str) -> None:
        self._open_account(edition, currency)

    @precondition(lambda self: self.accounts)
    @rule(account=picks, same_email=st.booleans())
    def add_user(self, account: int, same_email: bool) -> None:
        account_id = pick(self.accounts, account)
        user = self._new_user()
        if same_email:  # as the administrator's: refused
            twin = User(user.user_id, user.name, "ada@acme.example")
            self._refused(AlreadyExists, self.ledger.add_user, ADMIN, account_id, twin)
        else:
            assert self._do(self.ledger.add_user, ADMIN, account_id, user)

    @precondition(lambda self: self.accounts)
    @rule(account=picks, token=st.booleans())
    def set_payment_method(self, account: int, token: bool) -> None:
        reference = "pm_card_visa" if token else "4242 4242 4242 4242"  # a card number
        receipt = self._do(
            self.ledger.set_payment_method, ADMIN, pick(self.accounts, account), reference
        )
        assert (receipt is not None) == token

    @precondition(lambda self: self.accounts)
    @rule(account=picks, user=users)
    def assign_identity_license(self, account: int, user: int) -> None:
        account_id = pick(self.accounts, account)
        before = self.book.accounts[account_id]
        user_id = self._user(before, user)
        receipt = self._do(self.ledger.assign_identity_license, ADMIN, account_id, user_id)
        fits = len(before.identity_licenses) < FREE_IDENTITY_LICENSES
        new = user_id in before.users and user_id not in before.identity_licenses
        assert (receipt is not None) == (new and fits)

    @precondition(lambda self: self.accounts)
    @rule(account=picks, user=users)
    def release_identity_license(self, account: int, user: int) -> None:
        account_id = pick(self.accounts, account)
        before = self.book.accounts[account_id]
        user_id = self._user(before, user, among=before.identity_licenses)
        receipt = self._do(self.ledger.release_identity_license, ADMIN, account_id, user_id)
        assert (receipt is not None) == (user_id in before.identity_licenses)

    @precondition(lambda self: self.accounts and not self.filled_identity_licenses)
    @rule(account=picks)
    def fill_identity_licenses_to_the_limit(self, account: int) -> None:
        """The 100-free rule needs 101 users, so one rule goes all the way, once a run."""
        self.filled_identity_licenses = True
        account_id = pick(self.accounts, account)
        # Straight to the ledger: each of these must be accepted (an exception fails the test).
        for _ in range(FREE_IDENTITY_LICENSES + 1 - len(self.book.accounts[account_id].users)):
            self.ledger.add_user(ADMIN, account_id, self._new_user())
        owner = self.reader.account(account_id)
        without = [u for u in owner.users if u not in owner.identity_licenses]
        for user_id in without[: FREE_IDENTITY_LICENSES - len(owner.identity_licenses)]:
            self.ledger.assign_identity_license(ADMIN, account_id, user_id)
        assert len(self.reader.account(account_id).identity_licenses) == FREE_IDENTITY_LICENSES
        event("identity licenses filled to the limit")
        self._refused(
            IdentityLicenseLimitReached,
            self.ledger.assign_identity_license,
            ADMIN,
            account_id,
            without[-1],
        )

    # -- contracts --------------------------------------------------------------------

    @precondition(lambda self: self.accounts and len(self.subscriptions) < 6)
    @rule(
        account=picks,
        wanted=wanted_lines,
        term_months=st.sampled_from([1, 3, 12]),
        period=st.sampled_from(BillingPeriod),
        auto_renew=st.booleans(),
    )
    def start_subscription(
        self,
        account: int,
        wanted: dict[str, int],
        term_months: int,
        period: BillingPeriod,
        auto_renew: bool,
    ) -> None:
        account_id = pick(self.accounts, account)
        sub_id = uuid5(NAMESPACE_URL, f"subscription-{next(self.ids)}")
        today = self.clock.now().date()
        receipt = self._do(
            self.ledger.start_subscription,
            ADMIN,
            account_id,
            wanted,
            term_months,
            period,
            None,
            auto_renew,
            sub_id,
        )
        if receipt is not None:
            sub = self.reader.subscription(sub_id)
            assert sub.term.start == today
            assert (sub.renewal is not None) == auto_renew

    def _code_on(self, sub: Subscription, code: str, index: int) -> str:
        if code == ON_CONTRACT:
            return pick([line.product_code for line in sub.lines.values()], index)
        return code

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks, code=line_codes, quantity=quantities)
    def add_licenses(self, sub: int, code: str, quantity: int) -> None:
        sub_id = pick(self.subscriptions, sub)
        before = self.book.subscriptions[sub_id]
        code = self._code_on(before, code, sub)
        receipt = self._do(self.ledger.add_licenses, ADMIN, sub_id, code, quantity)
        if receipt is None:
            return
        self._check_prorated_invoice(sub_id, code, quantity)
        after = self.reader.subscription(sub_id)
        line_before = before.line_for(code)
        assert line_before is not None
        assert after.line_for(code).quantity == line_before.quantity + quantity  # type: ignore[union-attr]
        if before.renewal is not None:
            # Seats added mid-term carry into the renewal, unless the product was dropped from it.
            assert after.renewal is not None
            renewed = {ln.product_code: ln.quantity for ln in before.renewal.lines}
            renewing = {ln.product_code: ln.quantity for ln in after.renewal.lines}
            if code in renewed:
                renewed[code] += quantity
            assert renewing == renewed

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks, code=st.sampled_from(PRODUCT_CODES), quantity=quantities)
    def add_product(self, sub: int, code: str, quantity: int) -> None:
        sub_id = pick(self.subscriptions, sub)
        if self._do(self.ledger.add_product, ADMIN, sub_id, code, quantity) is not None:
            self._check_prorated_invoice(sub_id, code, quantity)

    def _check_prorated_invoice(self, sub_id: UUID, code: str, quantity: int) -> None:
        """Seats added mid-term are invoiced at once, for no more than a whole period."""
        invoice = self.reader.invoice(self.created["invoices"][-1])
        (line,) = invoice.lines
        assert invoice.subscription_id == sub_id
        assert (line.product_code, line.quantity) == (code, quantity)
        assert line.period_start <= self.clock.now().date() < line.period_end
        assert Money.zero(invoice.currency) < line.amount <= line.unit_price.times(quantity)

    @precondition(lambda self: self.subscriptions)
    @rule(
        sub=picks,
        term_months=st.sampled_from([12, 1, 0]),
        wanted=st.none() | wanted_lines,
    )
    def schedule_renewal(self, sub: int, term_months: int, wanted: dict[str, int] | None) -> None:
        sub_id = pick(self.subscriptions, sub)
        self._do(self.ledger.schedule_renewal, ADMIN, sub_id, term_months, wanted)

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks)
    def cancel_renewal(self, sub: int) -> None:
        sub_id = pick(self.subscriptions, sub)
        before = self.book.subscriptions[sub_id]
        receipt = self._do(self.ledger.cancel_renewal, ADMIN, sub_id)
        assert (receipt is not None) == (before.is_active and before.renewal is not None)

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks, with_reason=st.booleans())
    def cancel_subscription(self, sub: int, with_reason: bool) -> None:
        """Staff end a contract today, with a reason; its seats leave the pool."""
        sub_id = pick(self.subscriptions, sub)
        before = self.book.subscriptions[sub_id]
        ctx = STAFF if with_reason else STAFF_WITHOUT_REASON
        receipt = self._do(self.ledger.cancel_subscription, ctx, sub_id)
        in_term = self.clock.now().date() in before.term
        assert (receipt is not None) == (with_reason and before.is_active and in_term)

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks)
    def renew_or_expire_one(self, sub: int) -> None:
        """Asked whether or not it is due: an early request is refused."""
        sub_id = pick(self.subscriptions, sub)
        before = self.book.subscriptions[sub_id]
        due = before.is_active and self.clock.now().date() >= before.term.end
        if before.renewal is not None:
            receipt = self._do(self.ledger.renew, ADMIN, sub_id)
        else:
            receipt = self._do(self.ledger.expire, ADMIN, sub_id)
        assert (receipt is not None) == due
        if receipt is not None and before.renewal is not None:
            after = self.reader.subscription(sub_id)
            assert after.term.start == before.term.end
            assert sorted(after.lines.values(), key=str) == sorted(before.renewal.lines, key=str)

    @precondition(lambda self: self.subscriptions)
    @rule()
    def run_due_renewals(self) -> None:
        """What the nightly worker does: every due contract renews or expires."""
        today = self.clock.now().date()
        for sub_id in self.subscriptions:
            sub = self.reader.subscription(sub_id)
            while sub.is_active and sub.term.end <= today:
                command = self.ledger.renew if sub.renewal is not None else self.ledger.expire
                assert self._do(command, ADMIN, sub_id) is not None
                sub = self.reader.subscription(sub_id)

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks, period=picks)
    def invoice_a_billing_period(self, sub: int, period: int) -> None:
        """Issue a period's invoice; asking again for the same period writes nothing."""
        sub_id = pick(self.subscriptions, sub)
        current = self.book.subscriptions[sub_id]
        start = pick(billing_periods(current.term, current.billing_period), period).start
        if not current.is_active and current.ended_on and start >= current.ended_on:
            # Nothing is owed for a period from the day the contract ended: refused, or
            # at most an answer that it was invoiced already (the term's first period).
            head = self.ledger.head_position()
            self._do(self.ledger.invoice_billing_period, ADMIN, sub_id, start)
            assert self.ledger.head_position() == head, "a period after the end was invoiced"
            return
        issued = self.ledger._exists(period_invoice_id(sub_id, start))
        if start > self.clock.now().date() and not issued:
            # A period is invoiced once it has begun, never ahead.
            self._refused(PeriodNotBegun, self.ledger.invoice_billing_period, ADMIN, sub_id, start)
            return
        assert self._do(self.ledger.invoice_billing_period, ADMIN, sub_id, start)
        before = self.ledger.head_position()
        again = self._do(self.ledger.invoice_billing_period, ADMIN, sub_id, start)
        assert again is not None and again.position is None
        assert self.ledger.head_position() == before

    @rule(
        days=st.integers(min_value=0, max_value=40) | st.sampled_from([91, 182, 365]),
        hours=st.integers(min_value=0, max_value=23),
    )
    def advance_clock(self, days: int, hours: int) -> None:
        self.clock.advance(timedelta(days=days, hours=hours))

    @precondition(lambda self: self.subscriptions)
    @rule(sub=picks)
    def advance_clock_to_a_term_end(self, sub: int) -> None:
        """Renewals fall due only at a term's end; go straight there."""
        term_end = self.book.subscriptions[pick(self.subscriptions, sub)].term.end
        moment = datetime.combine(term_end, T0.timetz())
        if moment > self.clock.now():
            self.clock.set(moment)

    # -- seats ------------------------------------------------------------------------

    @precondition(lambda self: self.book.licenses)
    @rule(lic=picks, user=users)
    def assign_seat(self, lic: int, user: int) -> None:
        before = pick(list(self.book.licenses.values()), lic)
        owner = self.book.accounts[before.account_id]
        user_id = self._user(owner, user)
        args = (ADMIN, before.account_id, before.product_code, user_id)
        receipt = self._do(self.ledger.assign_seat, *args)
        eligible = user_id in owner.users and user_id not in before.assigned
        if eligible and before.available <= 0:
            self._refused(SeatsExhausted, self.ledger.assign_seat, *args)
        assert (receipt is not None) == (eligible and before.available > 0)

    @precondition(lambda self: self.book.licenses)
    @rule(lic=picks, user=users)
    def unassign_seat(self, lic: int, user: int) -> None:
        before = pick(list(self.book.licenses.values()), lic)
        user_id = self._user(self.book.accounts[before.account_id], user, among=before.assigned)
        args = (ADMIN, before.account_id, before.product_code, user_id)
        receipt = self._do(self.ledger.unassign_seat, *args)
        assert (receipt is not None) == (user_id in before.assigned)

    # -- invoices ---------------------------------------------------------------------

    def _invoice(self, index: int, open_only: bool) -> Invoice:
        candidates = list(self.book.invoices.values())
        if open_only:
            candidates = [i for i in candidates if i.status is InvoiceStatus.OPEN] or candidates
        return pick(candidates, index)

    @precondition(lambda self: self.invoices)
    @rule(
        invoice=picks,
        open_only=st.booleans(),
        kind=amount_kinds,
        size=st.integers(min_value=1, max_value=10**6),
        named_method=st.booleans(),
    )
    def record_payment(
        self, invoice: int, open_only: bool, kind: str, size: int, named_method: bool
    ) -> None:
        before = self._invoice(invoice, open_only)
        amount = _amount(before, kind, size)
        method = "pm_card_visa" if named_method else None  # the only one accounts record
        receipt = self._do(self.ledger.record_payment, ADMIN, before.id, amount, method)
        if before.status is not InvoiceStatus.OPEN:
            assert receipt is None
            self._refused(
                InvoiceNotOpen, self.ledger.record_payment, ADMIN, before.id, amount, "pm"
            )
        elif amount > before.balance:
            assert receipt is None
            self._refused(
                PaymentExceedsBalance, self.ledger.record_payment, ADMIN, before.id, amount, "pm"
            )
        elif receipt is not None:
            after = self.reader.invoice(before.id)
            assert after.balance == before.balance - amount
            assert (after.status is InvoiceStatus.PAID) == after.balance.is_zero
        else:  # refused only for want of a payment method recorded on the account
            assert self.book.accounts[before.account_id].payment_method is None

    @precondition(lambda self: self.invoices)
    @rule(invoice=picks, open_only=st.booleans(), with_reason=st.booleans())
    def void_invoice(self, invoice: int, open_only: bool, with_reason: bool) -> None:
        before = self._invoice(invoice, open_only)
        ctx = STAFF if with_reason else STAFF_WITHOUT_REASON
        receipt = self._do(self.ledger.void_invoice, ctx, before.id)
        voidable = before.status is InvoiceStatus.OPEN and before.paid.is_zero
        assert (receipt is not None) == (with_reason and voidable)

    @precondition(lambda self: self.invoices)
    @rule(
        invoice=picks,
        kind=amount_kinds,
        size=st.integers(min_value=1, max_value=10**6),
    )
    def issue_credit_note(self, invoice: int, kind: str, size: int) -> None:
        before = self._invoice(invoice, open_only=False)
        amount = _amount(before, kind, size)
        receipt = self._do(self.ledger.issue_credit_note, STAFF, before.id, amount)
        allowed = (
            before.status is not InvoiceStatus.VOID
            and amount.is_positive
            and amount <= before.total - before.credited
        )
        assert (receipt is not None) == allowed
        if receipt is not None:  # the credit first clears the balance, then refunds
            refund = amount - before.balance if amount > before.balance else None
            assert receipt.refund == (refund or Money.zero(before.currency))

    # -- invariants, on everything reloaded from the store ----------------------------

    @invariant()
    def the_book_holds_together(self) -> None:
        self.book = book = self._reload()
        for account in book.accounts.values():
            _check_account(account)
        for lic in book.licenses.values():
            _check_license(lic, book)
        for sub_id, sub in book.subscriptions.items():
            _check_subscription(sub_id, sub, book)
        for invoice in book.invoices.values():
            _check_invoice(invoice, book)
            paid_events = [
                e for e in self.reader.events.get(invoice.id) if isinstance(e, Invoice.InvoicePaid)
            ]
            assert len(paid_events) == (1 if invoice.status is InvoiceStatus.PAID else 0)
        _check_billing_agenda(self.ledger, book)


def _check_billing_agenda(ledger: Ledger, book: Book) -> None:
    """The billing agenda, caught up to the head by following the log (invoices issued out
    of order, voided or credited, renewals), holds each active contract as the book does:
    its first period with no period invoice; the periods it keeps as invoiced ahead of
    that are issued and later."""
    with own_read_models(ledger).agenda.reading() as sql:
        rows = {c.subscription_id: c for c in contracts_due(sql, date.max, 0)}
    expected = {}
    for sub_id, sub in book.subscriptions.items():
        if not sub.is_active:
            continue
        starts = [p.start for p in billing_periods(sub.term, sub.billing_period)]
        issued = {s for s in starts if period_invoice_id(sub_id, s) in book.invoices}
        invoice_on = next((s for s in starts if s not in issued), None)
        expected[sub_id] = Contract(
            sub_id,
            sub.term.start,
            sub.term.end,
            sub.billing_period,
            sub.reminded_for,
            sub.renewal is not None,
            invoice_on,
        )
        ahead = rows[sub_id].ahead if sub_id in rows else ()
        assert set(ahead) <= issued, f"{sub_id}: {ahead} kept as issued, {issued} are"
        assert invoice_on is None or all(d > invoice_on for d in ahead)
        if ahead:
            event("the billing agenda keeps a period invoiced ahead")
    assert rows == expected


def _amount(invoice: Invoice, kind: str, size: int) -> Money:
    """An amount relative to the invoice's balance: part of it, all, more, or any."""
    unit = minor_unit(invoice.currency)
    balance = int(Fraction(invoice.balance.amount) / Fraction(unit))
    chosen = {
        "part": max(1, balance * size // 10**6),
        "all": balance,
        "over": balance + size,
        "units": size,
    }[kind]
    return Money(chosen * unit, invoice.currency)


def _check_account(account: Account) -> None:
    assert len(account.identity_licenses) <= FREE_IDENTITY_LICENSES
    assert len(set(account.identity_licenses)) == len(account.identity_licenses)
    assert set(account.identity_licenses) <= set(account.users)
    admins = {u for u, user in account.users.items() if user.administrator}
    assert admins <= set(account.manage_billing) <= set(account.users)


def _check_license(lic: License, book: Book) -> None:
    assert len(lic.assigned) <= lic.held, f"{lic.product_code}: {lic.assigned} > {lic.held}"
    assert len(set(lic.assigned)) == len(lic.assigned)
    assert set(lic.assigned) <= set(book.accounts[lic.account_id].users)
    for key, held in lic.held_by_contract.items():
        sub = book.subscriptions[UUID(key)]
        assert held > 0
        assert sub.account_id == lic.account_id
        assert sub.is_active, f"{sub.status.value} contract {key} still holds {held} seats"


def _check_subscription(sub_id: UUID, sub: Subscription, book: Book) -> None:
    assert sub.term.start < sub.term.end
    invoiced_from = {
        line.period_start
        for invoice in book.invoices.values()
        if invoice.subscription_id == sub_id
        for line in invoice.lines
    }
    assert sub.term.start in invoiced_from, "the current term's first period was not invoiced"
    _check_billed_once(sub_id, sub, book)
    if not sub.is_active:
        return
    for line in sub.lines.values():
        if catalog.product(line.product_code).per_seat:
            lic = book.licenses[license_id(sub.account_id, line.product_code)]
            held = lic.held_by_contract.get(str(sub_id))
            assert held == line.quantity, f"{line.product_code}: line {line.quantity}, held {held}"


def _check_billed_once(sub_id: UUID, sub: Subscription, book: Book) -> None:
    """No period of the term bills a product for more units than it holds by the period's
    end: the period invoice and an addition's own invoice never both bill the same units."""
    for period in billing_periods(sub.term, sub.billing_period):
        for line in sub.lines.values():
            billed = sum(
                invoice_line.quantity
                for invoice in book.invoices.values()
                if invoice.subscription_id == sub_id
                for invoice_line in invoice.lines
                if invoice_line.period_start == period.start
                and invoice_line.product_code == line.product_code
            )
            held = sum(
                t.quantity
                for t in sub.tranches
                if t.line_id == line.line_id and t.starts_on < period.end
            )
            assert billed <= held, f"{period}: {line.product_code} billed {billed} of {held}"


def _check_invoice(invoice: Invoice, book: Book) -> None:
    zero = Money.zero(invoice.currency)
    assert invoice.currency == book.accounts[invoice.account_id].currency
    amounts = sum((line.amount.amount for line in invoice.lines), Decimal(0))
    taxes = sum((line.tax.amount for line in invoice.lines), Decimal(0))
    assert invoice.total.amount == amounts + taxes
    for line in invoice.lines:
        assert zero <= line.amount <= line.unit_price.times(line.quantity)
        assert line.amount == line.amount.rounded() and line.tax == line.tax.rounded()
    assert zero <= invoice.balance
    assert zero <= invoice.paid <= invoice.total
    assert invoice.credited == sum(invoice.credit_notes.values(), zero) <= invoice.total
    if invoice.status is InvoiceStatus.VOID:
        assert invoice.balance == invoice.paid == zero
        return
    assert invoice.balance == invoice.total - invoice.credited - invoice.paid
    assert (invoice.status is InvoiceStatus.PAID) == invoice.balance.is_zero
    assert (invoice.paid_on is not None) == (invoice.status is InvoiceStatus.PAID)


# -- one test per store, a fresh store for every run ------------------------------------


def bounded(max_examples: int, steps: int) -> settings:
    """The loaded profile, capped so that a run stays short on two cores."""
    return settings(
        settings.default,
        max_examples=min(settings.default.max_examples, max_examples),
        stateful_step_count=steps,
        deadline=None,
    )


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"\n{label}: {time.perf_counter() - started:.1f} s")


def test_ledger_state_machine_on_sqlite(tmp_path: Path) -> None:
    runs = itertools.count()

    def machine() -> LedgerMachine:
        folder = tmp_path / f"run-{next(runs)}"
        folder.mkdir()
        store = StoreSettings(sqlite_path=str(folder / "ledger.db"))
        return LedgerMachine(Store(store, lambda: shutil.rmtree(folder)))

    with timed("state machine on SQLite"):
        run_state_machine_as_test(machine, settings=bounded(max_examples=40, steps=25))


@pytest.mark.postgres
def test_ledger_state_machine_on_postgres() -> None:
    require_postgres()

    def machine() -> LedgerMachine:
        schema = FreshSchema()
        schema.settings.prepare()
        return LedgerMachine(Store(schema.settings, schema.drop))

    with timed("state machine on PostgreSQL"):
        run_state_machine_as_test(machine, settings=bounded(max_examples=25, steps=25))
