"""The ShareLink: an expiring, revocable link to one invoice that works without logging in.

The link's secret is never stored: the aggregate keeps a hash of it, and its id is
derived from that hash, so a presented link is found by one keyed read. It lives at
most ``MAX_DAYS`` days (``DEFAULT_DAYS`` unless asked otherwise), and its openings are
recorded (when, from which address) for the account's admins and auditors to see.

Anyone holding the link opens it without logging in, so an opening cannot cost an event
each: the log would grow with every request of an anonymous visitor. A link records at
most one opening per ``RECORDING_INTERVAL``; the event says how many openings it stands
for (itself, and those not recorded one by one since the link's previous event, as
counted by the service that served them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import AlreadyInThatState, InvalidValue, NotFound
from domain.personal_data import ERASED, SubjectKind, personal

DEFAULT_DAYS = 7
MAX_DAYS = 30
DOCUMENTS = ("summary", "pdf")  # what an access opened: the page, or the PDF
RECORDING_INTERVAL = timedelta(hours=1)  # at most one recorded opening per link per interval
# (when, client address, document, openings it stands for)
Opening = tuple[datetime, str, str, int]
LinkStatus = Literal["live", "expired", "revoked"]


def share_link_id(token_hash: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"subledger:share-link:{token_hash}")


class ShareLink(LedgerAggregate):
    # v2: each opening carries its count (snapshots of v1 hold 3-tuples).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["accesses"] = [(*opening, 1) for opening in state["accesses"]]

    class ShareLinkCreated(LedgerAggregate.Created):
        invoice_id: UUID
        account_id: UUID
        token_hash: str
        expires_at: datetime

    class ShareLinkRevoked(LedgerAggregate.Event):
        def apply(self, link: ShareLink) -> None:
            link.revoked_at = self.timestamp

    class ShareLinkAccessed(LedgerAggregate.Event):
        """v2 added ``count``: v1 recorded every opening, one each."""

        class_version = 2
        client_address: str  # of the opening that was recorded
        document: str  # "summary" (the page) or "pdf"
        count: int  # the openings it stands for: itself and those unrecorded since the last

        personal_data = (personal(SubjectKind.SHARE_LINK_VISITOR, "client_address"),)

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["count"] = 1

        def apply(self, link: ShareLink) -> None:
            opening = (self.timestamp, self.client_address, self.document, self.count)
            link.accesses.append(opening)

    class PersonalDataErased(LedgerAggregate.Event):
        """The addresses its visitors opened the link from were erased."""

        kind: str  # "share-link-visitor"
        subject_id: str  # empty: the link's visitors are the subject

        def apply(self, link: ShareLink) -> None:
            link.accesses = [(at, ERASED, doc, count) for at, _, doc, count in link.accesses]

    def __init__(
        self, invoice_id: UUID, account_id: UUID, token_hash: str, expires_at: datetime
    ) -> None:
        self.invoice_id = invoice_id
        self.account_id = account_id
        self.token_hash = token_hash
        self.expires_at = expires_at
        self.revoked_at: datetime | None = None
        self.accesses: list[Opening] = []

    @classmethod
    def create(
        cls,
        token_hash: str,
        invoice_id: UUID,
        account_id: UUID,
        days: int,
        cause: Cause,
    ) -> ShareLink:
        if not 1 <= days <= MAX_DAYS:
            raise InvalidValue(f"a share link lasts 1 to {MAX_DAYS} days, not {days}")
        return cls._begin(
            cls.ShareLinkCreated,
            share_link_id(token_hash),
            cause,
            invoice_id=invoice_id,
            account_id=account_id,
            token_hash=token_hash,
            expires_at=cause.at + timedelta(days=days),
        )

    def is_live(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at

    def status(self, at: datetime) -> LinkStatus:
        if self.revoked_at is not None:
            return "revoked"
        return "live" if at < self.expires_at else "expired"

    def revoke(self, cause: Cause) -> None:
        if self.revoked_at is not None:
            raise AlreadyInThatState(f"share link {self.id} is already revoked")
        self._record(self.ShareLinkRevoked, cause)

    def erase_personal_data(self, cause: Cause) -> None:
        cause.require_reason("erasing personal data")
        kind = SubjectKind.SHARE_LINK_VISITOR.value
        self._record(self.PersonalDataErased, cause, kind=kind, subject_id="")

    @property
    def openings(self) -> int:
        return sum(opening[3] for opening in self.accesses)

    def record_access(
        self, client_address: str, document: str, cause: Cause, unrecorded: int = 0
    ) -> bool:
        """Someone opened the link: recorded (standing also for ``unrecorded`` earlier
        openings) unless the link recorded one less than ``RECORDING_INTERVAL`` ago;
        returns whether it was. An expired or revoked link is, to them, no link at all."""
        if not self.is_live(cause.at):
            raise NotFound("no such shared invoice")
        if document not in DOCUMENTS:
            raise InvalidValue(f"a shared invoice is opened as one of {DOCUMENTS}, not {document}")
        if unrecorded < 0:
            raise InvalidValue(f"unrecorded openings cannot be negative, got {unrecorded}")
        if self.accesses and cause.at - self.accesses[-1][0] < RECORDING_INTERVAL:
            return False
        self._record(
            self.ShareLinkAccessed,
            cause,
            client_address=client_address[:100],
            document=document,
            count=unrecorded + 1,
        )
        return True
