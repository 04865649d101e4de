"""Verifying the hash chain: recompute it from the event store and compare it with the seals.

Two streams are walked side by side, in position order, up to the sealed head: the
events as the store holds them now, and the seals (the ``hash_chain`` table). The first
position where they disagree is the break. What is found there names its kind, by
asking where the event sealed at that position is stored now, and where the event
stored there was sealed:

- ``changed``: the same event (aggregate, version) with other bytes, or another event
  in its place that was never sealed anywhere while the sealed one is gone;
- ``deleted``: the event sealed there is no longer in the store;
- ``inserted``: an event that was never sealed is stored at a sealed position;
- ``reordered``: the event stored there was sealed at another position (two events
  swapped, or one moved);
- ``seal-altered``: the store agrees with the seal's digest, but the seal's hash is not
  the chain's: the ``hash_chain`` table itself was edited.

Events stored after the sealed head are not checked: the projection has not sealed them
yet. A check ``from`` a position starts from the hash sealed there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from adapters.log_position import position_of
from adapters.raw_log import RawEvent, select_raw
from domain.errors import InvalidValue
from projections.hash_chain import (
    LINKS,
    Seal,
    SealRow,
    chained,
    hash_at,
    seal_at,
    seal_row_pages,
    sealed_position,
    stored_digest,
    tip,
)
from projections.store import ReaderPool

PROGRESS_EVERY = 1000
T = TypeVar("T")


class BreakKind(Enum):
    CHANGED = "changed"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    SEAL_ALTERED = "seal-altered"


@dataclass(frozen=True)
class ChainBreak:
    position: int
    kind: BreakKind
    detail: str


@dataclass(frozen=True)
class Verification:
    start: int  # the positions after this one...
    end: int  # ...up to this one were checked
    sealed_head: int
    store_head: int
    checked: int  # events recomputed and found as sealed
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def summary(self) -> str:
        span = f"positions {self.start + 1}..{self.end}"
        if self.first_break is not None:
            found = self.first_break
            return (
                f"BROKEN at position {found.position} ({found.kind.value}): {found.detail}; "
                f"{self.checked} events before it match their seals"
            )
        unsealed = self.store_head - self.sealed_head
        later = f"; {unsealed} later positions are not sealed yet" if unsealed > 0 else ""
        return f"intact: {self.checked} events, {span}, match their seals{later}"


def _read_ahead(pages: Iterator[list[T]]) -> Iterator[list[T]]:
    """The pages of ``pages``, the next one read in another thread while this one is used."""
    with ThreadPoolExecutor(1, thread_name_prefix="chain-read") as pool:
        coming = pool.submit(next, pages, None)
        while (page := coming.result()) is not None:
            coming = pool.submit(next, pages, None)
            yield page


def _intact(
    events: list[RawEvent], e: int, seals: list[SealRow], s: int, previous: bytes
) -> tuple[int, bytes]:
    """How many events from ``events[e]`` on are stored where ``seals[s]`` on (``LINKS``
    rows) sealed them, with their sealed digest and hash (hex, as stored, compared as
    text); and the chain's hash after them. The loop that verification spends its time
    in: one tuple of each stream and two SHA-256 per event, no object made."""
    count = 0
    for event, seal in zip(islice(events, e, None), islice(seals, s, None), strict=False):
        if event[0] != seal[0]:
            break
        digest = stored_digest(*event)
        if digest.hex() != seal[1]:
            break
        chain_hash = chained(previous, digest)
        if chain_hash.hex() != seal[2]:
            break
        previous = chain_hash
        count += 1
    return count, previous


def _notification(event: RawEvent) -> Notification:
    return Notification(
        id=event.position,
        originator_id=UUID(bytes=event.aggregate_id),
        originator_version=event.version,
        topic=event.topic,
        state=event.state,
    )


def _event(aggregate_id: UUID | str, version: int) -> str:
    return f"{aggregate_id} v{version}"


class ChainVerifier:
    def __init__(self, recorder: ApplicationRecorder, readers: ReaderPool, batch: int = 5000):
        self.recorder = recorder
        self.readers = readers
        self.batch = batch

    def verify(
        self,
        start: int = 0,
        upto: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Verification:
        """Recompute the chain from the store after ``start`` (up to ``upto``, else the
        sealed head); the first break, if any."""
        with self.readers.transaction() as sql:
            head, _ = tip(sql)
            if not 0 <= start <= head:
                raise InvalidValue(f"from must be a position from 0 to the sealed head {head}")
            previous = hash_at(sql, start)
        end = head if upto is None else min(head, upto)
        store_head = self.recorder.max_notification_id() or 0
        # Each stream's next page is read in a thread of its own while this one checks
        # the current page: the databases' drivers let go of the GIL while they wait.
        stored = _read_ahead(self._stored(start, end))
        # The seals' links alone (no aggregate id, version or time per row): a whole seal
        # is read only where one disagrees with the store.
        sealed = _read_ahead(seal_row_pages(self.readers, start, end, self.batch, LINKS))
        events: list[RawEvent] = []
        seals: list[SealRow] = []
        e = s = checked = 0
        found = None
        while found is None:
            if e == len(events):
                events, e = next(stored, []), 0
            if s == len(seals):
                seals, s = next(sealed, []), 0
            if not events and not seals:
                break
            count, previous = _intact(events, e, seals, s, previous)
            if count:
                e, s = e + count, s + count
                if progress is not None:
                    for _ in range((checked + count) // PROGRESS_EVERY - checked // PROGRESS_EVERY):
                        progress(PROGRESS_EVERY)
                checked += count
                continue
            # Not as sealed, as far as the text says: the pair at hand, one at a time.
            event = events[e] if events else None
            link = seals[s] if seals else None
            if link is not None and (event is None or link[0] < event.position):
                # nothing stored where sealed
                found = self._break(link[0], None, self._seal(link))
            elif event is not None and (link is None or event.position < link[0]):
                # stored where nothing was sealed
                found = self._break(event.position, _notification(event), None)
            else:
                assert event is not None and link is not None
                previous, found = self._check(event, link, previous)
                if found is None:  # the same bytes, spelt otherwise (upper-case hex)
                    e, s, checked = e + 1, s + 1, checked + 1
                    if progress is not None and checked % PROGRESS_EVERY == 0:
                        progress(PROGRESS_EVERY)
        if progress is not None and checked % PROGRESS_EVERY:
            progress(checked % PROGRESS_EVERY)
        return Verification(start, end, head, store_head, checked, found)

    def _seal(self, link: SealRow) -> Seal:
        """The whole seal of a ``LINKS`` row, read again to name a break."""
        with self.readers.transaction() as sql:
            seal = seal_at(sql, link[0])
        if seal is None:  # gone since it was read: what was read, naming no event
            position, digest, chain_hash = link
            return Seal(position, "", 0, bytes.fromhex(digest), bytes.fromhex(chain_hash), "")
        return seal

    def _check(
        self, event: RawEvent, link: SealRow, previous: bytes
    ) -> tuple[bytes, ChainBreak | None]:
        """The chain's hash after ``event``, stored where ``link`` was sealed; or the break."""
        position, sealed_digest, sealed_hash = link
        digest = stored_digest(*event)
        if digest != bytes.fromhex(sealed_digest):  # it covers the event's identity as well
            seal = self._seal(link)
            if (str(UUID(bytes=event.aggregate_id)), event.version) != (
                seal.aggregate_id,
                seal.aggregate_version,
            ):
                return previous, self._break(seal.position, _notification(event), seal)
            what = _event(seal.aggregate_id, seal.aggregate_version)
            detail = f"{what}: its stored bytes are not those sealed"
            return previous, ChainBreak(seal.position, BreakKind.CHANGED, detail)
        chain_hash = chained(previous, digest)
        if chain_hash != bytes.fromhex(sealed_hash):
            detail = (
                "the event matches its sealed digest but the sealed hash is not the chain's: "
                "the hash_chain table was edited"
            )
            return previous, ChainBreak(position, BreakKind.SEAL_ALTERED, detail)
        return chain_hash, None

    def _stored(self, after: int, upto: int) -> Iterator[list[RawEvent]]:
        """The events as stored bytes (never decoded), a page at a time. No upper bound in
        the query, as in ``seal_pages``."""
        while after < upto:
            page = select_raw(self.recorder, after, self.batch)
            within = (
                page
                if not page or page[-1].position <= upto
                else [event for event in page if event.position <= upto]
            )
            if within:
                yield within
            if len(within) < self.batch:
                return
            after = page[-1].position

    def _break(self, position: int, stored: Notification | None, seal: Seal | None) -> ChainBreak:
        """Name the break at ``position`` by where each of the two events is now."""
        here = sealed_here = ""
        moved_to = sealed_at = None  # the sealed event's position now; the stored one's seal
        if seal is not None:
            sealed_here = _event(seal.aggregate_id, seal.aggregate_version)
            sealed_id = UUID(seal.aggregate_id)
            moved_to = position_of(self.recorder, sealed_id, seal.aggregate_version)
        if stored is not None:
            stored_id = UUID(str(stored.originator_id))
            here = _event(stored_id, stored.originator_version)
            with self.readers.transaction() as sql:
                sealed_at = sealed_position(sql, stored_id, stored.originator_version)
        gone = f"{sealed_here}, sealed here, is no longer in the store"
        elsewhere = f"{sealed_here}, sealed here, is now stored at position {moved_to}"
        never = f"{here}, which was never sealed, is stored here"
        moved = f"{here}, sealed at position {sealed_at}, is stored here"
        empty = "where nothing was sealed"
        if stored is None:
            if moved_to is None:
                return ChainBreak(position, BreakKind.DELETED, gone)
            return ChainBreak(position, BreakKind.REORDERED, elsewhere)
        if seal is None:
            if sealed_at is None:
                return ChainBreak(position, BreakKind.INSERTED, f"{never}, {empty}")
            return ChainBreak(position, BreakKind.REORDERED, f"{moved}, {empty}")
        if sealed_at is None and moved_to is None:
            return ChainBreak(position, BreakKind.CHANGED, f"{gone}; {never} instead")
        if sealed_at is None:
            return ChainBreak(position, BreakKind.INSERTED, f"{never}; {elsewhere}")
        if moved_to is None:
            return ChainBreak(position, BreakKind.DELETED, f"{gone}; {moved}")
        return ChainBreak(position, BreakKind.REORDERED, f"{moved}; {elsewhere}")
