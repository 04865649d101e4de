"""The Subscription: a contract with a term, a billing period and priced lines.

A line keeps the unit price it was sold at (per billing period). The renewal plan is
explicit: auto-renewing contracts carry a scheduled renewal (term length, lines with
quantities and prices) that the customer can change or cancel until the term ends.
Seats added mid-term are carried into the scheduled renewal as well. The contract keeps
the tranches its units came in (the term's lines, each addition from its effective day),
from which domain/invoicing.py tells which invoice bills which days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate
from domain.catalog import product
from domain.cause import Cause
from domain.errors import (
    AlreadyExists,
    AlreadyInThatState,
    ContractNotActive,
    CurrencyMismatch,
    DateOutsideTerm,
    InvalidValue,
    NotFound,
    QuantityNotPositive,
    RenewalRule,
)
from domain.invoicing import Charge, Tranche, charged_apart, period_quantities
from domain.money import Money
from domain.period import BillingPeriod, DateRange, term_of


class SubscriptionStatus(Enum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


def positive(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise QuantityNotPositive(quantity)
    return quantity


@dataclass(frozen=True)
class Line:
    """One product or add-on on a contract: how many units, at what price per period."""

    line_id: str
    product_code: str
    quantity: int
    unit_price: Money

    def __post_init__(self) -> None:
        positive(self.quantity)
        if self.unit_price.amount < 0:
            raise InvalidValue("a unit price cannot be negative")

    @property
    def amount(self) -> Money:
        return self.unit_price.times(self.quantity)


class Subscription(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        public: ClassVar[bool] = True  # its events are published (domain/base.py)

    class SubscriptionStarted(LedgerAggregate.Created):
        account_id: UUID
        currency: str
        billing_period: BillingPeriod
        term_start: date
        term_end: date
        lines: tuple[Line, ...]

    class LineQuantityIncreased(LedgerAggregate.Event):
        line_id: str
        added: int
        effective_at: date

        def apply(self, sub: Subscription) -> None:
            line = sub.lines[self.line_id]
            sub.lines[self.line_id] = replace(line, quantity=line.quantity + self.added)
            sub.tranches.append(
                Tranche(self.line_id, self.added, self.effective_at, _recorded_day(self))
            )
            if sub.renewal is not None:
                sub.renewal = sub.renewal.grown(line, self.added)

    class ProductAdded(LedgerAggregate.Event):
        line: Line
        effective_at: date

        def apply(self, sub: Subscription) -> None:
            sub.lines[self.line.line_id] = self.line
            sub.tranches.append(
                Tranche(
                    self.line.line_id, self.line.quantity, self.effective_at, _recorded_day(self)
                )
            )
            if sub.renewal is not None:
                sub.renewal = sub.renewal.with_product(self.line)

    class RenewalScheduled(LedgerAggregate.Event):
        term_months: int
        lines: tuple[Line, ...]
        effective_at: date  # the first day of the new term

        def apply(self, sub: Subscription) -> None:
            sub.renewal = Renewal(self.term_months, tuple(self.lines))

    class RenewalChanged(RenewalScheduled):
        pass

    class RenewalCancelled(LedgerAggregate.Event):
        effective_at: date  # the day the contract now ends

        def apply(self, sub: Subscription) -> None:
            sub.renewal = None

    class SubscriptionRenewed(LedgerAggregate.Event):
        term_start: date
        term_end: date
        lines: tuple[Line, ...]

        def apply(self, sub: Subscription) -> None:
            sub.term = DateRange(self.term_start, self.term_end)
            sub.lines = {line.line_id: line for line in self.lines}
            sub.tranches = _term_tranches(self.lines, self.term_start)
            sub.renewal = None
            sub.terms_served += 1

    class RenewalReminderSent(LedgerAggregate.Event):
        term_end: date  # the end of the term the customer is reminded of
        renews: bool  # a renewal is scheduled (else the contract ends on term_end)

        def apply(self, sub: Subscription) -> None:
            sub.reminded_for = self.term_end

    class SubscriptionCancelled(LedgerAggregate.Event):
        effective_at: date

        def apply(self, sub: Subscription) -> None:
            sub.status = SubscriptionStatus.CANCELLED
            sub.renewal = None
            sub.ended_on = self.effective_at

    class SubscriptionExpired(LedgerAggregate.Event):
        effective_at: date

        def apply(self, sub: Subscription) -> None:
            sub.status = SubscriptionStatus.EXPIRED
            sub.ended_on = self.effective_at

    # Snapshots taken before reminders existed lack the attribute: no term was reminded of.
    reminded_for: date | None = None
    # v2 keeps the tranches; a v1 snapshot is upcast (upcast_v1_v2).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot from before tranches knows each line's quantity, not when its units
        began: they are taken as in force from the term's start, as period invoices then
        billed them (events after the snapshot add their tranches exactly)."""
        state["tranches"] = _term_tranches(state["lines"].values(), state["term"].start)

    def __init__(
        self,
        account_id: UUID,
        currency: str,
        billing_period: BillingPeriod,
        term_start: date,
        term_end: date,
        lines: tuple[Line, ...],
    ) -> None:
        self.account_id = account_id
        self.currency = currency
        self.billing_period = billing_period
        self.term = DateRange(term_start, term_end)
        self.lines: dict[str, Line] = {line.line_id: line for line in lines}
        self.tranches: list[Tranche] = _term_tranches(lines, term_start)
        self.renewal: Renewal | None = None
        self.status = SubscriptionStatus.ACTIVE
        self.ended_on: date | None = None
        self.terms_served = 1
        self.reminded_for = None

    @classmethod
    def start(
        cls,
        subscription_id: UUID,
        account_id: UUID,
        currency: str,
        billing_period: BillingPeriod,
        term_start: date,
        term_months: int,
        lines: list[Line],
        cause: Cause,
    ) -> Subscription:
        term = term_of(term_start, term_months)
        if not lines:
            raise InvalidValue("a contract needs at least one line")
        _check_lines(lines, currency)
        cls._require_reason_if_backdated(term.start, cause)
        return cls._begin(
            cls.SubscriptionStarted,
            subscription_id,
            cause,
            account_id=account_id,
            currency=currency,
            billing_period=billing_period,
            term_start=term.start,
            term_end=term.end,
            lines=tuple(lines),
        )

    @property
    def is_active(self) -> bool:
        return self.status is SubscriptionStatus.ACTIVE

    def _require_active(self, action: str) -> None:
        if not self.is_active:
            raise ContractNotActive(self.status.value, action)

    def _require_in_term(self, day: date) -> None:
        if day not in self.term:
            raise DateOutsideTerm(
                f"{day} is outside the current term {self.term.start} .. {self.term.end}"
            )

    @staticmethod
    def _require_reason_if_backdated(effective: date, cause: Cause) -> None:
        """A change effective before the day it is recorded is a correction: it needs a reason."""
        if effective < cause.today:
            cause.require_reason("a backdated change")

    def line(self, line_id: str) -> Line:
        try:
            return self.lines[line_id]
        except KeyError:
            raise NotFound(f"no line {line_id} on this contract") from None

    def line_for(self, product_code: str) -> Line | None:
        return next((ln for ln in self.lines.values() if ln.product_code == product_code), None)

    @property
    def product_quantities(self) -> dict[str, int]:
        """Units per product on the contract now (its seats follow them)."""
        return {line.product_code: line.quantity for line in self.lines.values()}

    def seat_moves(
        self, before: Mapping[str, int], after: Mapping[str, int], today: date
    ) -> tuple[date, dict[str, int]]:
        """How the seats of each per-seat product move when a renewal, expiry or cancellation
        takes the contract's quantities from ``before`` to ``after``: by the difference
        (positive adds, negative removes), from the new term's first day while the contract
        goes on, else from the day it ended."""
        on = self.term.start if self.is_active else (self.ended_on or today)
        moves = {
            code: after.get(code, 0) - before.get(code, 0)
            for code in sorted(set(before) | set(after))
            if product(code).per_seat
        }
        return on, {code: delta for code, delta in moves.items() if delta}

    def has_ended_by(self, day: date) -> bool:
        """Whether the contract ended on or before ``day``: nothing is owed from then on."""
        return self.ended_on is not None and day >= self.ended_on

    def require_billable_from(self, period_start: date) -> None:
        """Refuses to invoice a period that begins once the contract has ended."""
        if self.has_ended_by(period_start):
            raise ContractNotActive(self.status.value, f"invoice the period from {period_start}")

    def period_quantities(self, period: DateRange) -> dict[str, int]:
        """Units per line that the invoice of ``period`` bills (domain/invoicing.py); none
        once the contract has ended (the period it ends in is billed in full: reductions
        are not prorated)."""
        if self.has_ended_by(period.start):
            return {}
        return period_quantities(self.term, self.billing_period, self.tranches, period)

    def charged_apart(self, tranche: Tranche) -> list[Charge]:
        """What the own invoice of an addition charges (domain/invoicing.py)."""
        return charged_apart(self.term, self.billing_period, tranche)

    @property
    def last_addition(self) -> Tranche:
        """The tranche of the latest addition (what a command that just added charges)."""
        # From the end: a term's tranches grow with every addition.
        for tranche in reversed(self.tranches):
            if tranche.added_on is not None:
                return tranche
        raise NotFound("nothing was added to this term")

    @property
    def period_amount(self) -> Money:
        """What one full billing period of every line costs, before tax."""
        result = Money.zero(self.currency)
        for line in self.lines.values():
            result = result + line.amount
        return result

    # -- mid-term changes -------------------------------------------------------------

    def add_licenses(self, line_id: str, quantity: int, effective: date, cause: Cause) -> Line:
        self._require_active("add licenses")
        positive(quantity)
        self.line(line_id)
        self._require_in_term(effective)
        self._require_reason_if_backdated(effective, cause)
        self._record(
            self.LineQuantityIncreased,
            cause,
            line_id=line_id,
            added=quantity,
            effective_at=effective,
        )
        return self.lines[line_id]

    def add_product(self, line: Line, effective: date, cause: Cause) -> None:
        self._require_active("add a product")
        _check_lines([line], self.currency)
        if line.line_id in self.lines or self.line_for(line.product_code) is not None:
            raise AlreadyExists(
                f"{line.product_code!r} is already on this contract: add licenses to its line"
            )
        self._require_in_term(effective)
        self._require_reason_if_backdated(effective, cause)
        self._record(self.ProductAdded, cause, line=line, effective_at=effective)

    # -- renewal ----------------------------------------------------------------------

    def schedule_renewal(self, term_months: int, lines: list[Line], cause: Cause) -> None:
        self._require_active("schedule a renewal")
        if self.renewal is not None:
            raise RenewalRule("a renewal is already scheduled: change it instead")
        self._record(self.RenewalScheduled, cause, **self._renewal_fields(term_months, lines))

    def change_renewal(self, term_months: int, lines: list[Line], cause: Cause) -> None:
        self._require_active("change the renewal")
        if self.renewal is None:
            raise RenewalRule("no renewal is scheduled: schedule one instead")
        self._record(self.RenewalChanged, cause, **self._renewal_fields(term_months, lines))

    def _renewal_fields(self, term_months: int, lines: list[Line]) -> dict[str, object]:
        term_of(self.term.end, term_months)  # refuses a term shorter than a month
        if not lines:
            raise InvalidValue(
                "a renewal needs at least one line; to let the contract end, cancel the renewal"
            )
        _check_lines(lines, self.currency)
        return {"term_months": term_months, "lines": tuple(lines), "effective_at": self.term.end}

    def cancel_renewal(self, cause: Cause) -> None:
        self._require_active("cancel the renewal")
        if self.renewal is None:
            raise AlreadyInThatState("no renewal is scheduled: the contract ends at its term end")
        self._record(self.RenewalCancelled, cause, effective_at=self.term.end)

    def renew(self, cause: Cause) -> Renewal:
        self._require_active("renew")
        if self.renewal is None:
            raise RenewalRule("no renewal is scheduled")
        if cause.today < self.term.end:
            raise RenewalRule(f"the term runs until {self.term.end}; it cannot renew before then")
        renewal = self.renewal
        new_term = term_of(self.term.end, renewal.term_months)
        self._record(
            self.SubscriptionRenewed,
            cause,
            term_start=new_term.start,
            term_end=new_term.end,
            lines=renewal.lines,
        )
        return renewal

    def send_renewal_reminder(self, cause: Cause) -> None:
        """Remind the customer, once per term, that the term ends soon (and renews or not)."""
        self._require_active("send a renewal reminder")
        if self.reminded_for == self.term.end:
            raise AlreadyExists(f"the term ending {self.term.end} was already reminded of")
        if cause.today >= self.term.end:
            raise RenewalRule(f"the term ended on {self.term.end}: a reminder is too late")
        self._record(
            self.RenewalReminderSent,
            cause,
            term_end=self.term.end,
            renews=self.renewal is not None,
        )

    # -- ending -----------------------------------------------------------------------

    def cancel(self, effective: date, cause: Cause) -> None:
        """Staff end a contract early (a correction or a negotiated exit), with a reason."""
        cause.require_reason("cancelling a contract")
        if self.status is SubscriptionStatus.CANCELLED:
            raise AlreadyInThatState(f"the contract is already cancelled, from {self.ended_on}")
        self._require_active("cancel")
        self._require_in_term(effective)
        self._require_reason_if_backdated(effective, cause)
        self._record(self.SubscriptionCancelled, cause, effective_at=effective)

    def expire(self, cause: Cause) -> None:
        self._require_active("expire")
        if self.renewal is not None:
            raise RenewalRule("a renewal is scheduled: the contract renews rather than expires")
        if cause.today < self.term.end:
            raise RenewalRule(f"the term runs until {self.term.end}; it cannot expire before then")
        self._record(self.SubscriptionExpired, cause, effective_at=self.term.end)


@dataclass(frozen=True)
class Renewal:
    term_months: int
    lines: tuple[Line, ...]

    def grown(self, line: Line, added: int) -> Renewal:
        """Seats added mid-term carry into the next term, unless the customer already
        dropped that product from the renewal (their choice stands)."""
        # Matched by product, not line id: a renewal holds one line per product.
        current = next((ln for ln in self.lines if ln.product_code == line.product_code), None)
        if current is None:
            return self
        more = replace(current, quantity=current.quantity + added)
        return Renewal(self.term_months, tuple(more if ln is current else ln for ln in self.lines))

    def with_product(self, line: Line) -> Renewal:
        """A product bought mid-term renews too, at the price it was bought at."""
        if any(ln.product_code == line.product_code for ln in self.lines):
            return self.grown(line, line.quantity)
        return Renewal(self.term_months, (*self.lines, line))


def changed_lines(
    base: Iterable[Line], quantities: Mapping[str, int], priced: Callable[[str, int], Line]
) -> list[Line]:
    """The lines of a renewal plan after a change: a product named with a quantity gets a
    line of that many units (``priced``: from the catalog, which refuses a product the
    account's edition is not sold), named with 0 it is dropped, and a product not named is
    kept as it is."""
    lines = {line.product_code: line for line in base}
    for code, quantity in quantities.items():
        product(code)  # an unknown product is refused even when dropped
        if quantity == 0:
            lines.pop(code, None)
        else:
            lines[code] = priced(code, quantity)
    return list(lines.values())


def _term_tranches(lines: Iterable[Line], term_start: date) -> list[Tranche]:
    return [Tranche(line.line_id, line.quantity, term_start) for line in lines]


def _recorded_day(event: LedgerAggregate.Event) -> date:
    return event.timestamp.astimezone(UTC).date()


def _check_lines(lines: list[Line], currency: str) -> None:
    seen: set[str] = set()
    for line in lines:
        if line.unit_price.currency != currency:
            raise CurrencyMismatch(currency, line.unit_price.currency)
        if line.product_code in seen:
            raise AlreadyExists(f"{line.product_code!r} appears twice; use one line per product")
        seen.add(line.product_code)
