"""The public event feed: the global log as CloudEvents, read by cursor, filtered.

Every page answers "what comes after position ``after``": up to ``limit`` public events
in log order, and ``next_after``, the cursor to send next. The cursor only moves over
positions that are final, so paging with it yields every matching event exactly once:

- Without an account, the feed reads the log itself, up to the head as it was when the
  page began (the log is commit-ordered: nothing can appear below the head later).
- With an account, it reads the audit trail's index of (account, position) and stops at
  the position the audit trail has reached: an event the projection has not indexed yet
  is served on a later page, never skipped. Such a feed lags the log by the projections'
  lag (usually milliseconds; it pauses while the audit trail is rebuilt).

The public events are those of the domain's event classes, each with its JSON Schema
(``event_schemas``); bookkeeping (tokens, idempotency records) is left out. Classes are
known from the stored topic (or the audit row) before an event is decoded, so what a
filter skips costs little; the cursor still moves past it, and a page stops after
``SCAN_BUDGET`` entries so that a rare type cannot hold a request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

from domain.base import LedgerAggregate
from domain.errors import InvalidValue
from projections.audit_trail import AuditFilter, audit_rows
from projections.cloudevents import to_cloudevent, type_matches, type_name
from projections.event_schemas import public_event_classes
from projections.runner import positions
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide

AUDIT_TRAIL = "audit_trail"
SCAN_BATCH = 500
SCAN_BUDGET = 10_000
PUBLIC_CLASSES = frozenset(public_event_classes())
PUBLIC_TYPES = frozenset(type_name(cls) for cls in PUBLIC_CLASSES)
# The audit trail names an event's class by its qualified name (``Invoice.InvoicePaid``).
PUBLIC_BY_QUALNAME = {cls.__qualname__: cls for cls in PUBLIC_CLASSES}


@dataclass(frozen=True)
class FeedQuery:
    """Which events a consumer wants: some types (or dotted prefixes), one account."""

    types: tuple[str, ...] = ()
    account_id: UUID | None = None

    def __post_init__(self) -> None:
        for wanted in self.types:
            if not any(type_matches(kind, wanted) for kind in PUBLIC_TYPES):
                raise InvalidValue(
                    f"no event type is or starts with {wanted!r}; see /v1/events/schemas"
                )

    def admits(self, event_class: type | None) -> bool:
        if event_class not in PUBLIC_CLASSES:
            return False
        kind = type_name(event_class)
        return not self.types or any(type_matches(kind, wanted) for wanted in self.types)


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    next_after: int  # the cursor for the next page
    caught_up: bool  # nothing more to read now: wait before asking again


class EventFeed:
    def __init__(self, ledger: Ledger, read_side: ReadSide, public_url: str) -> None:
        self.ledger = ledger
        self.read_side = read_side
        self.public_url = public_url

    def page(self, query: FeedQuery, after: int, limit: int) -> FeedPage:
        if query.account_id is None:
            return self._page_of_log(query, after, limit)
        return self._page_of_account(query, query.account_id, after, limit)

    def progress(self) -> tuple[int, int]:
        """(log head, audit trail position): a feed can have more to say when either moves."""
        return self.ledger.head_position(), self.indexed()

    def indexed(self) -> int:
        """How far the audit trail, the feed's index of accounts, has reached."""
        with self.read_side.readers.transaction() as sql:
            return positions(sql, [AUDIT_TRAIL])[AUDIT_TRAIL]

    def _page_of_log(self, query: FeedQuery, after: int, limit: int) -> FeedPage:
        stop = self.ledger.head_position()
        found: list[dict[str, Any]] = []
        cursor = after
        scanned = 0
        batch_size = SCAN_BATCH if query.types else max(limit, 100)
        while scanned < SCAN_BUDGET:
            batch = self.ledger.recorder.select_notifications(cursor + 1, batch_size, stop=stop)
            for notification in batch:
                cursor = notification.id
                if query.admits(resolve_topic(notification.topic)):
                    event = self.ledger.mapper.to_domain_event(notification)
                    assert isinstance(event, LedgerAggregate.Event)
                    found.append(to_cloudevent(notification.id, event, self.public_url))
                    if len(found) == limit:
                        return FeedPage(found, cursor, caught_up=False)
            scanned += len(batch)
            if len(batch) < batch_size:
                return FeedPage(found, max(cursor, stop), caught_up=True)
        return FeedPage(found, cursor, caught_up=False)

    def _page_of_account(
        self, query: FeedQuery, account_id: UUID, after: int, limit: int
    ) -> FeedPage:
        with self.read_side.readers.transaction() as sql:
            stop = positions(sql, [AUDIT_TRAIL])[AUDIT_TRAIL]  # read first: rows up to it exist
        found: list[dict[str, Any]] = []
        cursor = after
        scanned = 0
        while scanned < SCAN_BUDGET:
            with self.read_side.readers.transaction() as sql:
                rows = audit_rows(sql, AuditFilter(account_id=account_id, after=cursor), SCAN_BATCH)
            final = [row for row in rows if row["position"] <= stop]
            wanted = []
            for row in final:
                cursor = row["position"]
                if query.admits(PUBLIC_BY_QUALNAME.get(row["event_type"])):
                    wanted.append(row)
                    if len(found) + len(wanted) == limit:
                        break
            found += [
                to_cloudevent(position, event, self.public_url)
                for position, event in self._load(wanted)
            ]
            if len(found) == limit:
                return FeedPage(found, cursor, caught_up=False)
            scanned += len(final)
            if len(final) < SCAN_BATCH:
                return FeedPage(found, max(cursor, stop), caught_up=True)
        return FeedPage(found, cursor, caught_up=False)

    def _load(self, rows: Sequence[dict[str, Any]]) -> list[tuple[int, LedgerAggregate.Event]]:
        """The events the audit rows name, read from the event store (one read per
        aggregate), with their positions, in the rows' order."""
        versions: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            versions[row["aggregate_id"]].append(row["aggregate_version"])
        events: dict[tuple[str, int], LedgerAggregate.Event] = {}
        for aggregate_id, wanted in versions.items():
            stored = self.ledger.recorder.select_events(
                UUID(aggregate_id), gt=min(wanted) - 1, lte=max(wanted)
            )
            for item in stored:
                event = self.ledger.mapper.to_domain_event(item)
                assert isinstance(event, LedgerAggregate.Event)
                events[aggregate_id, event.originator_version] = event
        return [
            (row["position"], events[row["aggregate_id"], row["aggregate_version"]]) for row in rows
        ]
