"""Erasing a data subject's personal data: its keys destroyed, the erasure recorded.

The aggregate that holds the subject (the account for a contact or user, the support
case, the share link) records ``PersonalDataErased``: who asked, when and why (the
command's provenance and reason), which subject, nothing personal. Then the subject's
keys are destroyed, the holder's snapshots removed and the store's files scrubbed
(adapters/data_keys.py). Every reader decodes the subject's fields as ``"[erased]"`` from
then on; the event tells downstream consumers to erase their copies.

Events stored before sealing hold the subject's fields in plaintext: the answer lists
their log positions as not erasable (ADR 0023).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import StoredEvent

from adapters.log_position import position_of
from adapters.sealing import plaintext_subjects
from adapters.snapshot_removal import remove_snapshots
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import BuyerStillInvoiced, InvalidValue, NotFound
from domain.personal_data import SubjectKind, subject_name
from domain.share_link import ShareLink
from domain.support_case import SupportCase
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.privacy.retention import Hold, holds

# What a request may name. A buyer identity is erased as far as the law allows: what its
# invoices under retention need is held until their retention ends (ADR 0027).
ERASABLE = (
    SubjectKind.CONTACT,
    SubjectKind.USER,
    SubjectKind.SUPPORT_CASE,
    SubjectKind.SHARE_LINK_VISITOR,
    SubjectKind.BUYER,
)


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: the event it recorded, the keys it destroyed, and the log
    positions that hold the subject's data in plaintext (not erasable). For a buyer: the
    subjects erased now, and those held (legal hold) with the day each goes."""

    subject: str
    receipt: Receipt
    keys_destroyed: int
    not_erasable: tuple[int, ...]
    erased: tuple[str, ...] = ()
    held: tuple[Hold, ...] = ()


class Erasures:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def erase(
        self, ctx: CommandContext, account_id: UUID, kind: SubjectKind, subject_id: str
    ) -> Erasure:
        """Erase the subject of ``account_id``: a contact or user by its id, a support
        case or a share link's visitors by the case's or link's id."""
        if kind not in ERASABLE:
            raise InvalidValue(f"a {kind.value} is not erased on request")
        if kind is SubjectKind.BUYER:
            return self._erase_buyer(ctx, account_id, subject_id)
        holder_id, within = self._holder(account_id, kind, subject_id)

        def work(cause: Cause) -> list[LedgerAggregate]:
            holder: LedgerAggregate = self.ledger.repository.get(holder_id)
            if isinstance(holder, Account):
                holder.erase_personal_data(kind, within, cause)
            else:
                assert isinstance(holder, SupportCase | ShareLink)
                holder.erase_personal_data(cause)
            return [holder]

        receipt = self.ledger.execute(ctx, work, holder_id)
        subject = subject_name(kind.value, holder_id, within)
        destroyed = self.ledger.data_keys.destroy(subject, self.ledger.clock.now())
        if self.ledger.snapshots is not None:
            remove_snapshots(self.ledger.snapshots.recorder, holder_id)
        self.ledger.data_keys.scrub()
        return Erasure(
            subject, receipt, destroyed, self._plaintext(holder_id, subject), erased=(subject,)
        )

    def _erase_buyer(self, ctx: CommandContext, account_id: UUID, subject_id: str) -> Erasure:
        """Erase what of the account's buyer identity no invoice under retention needs, and
        hold the rest (``PersonalDataHeld``, destroyed by the retention run when due):

        - each financial year's key is held until that year's retention ends (erased now
          if it has ended and the retention run has not come yet);
        - the account's own key (its billing details) goes now, unless an invoice issued
          before invoices kept their buyer (v1) is still under retention: then it is held
          until the last of those ends.

        Refused while a contract is in force: its next invoices must name the buyer."""
        account = self.ledger.account(account_id)
        if subject_id not in ("", str(account.id)):
            raise NotFound(f"a buyer is named by its account's id, not {subject_id!r}")
        active = [s for s in self.ledger.subscriptions_of(account.id) if s.is_active]
        if active:
            raise BuyerStillInvoiced(
                f"the account has {len(active)} contract(s) in force, whose invoices name"
                " the buyer: end them first (its invoices are then kept for their retention)"
            )
        today = self.ledger.clock.now().date()
        needed = holds(self.ledger, account.id)
        own = subject_name(SubjectKind.BUYER.value, account.id)
        now = [""] if own not in needed or needed[own].until <= today else []
        now += [h.subject_id for h in needed.values() if h.subject_id and h.until <= today]
        later = tuple(h for h in needed.values() if h.until > today)

        def work(cause: Cause) -> list[LedgerAggregate]:
            holder = self.ledger.account(account.id)
            for within in now:
                holder.erase_personal_data(SubjectKind.BUYER, within, cause)
            for hold in later:
                holder.hold_personal_data(SubjectKind.BUYER, hold.subject_id, hold.until, cause)
            return [holder]

        receipt = self.ledger.execute(ctx, work, account.id)
        erased = tuple(subject_name(SubjectKind.BUYER.value, account.id, w) for w in now)
        at = self.ledger.clock.now()
        destroyed = sum(self.ledger.data_keys.destroy(subject, at) for subject in erased)
        if self.ledger.snapshots is not None:
            remove_snapshots(self.ledger.snapshots.recorder, account.id)
        self.ledger.data_keys.scrub()
        plaintext = tuple(p for s in erased for p in self._plaintext(account.id, s))
        return Erasure(own, receipt, destroyed, plaintext, erased=erased, held=later)

    def _holder(self, account_id: UUID, kind: SubjectKind, subject_id: str) -> tuple[UUID, str]:
        """The aggregate holding the subject, and the subject's id within it; NotFound for
        a subject the account's history does not know (another account's too)."""
        account = self.ledger.account(account_id)
        if kind in (SubjectKind.CONTACT, SubjectKind.USER):
            if subject_id not in _named(self.ledger.events.get(account.id), kind):
                raise NotFound(f"no {kind.value} {subject_id} in this account's history")
            return account.id, subject_id
        holder = self._aggregate(subject_id)
        wanted = SupportCase if kind is SubjectKind.SUPPORT_CASE else ShareLink
        if not isinstance(holder, wanted) or holder.account_id != account_id:
            raise NotFound(f"no {kind.value} {subject_id} in this account")
        return holder.id, ""

    def erase_subject(self, ctx: CommandContext, subject: str) -> Erasure:
        """Erase a subject named as in the key store: ``contact:<account id>:<contact id>``,
        ``user:<account id>:<user id>``, ``support-case:<case id>``,
        ``share-link-visitor:<link id>``, ``buyer:<account id>`` (as far as retention allows)."""
        kind_name, _, rest = subject.partition(":")
        holder_name, _, within = rest.partition(":")
        try:
            kind = SubjectKind(kind_name)
        except ValueError:
            kinds = ", ".join(k.value for k in ERASABLE)
            raise InvalidValue(f"a subject starts with one of {kinds}: {subject!r}") from None
        holder = self._aggregate(holder_name)
        account_id = holder.id if isinstance(holder, Account) else getattr(holder, "account_id", 0)
        if not isinstance(account_id, UUID):
            raise NotFound(f"no subject {subject!r} in the ledger")
        return self.erase(ctx, account_id, kind, within or holder_name)

    def _aggregate(self, aggregate_id: str) -> LedgerAggregate | None:
        try:
            found: LedgerAggregate = self.ledger.repository.get(UUID(aggregate_id))
        except (ValueError, AggregateNotFoundError):
            return None
        return found

    def _stored(self, aggregate_id: UUID) -> list[StoredEvent]:
        return list(self.ledger.recorder.select_events(aggregate_id))

    def _plaintext(self, holder_id: UUID, subject: str) -> tuple[int, ...]:
        positions = []
        for stored in self._stored(holder_id):
            if subject in plaintext_subjects(stored):
                at = position_of(self.ledger.recorder, holder_id, stored.originator_version)
                positions.append(at or 0)
        return tuple(positions)


def _named(events: Iterable[object], kind: SubjectKind) -> set[str]:
    """The contact or user ids an account's events name (its whole history: a contact
    removed since is still in it)."""
    names = set()
    for event in events:
        if kind is SubjectKind.CONTACT and isinstance(event, Account.ContactAdded):
            names.add(event.contact_id)
        elif kind is SubjectKind.USER and isinstance(event, Account.UserAdded):
            names.add(event.user.user_id)
        elif kind is SubjectKind.USER and isinstance(event, Account.AccountOpened):
            names.add(event.administrator.user_id)
    return names
