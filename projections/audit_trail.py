"""The audit trail: one row per event of the global log, with who, when and why.

It is also the ledger's index of recorded time: (aggregate, version, recorded_at) lets a
point-in-time read find the last version of an aggregate recorded at or before an
instant without scanning its events.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

from domain.account import Account
from domain.base import LedgerAggregate
from projections.event_json import event_data, event_type
from projections.projection import LoadAggregate, LoggedEvent
from projections.store import Sql

TABLE = "audit_events"


def recorded(moment: datetime) -> str:
    """Recorded time as sortable text: UTC, microseconds, ``Z`` (a naive time is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad the year to four digits
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as the strftime above, at a fraction of its cost (once per event).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Fields that hold credentials (or their hashes): kept out of the trail's payloads, which
# an account's admins and every auditor can read.
SECRET_FIELDS = frozenset({"token_hash", "secret", "secret_hash"})


def redacted(data: dict[str, Any]) -> dict[str, Any]:
    if SECRET_FIELDS.isdisjoint(data):
        return data  # most events: no credential to hide
    return {k: "[redacted]" if k in SECRET_FIELDS else v for k, v in data.items()}


# Writes what ``json.dumps(value, sort_keys=True)`` writes, without making an encoder per
# call as ``json.dumps`` does when given any option; no check for cycles, which
# ``event_data``'s fresh tree never has (it costs a set entry per dict and list).
_PAYLOAD = json.JSONEncoder(sort_keys=True, check_circular=False)


# What the trail keeps of an aggregate: its type, its account (None: none) and its id as text.
_Known = tuple[str, str | None, str]


def created_identity(event: LedgerAggregate.Event) -> tuple[str, str | None]:
    """The type and account of the aggregate ``event`` creates: as the aggregate it makes
    has them, read from the event itself where it names them (most do). Making the
    aggregate was a sixth of the trail's time over the rebuild benchmark's log.

    The class is the one the event names (``mutate`` makes one of it); an account's id
    is its own; an aggregate made by an event that names an account belongs to that
    account, as ``_learn`` reads it from the trail's row of that event."""
    topic = getattr(event, "originator_topic", None)
    if topic is not None:
        kind = resolve_topic(topic)
        if issubclass(kind, Account):
            return kind.__name__, str(event.originator_id)
        own_account = getattr(event, "account_id", None)
        if isinstance(own_account, UUID):
            return kind.__name__, str(own_account)
    aggregate = event.mutate(None)
    account_id = account_of(aggregate)
    return type(aggregate).__name__, str(account_id) if account_id else None


def account_of(aggregate: Any) -> UUID | None:
    if isinstance(aggregate, Account):
        return aggregate.id
    account_id = getattr(aggregate, "account_id", None)
    return account_id if isinstance(account_id, UUID) else None


class AuditTrail:
    """One row per event, a batch written with one multi-row statement (COPY on PostgreSQL).

    A row names the aggregate's type and account, which never change after its creation:
    they are kept per aggregate (learnt from each creation event), and those of an
    aggregate not kept are read in one query per batch from the trail's own row of its
    creation, so the trail folds no aggregate at all."""

    name = "audit_trail"
    version = 1
    personal_data = True  # each event's payload: rebuilt after an erasure
    tables: tuple[str, ...] = (TABLE,)
    # The filters' indexes (``audit_rows``, the history pages), made once the trail is at
    # the log's end (projections.projection.reader_indexes).
    reader_indexes = tuple(
        f"CREATE INDEX IF NOT EXISTS {TABLE}_{name} ON {TABLE} ({columns})"
        for name, columns in {
            "account": "account_id, position",
            "type": "event_type, position",
            "actor": "actor, position",
            "recorded": "recorded_at",
        }.items()
    )

    def __init__(self, load: LoadAggregate, capacity: int = 200_000) -> None:
        self._load = load  # only for an aggregate whose creation the trail has no row of
        self._capacity = capacity
        # Per aggregate, keyed by its id's number (a UUID's hash and equality are Python
        # code, asked once or twice per event): its type, its account and its id as text
        # (made once per aggregate kept, not once per event).
        self._known: OrderedDict[int, _Known] = OrderedDict()
        self._accounts: dict[int, str] = {}  # accounts' ids as text, by number

    def create(self, sql: Sql) -> None:
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                position BIGINT PRIMARY KEY,
                recorded_at TEXT NOT NULL,
                effective_on TEXT,
                aggregate_type TEXT NOT NULL,
                aggregate_id TEXT NOT NULL,
                aggregate_version INTEGER NOT NULL,
                account_id TEXT,
                event_type TEXT NOT NULL,
                actor TEXT NOT NULL,
                role TEXT NOT NULL,
                request_id TEXT NOT NULL,
                correlation_id TEXT NOT NULL,
                reason TEXT,
                payload TEXT NOT NULL
            )"""
        )
        # The fold reads an aggregate's creation by this one; the rest only readers use.
        sql.execute(
            f"CREATE INDEX IF NOT EXISTS {TABLE}_aggregate"
            f" ON {TABLE} (aggregate_id, aggregate_version)"
        )

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        rows = []
        self._learn(sql, batch)
        known = self._known
        encode = _PAYLOAD.encode
        accounts = self._accounts
        # A command's events share their recorded time: each distinct one written once.
        stamps: dict[datetime, str] = {}
        for logged in batch:
            event = logged.event
            stamp = stamps.get(event.timestamp)
            if stamp is None:
                stamp = stamps[event.timestamp] = recorded(event.timestamp)
            originator_id = event.originator_id
            aggregate_type, account_id, aggregate_id = known.get(
                originator_id.int
            ) or self._identity(event)
            # An event that names its account is in that account's history, even when its
            # aggregate serves many accounts (a numbering series: ADR 0022).
            own_account = getattr(event, "account_id", None)
            if isinstance(own_account, UUID):
                account_id = accounts.get(own_account.int) or self._account_text(own_account)
            effective = event.effective()
            meta = event.meta
            rows.append(
                (
                    logged.position,
                    stamp,
                    effective.isoformat() if effective else None,
                    aggregate_type,
                    aggregate_id,
                    event.originator_version,
                    account_id,
                    event_type(event),
                    meta.actor_id,
                    meta.actor_role,
                    meta.request_id,
                    meta.correlation_id,
                    meta.reason,
                    encode(redacted(event_data(event))),
                )
            )
        sql.insert_many(TABLE, COLUMNS, rows)

    def _learn(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        """Know the type and account of every aggregate ``batch`` names."""
        events = [logged.event for logged in batch]
        created = {event.originator_id.int for event in events if event.originator_version == 1}
        known = self._known
        # Not ``- self._known.keys()``: that iterates all that is known (200,000) per batch.
        missing = {
            number: event.originator_id
            for event in events
            if (number := event.originator_id.int) not in created and number not in known
        }
        ids = [str(aggregate_id) for aggregate_id in missing.values()]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ", ".join("?" for _ in part)
            for aggregate_id, aggregate_type, account_id in sql.execute(
                f"SELECT aggregate_id, aggregate_type, account_id FROM {TABLE}"
                f" WHERE aggregate_version = 1 AND aggregate_id IN ({marks})",
                part,
            ).fetchall():
                self._keep(UUID(aggregate_id).int, (aggregate_type, account_id, aggregate_id))

    def _identity(self, event: LedgerAggregate.Event) -> _Known:
        """The type and account of an aggregate not known yet, kept from now on."""
        if event.originator_version == 1:
            aggregate_type, account_id = created_identity(event)
        else:
            aggregate = self._load(event.originator_id, event.originator_version)
            found = account_of(aggregate)
            aggregate_type, account_id = type(aggregate).__name__, str(found) if found else None
        known = (aggregate_type, account_id, str(event.originator_id))
        self._keep(event.originator_id.int, known)
        return known

    def _account_text(self, account_id: UUID) -> str:
        """``str(account_id)``, kept: an account names many events' rows."""
        if len(self._accounts) >= self._capacity:
            self._accounts.clear()  # bounded; made again as asked
        text = self._accounts[account_id.int] = str(account_id)
        return text

    def _keep(self, number: int, known: _Known) -> None:
        self._known[number] = known
        self._known.move_to_end(number)
        if len(self._known) > self._capacity:
            self._known.popitem(last=False)

    def forget(self) -> None:
        self._known.clear()
        self._accounts.clear()


@dataclass(frozen=True)
class AuditFilter:
    account_id: UUID | None = None
    aggregate_id: UUID | None = None
    actor: str | None = None
    event_type: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None  # exclusive
    after: int = 0  # the cursor: rows with a greater position


COLUMNS = (
    "position",
    "recorded_at",
    "effective_on",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "account_id",
    "event_type",
    "actor",
    "role",
    "request_id",
    "correlation_id",
    "reason",
    "payload",
)


def audit_rows(sql: Sql, where: AuditFilter, limit: int) -> list[dict[str, Any]]:
    """Rows matching ``where``, in log order, after its cursor; payload parsed."""
    clauses: list[str] = ["position > ?"]
    params: list[object] = [where.after]
    for column, value in (
        ("account_id", where.account_id),
        ("aggregate_id", where.aggregate_id),
        ("actor", where.actor),
        ("event_type", where.event_type),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(str(value))
    if where.recorded_from is not None:
        clauses.append("recorded_at >= ?")
        params.append(recorded(where.recorded_from))
    if where.recorded_to is not None:
        clauses.append("recorded_at < ?")
        params.append(recorded(where.recorded_to))
    rows = sql.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE {' AND '.join(clauses)} "
        "ORDER BY position LIMIT ?",
        (*params, limit),
    ).fetchall()
    found = []
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["payload"] = json.loads(item["payload"])
        found.append(item)
    return found


def version_as_of(sql: Sql, aggregate_id: UUID, as_of: datetime) -> int | None:
    """The aggregate's last version recorded at or before ``as_of`` (None: not yet born)."""
    value = sql.scalar(
        f"SELECT MAX(aggregate_version) FROM {TABLE} WHERE aggregate_id = ? AND recorded_at <= ?",
        (str(aggregate_id), recorded(as_of)),
    )
    return None if value is None else int(value)
