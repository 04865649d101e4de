"""One aggregate, or one account, at a point in time (ADR 0004).

``as_of`` is recorded time: only events recorded at or before it are folded. The audit
trail's index of recorded time gives the last version recorded by then; the
repository folds up to it (from the newest snapshot at or below it). ``effective`` is
the business day (default: as_of's UTC day): events known by as_of but not yet in force
that day are skipped; the version prefix that is all in force comes from the
repository as well, and only the tail after the first deferred event is folded here.

The audit trail must have reached the events recorded by ``as_of``: callers serving a
request wait for it first (``ReadSide.wait_for``). ``account_at`` takes the account's
invoices from the account overview's documents of every invoice version (ADR 0030),
folding only those it lacks or that have events not yet in force.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.account import Account
from domain.base import LedgerAggregate
from domain.calendar_bounds import bounded_day, bounded_instant
from domain.errors import InvalidValue, NotFound
from domain.invoice import Invoice, InvoiceStatus
from domain.license import License
from domain.money import MINOR_UNITS, Money
from domain.subscription import Subscription
from projections.account_overview import InvoiceVersion, caught_up_with, invoices_at
from projections.audit_trail import AuditTrail, version_as_of
from projections.documents import Document, invoice_document
from projections.in_force import fold_in_force, in_force
from projections.point_in_time import KnownVersion, first_deferred_version, versions_of_account
from projections.store import Sql
from service.ledger.application import Ledger, fold
from service.reads.many_aggregates import histories

A = TypeVar("A", bound=LedgerAggregate)


@dataclass(frozen=True)
class PointInTime(Generic[A]):
    """An aggregate as known at ``as_of``, in force on ``effective``."""

    aggregate: A
    as_of: datetime
    effective: date
    version: int  # the last version recorded at or before as_of
    in_force: bool  # the thing itself was in force that day (projections.in_force.in_force)
    deferred: tuple[LedgerAggregate.Event, ...]  # known at as_of, in force only after effective


@dataclass(frozen=True)
class InvoiceAt:
    """An invoice as known at ``as_of``, in force on ``effective``: its figures and its
    document (``invoice_document`` of the state ``aggregate_at`` folds), read from the
    account overview's row of its version (ADR 0030), or from its fold where the
    overview has none or some of its events are not yet in force. ``aggregate`` folds
    the invoice on first use only: an account has thousands of invoices, and its views
    need their figures, not their objects."""

    as_of: datetime
    effective: date
    version: int
    in_force: bool  # issued on or before effective
    deferred: tuple[LedgerAggregate.Event, ...]
    stored: InvoiceVersion | None = field(repr=False)  # None: folded
    # (this) -> Invoice. One callable shared by an account's thousands of invoices, not a
    # closure each: fewer objects for the collector to walk (ADR 0031).
    _fold: Any = field(repr=False, compare=False)

    @cached_property
    def aggregate(self) -> Invoice:
        invoice: Invoice = self._fold(self)
        return invoice

    @cached_property
    def document(self) -> Document:
        if self.stored is None:
            return invoice_document(self.aggregate)
        return dict(json.loads(self.stored.document))

    @property
    def id(self) -> UUID:
        return self.aggregate.id if self.stored is None else UUID(self.stored.id)

    @property
    def number(self) -> str:
        return self.aggregate.number if self.stored is None else self.stored.number

    @property
    def currency(self) -> str:
        return self.aggregate.currency if self.stored is None else self.stored.currency

    @property
    def status(self) -> InvoiceStatus:
        return self.aggregate.status if self.stored is None else InvoiceStatus(self.stored.status)

    @property
    def issued_on(self) -> date:
        if self.stored is None:
            return self.aggregate.issued_on
        return date.fromisoformat(self.stored.issued_on)

    @property
    def due_on(self) -> date:
        if self.stored is None:
            return self.aggregate.due_on
        return date.fromisoformat(self.stored.due_on)

    def _money(self, name: str) -> Money:
        if self.stored is None:
            value: Money = getattr(self.aggregate, name)
            return value
        units: int = getattr(self.stored, name)
        return Money(Decimal(units).scaleb(-MINOR_UNITS[self.currency]), self.currency)

    @property
    def total(self) -> Money:
        return self._money("total")

    @property
    def paid(self) -> Money:
        return self._money("paid")

    @property
    def credited(self) -> Money:
        return self._money("credited")

    @property
    def balance(self) -> Money:
        return self._money("balance")


@dataclass(frozen=True)
class AccountAt:
    """An account with its contracts, seats and invoices, each at the same point in time."""

    account: PointInTime[Account]
    subscriptions: list[PointInTime[Subscription]]
    licenses: list[PointInTime[License]]
    invoices: list[InvoiceAt]


def parse_as_of(text: str) -> datetime:
    """An instant in ISO 8601; without an offset it is UTC, and a bare date means the end
    of that UTC day (as known on 5 April: everything recorded that day)."""
    try:
        if len(text.strip()) == 10:
            day = bounded_day(date.fromisoformat(text.strip()), "as_of")
            return datetime.combine(day, time.max, UTC)
        moment = bounded_instant(datetime.fromisoformat(text.strip()), "as_of")
    except ValueError:
        raise InvalidValue(f"as_of must be an ISO 8601 date or date-time, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_effective(text: str) -> date:
    try:
        return bounded_day(date.fromisoformat(text.strip()), "effective")
    except ValueError:
        raise InvalidValue(f"effective must be an ISO 8601 date, got {text!r}") from None


def effective_day(as_of: datetime, effective: date | None) -> date:
    if as_of.tzinfo is None:
        raise InvalidValue("as_of must be timezone-aware")
    return effective if effective is not None else as_of.astimezone(UTC).date()


def aggregate_at(
    ledger: Ledger,
    sql: Sql,
    aggregate_id: UUID,
    as_of: datetime,
    effective: date | None = None,
    kind: type[A] = LedgerAggregate,  # type: ignore[assignment]
) -> PointInTime[A]:
    """The aggregate as known at ``as_of``, in force on ``effective``; NotFound if the
    ledger did not know it by then (or it is not a ``kind``)."""
    day = effective_day(as_of, effective)
    what = kind.__name__.lower()
    version = version_as_of(sql, aggregate_id, as_of)
    if version is None:
        raise NotFound(f"no {what} {aggregate_id} as of {as_of.isoformat()}")
    first_deferred = first_deferred_version(sql, aggregate_id, version, day)
    all_in_force = version if first_deferred is None else first_deferred - 1
    try:
        aggregate: Any = ledger.repository.get(aggregate_id, version=all_in_force)
    except AggregateNotFoundError:
        raise NotFound(f"no {what} {aggregate_id}") from None
    if not isinstance(aggregate, kind):
        raise NotFound(f"no {what} {aggregate_id}")
    deferred: tuple[LedgerAggregate.Event, ...] = ()
    if first_deferred is not None:
        tail = ledger.events.get(aggregate_id, gt=all_in_force, lte=version)
        folded = fold_in_force(
            (e for e in tail if isinstance(e, LedgerAggregate.Event)), day, aggregate
        )
        deferred = tuple(folded.deferred)
    return PointInTime(aggregate, as_of, day, version, in_force(aggregate, day), deferred)


def account_at(
    ledger: Ledger, sql: Sql, account_id: UUID, as_of: datetime, effective: date | None = None
) -> AccountAt:
    """The account, its contracts, seats and invoices as known at ``as_of``, in force on
    ``effective``; NotFound if the ledger did not know the account by then.

    In a few round trips whatever the account's size: the versions of all its aggregates
    in one query of the audit trail; the invoices' documents at those versions in one
    query of the account overview (ADR 0030); the contracts and seat pools, and any
    invoice whose document is missing or that has events not yet in force, folded as
    ``aggregate_at`` folds them, their snapshots and events read in one query each."""
    return _account_at(ledger, sql, account_id, as_of, effective, stored_documents=True)


def _account_at(
    ledger: Ledger,
    sql: Sql,
    account_id: UUID,
    as_of: datetime,
    effective: date | None,
    stored_documents: bool,
) -> AccountAt:
    account = aggregate_at(ledger, sql, account_id, as_of, effective, Account)
    day = account.effective
    stored: list[InvoiceVersion] | None = None
    if stored_documents and caught_up_with(sql, AuditTrail.name):
        stored = invoices_at(sql, account_id, as_of, day)
    types = ("Subscription", "License") if stored is not None else _KINDS
    known = versions_of_account(sql, account_id, as_of, day, types)
    if stored is not None:
        # The invoices are the overview's; folded only where an event is not yet in force.
        known += [
            KnownVersion("Invoice", UUID(i.id), i.version, i.first_deferred)
            for i in stored
            if i.first_deferred is not None
        ]
    folded = _fold_all(ledger, known, day)
    kinds: dict[type[Any], list[PointInTime[Any]]] = {Subscription: [], License: []}
    invoices: dict[UUID, InvoiceAt] = {}
    for found in known:
        aggregate, deferred = folded[found.aggregate_id]
        if found.aggregate_type == "Invoice":
            if not isinstance(aggregate, Invoice):
                raise NotFound(f"no invoice {found.aggregate_id}")
            invoices[found.aggregate_id] = InvoiceAt(
                as_of,
                day,
                found.version,
                in_force(aggregate, day),
                deferred,
                None,
                lambda _, folded=aggregate: folded,
            )
            continue
        kind = next(k for k in kinds if k.__name__ == found.aggregate_type)
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {kind.__name__.lower()} {found.aggregate_id}")
        kinds[kind].append(
            PointInTime(aggregate, as_of, day, found.version, in_force(aggregate, day), deferred)
        )
    if stored is None:
        listed = list(invoices.values())
    else:
        # In the order they were issued, the folded ones in their places.
        fold_stored = _FoldStored(ledger)
        on = day.isoformat()
        listed = [
            invoices[UUID(i.id)]
            if i.first_deferred is not None
            # Every event of it known at as_of is in force on day: its state is its state
            # at its version, which the row holds (in force: as projections.in_force).
            else InvoiceAt(as_of, day, i.version, i.issued_on <= on, (), i, fold_stored)
            for i in stored
        ]
    return AccountAt(account, kinds[Subscription], kinds[License], listed)


_KINDS = ("Subscription", "License", "Invoice")


class _FoldStored:
    """Folds an invoice read from its overview row, at that row's version, when asked."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __call__(self, invoice: InvoiceAt) -> Invoice:
        assert invoice.stored is not None
        folded: Invoice = self._ledger.repository.get(
            UUID(invoice.stored.id), version=invoice.stored.version
        )
        return folded


def account_at_by_folding(
    ledger: Ledger, sql: Sql, account_id: UUID, as_of: datetime, effective: date | None = None
) -> AccountAt:
    """``account_at`` with every aggregate folded, no invoice read from the overview's
    documents: how it answered before ADR 0030, kept as the reference its tests and its
    benchmark compare with."""
    return _account_at(ledger, sql, account_id, as_of, effective, stored_documents=False)


def _fold_all(
    ledger: Ledger, known: list[KnownVersion], day: date
) -> dict[UUID, tuple[Any, tuple[LedgerAggregate.Event, ...]]]:
    """Each aggregate folded as ``aggregate_at`` folds it (the version prefix all in force
    from the newest snapshot at or below it, then the tail in force on ``day``), with the
    events it defers."""
    up_to = {
        k.aggregate_id: k.version if k.first_deferred is None else k.first_deferred - 1
        for k in known
    }
    found = histories(ledger, {k.aggregate_id: (up_to[k.aggregate_id], k.version) for k in known})
    folded: dict[UUID, tuple[Any, tuple[LedgerAggregate.Event, ...]]] = {}
    for k in known:
        snapshot, events = found[k.aggregate_id]
        head = [] if snapshot is None else [snapshot]
        prefix = [e for e in events if e.originator_version <= up_to[k.aggregate_id]]
        aggregate = fold(None, [*head, *prefix])
        if aggregate is None:
            raise NotFound(f"no {k.aggregate_type.lower()} {k.aggregate_id}")
        deferred: tuple[LedgerAggregate.Event, ...] = ()
        if k.first_deferred is not None:
            tail = [e for e in events if e.originator_version > up_to[k.aggregate_id]]
            result = fold_in_force(
                (e for e in tail if isinstance(e, LedgerAggregate.Event)), day, aggregate
            )
            deferred = tuple(result.deferred)
        folded[k.aggregate_id] = (aggregate, deferred)
    return folded
