"""The Ledger application: one method per use case.

Each use case loads what it needs, asks the aggregates to change, and saves every
aggregate it touched in one transaction. A stale save (another request changed the
same aggregate first) is retried once on fresh state: every use case re-runs its
checks on the fresh state, so the retry can only succeed if the change is still valid.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import time as timer
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, Recording

from adapters.data_keys import data_keys_for
from adapters.log_position import position_of
from adapters.sealing import SealedTextAsDict, SealingMapper
from adapters.transcoding import register_domain_transcodings
from adapters.wakeup import Pulse
from domain import catalog
from domain.account import Account, BillingDetails, Contact, User
from domain.base import LedgerAggregate
from domain.catalog import Edition
from domain.cause import Cause
from domain.clock import Clock
from domain.errors import (
    ContractNotActive,
    InvalidValue,
    NotFound,
    NotOnContract,
    PeriodNotBegun,
)
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.invoice_series import InvoiceSeries, SeriesKind
from domain.license import License, license_id
from domain.money import Money
from domain.payment_provider import PaymentProvider
from domain.period import (
    BillingPeriod,
    DateRange,
    billed_share,
    billing_periods,
)
from domain.seller import Seller
from domain.share_link import ShareLink
from domain.subscription import Line, Subscription, changed_lines
from domain.support_case import SupportCase
from domain.tax import tax_rate
from domain.values import ENUM_TYPES, VALUE_TYPES
from domain.vat_number import EU_MEMBER_STATES, VatNumber
from domain.vat_treatment import vat_treatment
from service.config.seller import DEMO_SELLER
from service.ledger import idempotency, quotes
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict, PreconditionFailed, PriceChanged
from service.ledger.idempotency import IdempotencyRecord
from service.ledger.moved_topics import register_moved_modules, stored_topics
from service.ledger.numbering import NumberedOutOfOrder, Numbering
from service.ledger.subject_locks import SubjectLocks

PAYMENT_TERMS = timedelta(days=30)
# Who renews a contract in a preview of its renewal invoice (the billing run, in fact).
RENEWAL = CommandContext("subledger-billing", "system", preview=True)

log = logging.getLogger("subledger.ledger")

T = TypeVar("T", bound=LedgerAggregate)

# The aggregates a process keeps in memory between commands (the library's LRU cache,
# fast-forwarded from the store on every load, so never stale; ADR 0013).
AGGREGATE_CACHE_SIZE = "5000"
# A command whose document's number another process took first is run again on the
# fresh series: this many attempts in all (a command stale otherwise: 2), a few ms apart.
NUMBERED_ATTEMPTS = 30


def fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` against a
    runtime-checkable Protocol, which cost a fifth of a command's time."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class LedgerRepository(Repository[UUID]):
    def get(self, aggregate_id: UUID, **kwargs: Any) -> Any:
        kwargs.setdefault("projector_func", fold)
        return super().get(aggregate_id, **kwargs)


def period_invoice_id(subscription_id: UUID, period_start: date) -> UUID:
    """The invoice of one billing period: its id is fixed by the period, so it is issued once."""
    return uuid5(NAMESPACE_URL, f"subledger:invoice:{subscription_id}:period:{period_start}")


@dataclass(frozen=True)
class Receipt:
    """What a command wrote: the aggregate it concerns (and its version after the command),
    the aggregates it created, and the log position of its last event.

    A preview's receipt wrote nothing: ``pending`` holds the aggregates the command would
    have saved, with their unsaved events, and ``version`` is the subject's version the
    preview was computed on (the If-Match that makes the command do what it showed)."""

    aggregate_id: UUID
    version: int
    position: int | None
    created: tuple[UUID, ...] = ()
    refund: Money | None = None
    replayed: bool = False
    pending: tuple[LedgerAggregate, ...] = ()


class Ledger(Application[UUID]):
    name = "subledger"
    # Snapshots keep point-in-time reads of long histories fast (a cache, never the truth).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Account: 50,
        Subscription: 50,
        License: 50,
        Invoice: 50,
        ShareLink: 50,  # one event per access
        InvoiceSeries: 50,  # one event per document
    }

    def __init__(
        self,
        env: Mapping[str, str] | None,
        clock: Clock,
        payment_provider: PaymentProvider,
        seller: Seller | None = None,
    ) -> None:
        """Its ports are given (service/bootstrap.py chooses them from the settings)."""
        self.clock = clock
        self.payment_provider = payment_provider
        # Who issues the invoices (configuration: service/config/seller.py).
        self.seller: Seller = seller or DEMO_SELLER
        self.saved = Pulse()
        self._subjects = SubjectLocks()
        self.numbering = Numbering(self._series)
        register_moved_modules()  # a store written before ADR 0020's move keeps loading
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": AGGREGATE_CACHE_SIZE, **(env or {})})

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """``Application.save``, collecting aggregates' events without the library's
        ``isinstance`` checks against runtime-checkable Protocols (slow on every save)."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.saved.pulse()  # wakes an in-process projection runner
        return recordings

    def construct_repository(self) -> Repository[UUID]:
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        # Always fast-forwarded: another process may have saved since (never serve stale).
        return LedgerRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(size) if size else None,
            fastforward=True,
        )

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each saved aggregate at every multiple of its interval its events reached.

        One is taken from the aggregate in memory, as saved, at its version after the
        save (the library would load it again). A multiple passed within the save gets
        its own, loaded as the library does, so that a load never folds an interval's
        worth of events or more; for the usual command, one event per aggregate, there
        is no such multiple.
        Snapshots are a cache written after the events commit: failing to write one must
        not make a committed command look failed (``execute`` would even retry it)."""
        if self.snapshots is None:
            return
        due: dict[UUID, list[int]] = {}
        for event in processing_event.events:
            interval = self._interval(processing_event, event.originator_id)
            if interval and event.originator_version % interval == 0:
                due.setdefault(event.originator_id, []).append(event.originator_version)
        try:
            for aggregate_id, versions in due.items():
                aggregate = processing_event.aggregates[aggregate_id]
                for version in versions:
                    if version != aggregate.version:
                        self.take_snapshot(aggregate_id, version=version, projector_func=fold)
                snapshot_class = getattr(type(aggregate), "Snapshot", self.snapshot_class)
                assert snapshot_class is not None  # every LedgerAggregate has one
                self.snapshots.put([snapshot_class.take(aggregate)])
        except Exception:
            log.exception("could not take a snapshot; reads fold from the events instead")

    def _interval(self, processing_event: ProcessingEvent[UUID], aggregate_id: UUID) -> int:
        aggregate = processing_event.aggregates.get(aggregate_id)
        return self.snapshotting_intervals.get(type(aggregate), 0) if aggregate else 0

    def construct_mapper(self) -> Mapper[UUID]:
        # The keys of personal data, in a table beside the log (ADR 0023).
        self.data_keys = data_keys_for(getattr(self.factory, "datastore", None))
        mapper = self.factory.mapper(self.construct_transcoder(), SealingMapper)
        assert isinstance(mapper, SealingMapper)
        mapper.keys = self.data_keys
        return mapper

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder, VALUE_TYPES, ENUM_TYPES)
        transcoder.register(SealedTextAsDict(self.data_keys))

    # -- plumbing ---------------------------------------------------------------------

    def execute(
        self,
        ctx: CommandContext,
        work: Callable[[Cause], list[LedgerAggregate]],
        subject: UUID,
        refund: Callable[[], Money | None] = lambda: None,
    ) -> Receipt:
        """Run ``work`` and save what it returns atomically, retrying once if stale.

        Commands on one subject wait for each other in this process (subject_locks.py).
        With an Idempotency-Key, the record of the answer is saved in the same
        transaction, and a retry of the same request returns that answer instead.
        """
        with self._subjects.holding(subject):
            return self._execute(ctx, work, subject, refund)

    def holding(self, subject: UUID) -> AbstractContextManager[None]:
        """The subject's lock, for a use case that checks, then acts outside the ledger (a
        charge), then records: no other command of this process on the subject between."""
        return self._subjects.holding(subject)

    def _execute(
        self,
        ctx: CommandContext,
        work: Callable[[Cause], list[LedgerAggregate]],
        subject: UUID,
        refund: Callable[[], Money | None],
    ) -> Receipt:
        if ctx.preview:
            return self._preview(ctx, work, subject, refund)
        key_id = (
            idempotency.record_id(ctx.key_owner, ctx.idempotency_key)
            if ctx.idempotency_key
            else None
        )
        attempts, attempt, out_of_order = 2, 0, False
        while True:
            attempt += 1
            if key_id is not None and (replay := self._replay(key_id, ctx.fingerprint)):
                return replay
            # Numbers are taken and saved in the same attempt (service/ledger/numbering.py).
            with self.numbering.attempt(ordered=not out_of_order) as numbered:
                cause = ctx.cause(self.clock.now())
                try:
                    aggregates = work(cause)
                except NumberedOutOfOrder:
                    aggregates, out_of_order = None, True
                if aggregates is not None:
                    receipt = self._save_attempt(
                        ctx, subject, aggregates, numbered, key_id, cause, refund
                    )
                    if receipt is not None:
                        return receipt
                if aggregates is None or self.numbering.outrun(numbered):
                    attempts = NUMBERED_ATTEMPTS
            if attempt >= attempts:
                raise ConcurrencyConflict(
                    f"the ledger changed under this request {attempt} times; retry it"
                )
            if numbered.loaded:
                timer.sleep(random.uniform(0, 0.005))  # let another process's save pass

    def _save_attempt(
        self,
        ctx: CommandContext,
        subject: UUID,
        aggregates: list[LedgerAggregate],
        numbered: Any,
        key_id: UUID | None,
        cause: Cause,
        refund: Callable[[], Money | None],
    ) -> Receipt | None:
        """Save one attempt's aggregates, with the series it numbered from; None if stale."""
        version = self._subject_version(ctx, subject, aggregates)
        created = tuple(a.id for a in aggregates if a.version == len(a.pending_events))
        # The series first: the receipt's position stays that of the command's own events.
        aggregates = [*numbered.series.values(), *aggregates]
        if key_id is not None:
            aggregates.append(
                IdempotencyRecord.complete(
                    key_id, ctx.fingerprint, subject, version, created, refund(), cause
                )
            )
        try:
            recordings = self.save(*aggregates)
        except IntegrityError:
            return None
        position = recordings[-1].notification.id if recordings else None
        return Receipt(subject, version, position, created, refund())

    def _preview(
        self,
        ctx: CommandContext,
        work: Callable[[Cause], list[LedgerAggregate]],
        subject: UUID,
        refund: Callable[[], Money | None],
    ) -> Receipt:
        """``work`` run as the command runs it, with the same checks (If-Match too), and
        nothing saved: no event, no idempotency record (its key is not even read)."""
        aggregates = work(ctx.cause(self.clock.now()))
        version = self._subject_version(ctx, subject, aggregates)
        created = tuple(a.id for a in aggregates if a.version == len(a.pending_events))
        return Receipt(subject, version, None, created, refund(), pending=tuple(aggregates))

    def replay(self, ctx: CommandContext) -> Receipt | None:
        """The first answer to a request retried with its Idempotency-Key, if there was one:
        for a use case that must not repeat an effect outside the ledger (a charge)."""
        if not ctx.idempotency_key or ctx.preview:
            return None
        key_id = idempotency.record_id(ctx.key_owner, ctx.idempotency_key)
        return self._replay(key_id, ctx.fingerprint)

    def _subject_version(
        self, ctx: CommandContext, subject: UUID, aggregates: list[LedgerAggregate]
    ) -> int:
        """The subject's version after the command (before it, for a preview); refuses a
        stale If-Match."""
        if ctx.expected_quote is not None and quotes.quote(aggregates) != ctx.expected_quote:
            raise PriceChanged()
        changed = next((a for a in aggregates if a.id == subject), None)
        if changed is not None:
            before, after = changed.version - len(changed.pending_events), changed.version
        else:
            before = after = self._current_version(subject)
        if ctx.expected_version is not None and ctx.expected_version != before:
            raise PreconditionFailed(ctx.expected_version, before)
        return before if ctx.preview else after

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
            buyer_vat,
            tax_rate(billing.country),
        ).rate

    def _series(self, series_id: UUID) -> InvoiceSeries | None:
        try:
            series: object = self.repository.get(series_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(series, InvoiceSeries)
        return series

    def _current_version(self, aggregate_id: UUID) -> int:
        try:
            return int(self.repository.get(aggregate_id).version)
        except AggregateNotFoundError:
            return 0

    def _replay(self, key_id: UUID, fingerprint: str) -> Receipt | None:
        try:
            record: object = self.repository.get(key_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotencyRecord)
        if record.fingerprint != fingerprint:
            raise idempotency.IdempotencyKeyReused()
        return Receipt(
            record.subject_id,
            record.subject_version,
            position_of(self.recorder, key_id, 1),
            record.created,
            record.refund,
            replayed=True,
        )

    def _load(self, cls: type[T], aggregate_id: UUID, what: str, version: int | None = None) -> T:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
            # The version asked for is usually the current one (a command's answer): then
            # the cached copy serves, rather than a fold from the store up to it.
            if version is not None and aggregate.version != version:
                aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no {what} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {what} {aggregate_id}")
        return aggregate

    def account(self, account_id: UUID, version: int | None = None) -> Account:
        return self._load(Account, account_id, "account", version)

    def subscription(self, subscription_id: UUID, version: int | None = None) -> Subscription:
        return self._load(Subscription, subscription_id, "subscription", version)

    def invoice(self, invoice_id: UUID, version: int | None = None) -> Invoice:
        return self._load(Invoice, invoice_id, "invoice", version)

    def license(self, account_id: UUID, product_code: str) -> License:
        return self._load(License, license_id(account_id, product_code), "license")

    def support_case(self, case_id: UUID, version: int | None = None) -> SupportCase:
        return self._load(SupportCase, case_id, "support case", version)

    def events_of_types(
        self, *event_classes: type[LedgerAggregate.Event]
    ) -> Iterator[LedgerAggregate.Event]:
        """Every event of these exact types, in log order: a scan filtered by topic, linear
        in the book (the billing run's source, and the read models' check in tests)."""
        topics = [topic for event_class in event_classes for topic in stored_topics(event_class)]
        start = 1
        while batch := self.recorder.select_notifications(start, 500, topics=topics):
            for notification in batch:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, LedgerAggregate.Event)
                yield event
            start = batch[-1].id + 1

    def subscriptions_of(self, account_id: UUID) -> list[Subscription]:
        return [
            self.subscription(event.originator_id)
            for event in self.events_of_types(Subscription.SubscriptionStarted)
            if getattr(event, "account_id", None) == account_id
        ]

    def invoices_of(self, account_id: UUID) -> list[Invoice]:
        return [
            self.invoice(event.originator_id)
            for event in self.events_of_types(Invoice.InvoiceIssued)
            if getattr(event, "account_id", None) == account_id
        ]

    def licenses_of(self, account_id: UUID) -> list[License]:
        """The account's seat pools: at most one per per-seat product, found by their ids."""
        found = []
        for product in catalog.PRODUCTS.values():
            if product.per_seat:
                with contextlib.suppress(NotFound):
                    found.append(self.license(account_id, product.code))
        return found

    def head_position(self) -> int:
        """The position of the newest event in the global log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # -- accounts ---------------------------------------------------------------------

    def open_account(
        self,
        ctx: CommandContext,
        name: str,
        edition: Edition,
        currency: str,
        billing: BillingDetails,
        administrator: User,
        account_id: UUID | None = None,
    ) -> Receipt:
        new_id = account_id or uuid4()

        def work(cause: Cause) -> list[LedgerAggregate]:
            return [Account.open(new_id, name, edition, currency, billing, administrator, cause)]

        return self.execute(ctx, work, new_id)

    def _on_account(
        self, ctx: CommandContext, account_id: UUID, act: Callable[[Account, Cause], None]
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            account = self.account(account_id)
            act(account, cause)
            return [account]

        return self.execute(ctx, work, account_id)

    def change_billing_details(
        self, ctx: CommandContext, account_id: UUID, billing: BillingDetails
    ) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.change_billing_details(billing, c))

    def set_payment_method(self, ctx: CommandContext, account_id: UUID, reference: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.set_payment_method(reference, c))

    def add_contact(
        self, ctx: CommandContext, account_id: UUID, contact: Contact, contact_id: str | None = None
    ) -> Receipt:
        new_id = contact_id or uuid4().hex
        return self._on_account(ctx, account_id, lambda a, c: a.add_contact(new_id, contact, c))

    def change_contact(
        self, ctx: CommandContext, account_id: UUID, contact_id: str, contact: Contact
    ) -> Receipt:
        return self._on_account(
            ctx, account_id, lambda a, c: a.change_contact(contact_id, contact, c)
        )

    def remove_contact(self, ctx: CommandContext, account_id: UUID, contact_id: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.remove_contact(contact_id, c))

    def add_user(self, ctx: CommandContext, account_id: UUID, user: User) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.add_user(user, c))

    def grant_manage_billing(self, ctx: CommandContext, account_id: UUID, user_id: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.grant_manage_billing(user_id, c))

    def revoke_manage_billing(self, ctx: CommandContext, account_id: UUID, user_id: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.revoke_manage_billing(user_id, c))

    def assign_identity_license(
        self, ctx: CommandContext, account_id: UUID, user_id: str
    ) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.assign_identity_license(user_id, c))

    def release_identity_license(
        self, ctx: CommandContext, account_id: UUID, user_id: str
    ) -> Receipt:
        return self._on_account(
            ctx, account_id, lambda a, c: a.release_identity_license(user_id, c)
        )

    def request_upgrade(
        self, ctx: CommandContext, account_id: UUID, edition: Edition, note: str = ""
    ) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.request_upgrade(edition, note, c))

    def change_edition(self, ctx: CommandContext, account_id: UUID, edition: Edition) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.change_edition(edition, c))

    def open_support_case(
        self, ctx: CommandContext, account_id: UUID, subject: str, description: str
    ) -> Receipt:
        case_id = uuid4()

        def work(cause: Cause) -> list[LedgerAggregate]:
            self.account(account_id)
            return [SupportCase.open(case_id, account_id, subject, description, cause)]

        return self.execute(ctx, work, case_id)

    def _on_support_case(
        self, ctx: CommandContext, case_id: UUID, act: Callable[[SupportCase, Cause], None]
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            case = self.support_case(case_id)
            act(case, cause)
            return [case]

        return self.execute(ctx, work, case_id)

    def reply_to_support_case(self, ctx: CommandContext, case_id: UUID, message: str) -> Receipt:
        """Staff answer a case (refused once it is closed)."""
        return self._on_support_case(ctx, case_id, lambda c, cause: c.reply(message, cause))

    def close_support_case(
        self, ctx: CommandContext, case_id: UUID, resolution: str = ""
    ) -> Receipt:
        return self._on_support_case(ctx, case_id, lambda c, cause: c.close(resolution, cause))

    # -- contracts --------------------------------------------------------------------

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

    def _add_seats(
        self,
        account_id: UUID,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        on: date,
        cause: Cause,
    ) -> list[LedgerAggregate]:
        """Put bought seats into the account's License for a per-seat product."""
        if not catalog.product(product_code).per_seat:
            return []
        try:
            lic = self.license(account_id, product_code)
        except NotFound:
            lic = License.open(account_id, product_code, cause)
        lic.add(subscription_id, quantity, on, cause)
        return [lic]

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
            current = {line.product_code: line.quantity for line in sub.lines.values()}
            base = self._price_lines(account, current, sub.billing_period, on)
        return changed_lines(base, quantities or {}, priced)

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
            cause.today + PAYMENT_TERMS,
            cause,
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
            if sub.ended_on is not None and period_start >= sub.ended_on:
                # The contract ended before this period began: nothing is owed for it.
                raise ContractNotActive(sub.status.value, f"invoice the period from {period_start}")
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

    def add_licenses(
        self,
        ctx: CommandContext,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        effective: date | None = None,
    ) -> Receipt:
        """Add seats to a line mid-term: prorated to the end of the period and invoiced at once."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            account = self.account(sub.account_id)
            line = sub.line_for(product_code)
            if line is None:
                catalog.product(product_code)  # an unknown code is refused as such (422)
                raise NotOnContract(product_code)
            on = effective or cause.today
            sub.add_licenses(line.line_id, quantity, on, cause)
            seats = self._add_seats(sub.account_id, sub.id, product_code, quantity, on, cause)
            invoice = self._prorated_invoice(account, sub, line, cause)
            return [sub, *seats, invoice]

        return self.execute(ctx, work, subscription_id)

    def add_product(
        self,
        ctx: CommandContext,
        subscription_id: UUID,
        product_code: str,
        quantity: int,
        effective: date | None = None,
    ) -> Receipt:
        """Add a product or add-on to a contract at today's list price, prorated and invoiced."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            account = self.account(sub.account_id)
            on = effective or cause.today
            (line,) = self._price_lines(account, {product_code: quantity}, sub.billing_period, on)
            sub.add_product(line, on, cause)
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
            before = {line.product_code: line.quantity for line in sub.lines.values()}
            renewal = sub.renew(cause)
            changed: list[LedgerAggregate] = [sub]
            after = {line.product_code: line.quantity for line in sub.lines.values()}
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

    def _move_seats(
        self, sub: Subscription, before: dict[str, int], after: dict[str, int], cause: Cause
    ) -> list[LedgerAggregate]:
        changed: list[LedgerAggregate] = []
        on = sub.term.start if sub.is_active else (sub.ended_on or cause.today)
        for code in sorted(set(before) | set(after)):
            if not catalog.product(code).per_seat:
                continue
            delta = after.get(code, 0) - before.get(code, 0)
            if delta > 0:
                changed += self._add_seats(sub.account_id, sub.id, code, delta, on, cause)
            elif delta < 0:
                lic = self.license(sub.account_id, code)
                lic.remove(sub.id, -delta, on, cause)
                changed.append(lic)
        return changed

    def expire(self, ctx: CommandContext, subscription_id: UUID) -> Receipt:
        """End a contract whose renewal was cancelled, at its term end; its seats go."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            before = {line.product_code: line.quantity for line in sub.lines.values()}
            sub.expire(cause)
            return [sub, *self._move_seats(sub, before, {}, cause)]

        return self.execute(ctx, work, subscription_id)

    def cancel_subscription(
        self, ctx: CommandContext, subscription_id: UUID, effective: date | None = None
    ) -> Receipt:
        """Staff end a contract early, with a reason; its seats go."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            before = {line.product_code: line.quantity for line in sub.lines.values()}
            sub.cancel(effective or cause.today, cause)
            return [sub, *self._move_seats(sub, before, {}, cause)]

        return self.execute(ctx, work, subscription_id)

    # -- seats ------------------------------------------------------------------------

    def assign_seat(
        self, ctx: CommandContext, account_id: UUID, product_code: str, user_id: str
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            self.account(account_id).user(user_id)
            lic = self.license(account_id, product_code)
            lic.assign(user_id, cause)
            return [lic]

        return self.execute(ctx, work, license_id(account_id, product_code))

    def unassign_seat(
        self, ctx: CommandContext, account_id: UUID, product_code: str, user_id: str
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            self.account(account_id).user(user_id)
            lic = self.license(account_id, product_code)
            lic.unassign(user_id, cause)
            return [lic]

        return self.execute(ctx, work, license_id(account_id, product_code))

    # -- invoices ---------------------------------------------------------------------

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

    # -- the billing run (service/billing/run.py) -----------------------------------------

    def send_renewal_reminder(self, ctx: CommandContext, subscription_id: UUID) -> Receipt:
        """Remind the customer that the term ends soon; once per term (a repeat writes nothing)."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            sub = self.subscription(subscription_id)
            if sub.reminded_for == sub.term.end:
                return []
            sub.send_renewal_reminder(cause)
            return [sub]

        return self.execute(ctx, work, subscription_id)

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
