"""Point-in-time lookups over the audit trail, the ledger's index of recorded time.

The audit trail has one row per event with its recorded time, effective date, type and
account; these queries read it to find, without folding anything, which versions of an
aggregate were known at an instant, which of those were not yet in force on a day (the
rule of ``projections.in_force``, spelled here in SQL), and an account's aggregates and
timeline as known at an instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from projections.audit_trail import TABLE, recorded
from projections.in_force import RECORDED_DAY_EVENT_TYPES
from projections.store import Sql

# The first day an audit row's event is in force (NULL for a creation: every day).
# Mirrors projections.in_force.in_force_on; a test checks the two agree.
IN_FORCE_ON = (
    "CASE WHEN aggregate_version = 1 THEN NULL"
    " WHEN effective_on IS NULL"
    f" OR event_type IN ({', '.join('?' for _ in RECORDED_DAY_EVENT_TYPES)})"
    " THEN SUBSTR(recorded_at, 1, 10) ELSE effective_on END"
)


def first_deferred_version(sql: Sql, aggregate_id: UUID, version: int, on: date) -> int | None:
    """The first of the aggregate's versions up to ``version`` not yet in force on ``on``."""
    value = sql.scalar(
        f"SELECT MIN(aggregate_version) FROM {TABLE} WHERE aggregate_id = ?"
        f" AND aggregate_version <= ? AND ({IN_FORCE_ON}) > ?",
        (str(aggregate_id), version, *RECORDED_DAY_EVENT_TYPES, on.isoformat()),
    )
    return None if value is None else int(value)


def aggregates_of_account(
    sql: Sql, account_id: UUID, as_of: datetime, types: tuple[str, ...]
) -> list[tuple[str, UUID]]:
    """(type, id) of the account's aggregates of ``types`` created at or before ``as_of``."""
    rows = sql.execute(
        f"SELECT aggregate_type, aggregate_id FROM {TABLE} WHERE account_id = ?"
        f" AND aggregate_version = 1 AND recorded_at <= ?"
        f" AND aggregate_type IN ({', '.join('?' for _ in types)}) ORDER BY position",
        (str(account_id), recorded(as_of), *types),
    ).fetchall()
    return [(str(kind), UUID(str(aggregate_id))) for kind, aggregate_id in rows]


@dataclass(frozen=True)
class TimelineEntry:
    position: int
    recorded_at: str  # UTC, ISO 8601 with microseconds and Z
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    event_type: str
    actor: str
    role: str
    effective_on: str | None  # the event's own effective date
    in_force_on: str | None  # the first day it is in force (None: a creation, every day)
    reason: str | None


def timeline(
    sql: Sql, account_id: UUID, as_of: datetime, limit: int = 10_000
) -> list[TimelineEntry]:
    """The account's events recorded at or before ``as_of``, in log order (at most ``limit``)."""
    rows = sql.execute(
        "SELECT position, recorded_at, aggregate_type, aggregate_id, aggregate_version,"
        f" event_type, actor, role, effective_on, {IN_FORCE_ON}, reason FROM {TABLE}"
        " WHERE account_id = ? AND recorded_at <= ? ORDER BY position LIMIT ?",
        (*RECORDED_DAY_EVENT_TYPES, str(account_id), recorded(as_of), limit),
    ).fetchall()
    return [
        TimelineEntry(
            int(position),
            str(at),
            str(kind),
            str(aggregate_id),
            int(version),
            str(event),
            str(actor),
            str(role),
            effective,
            in_force,
            reason,
        )
        for (
            position,
            at,
            kind,
            aggregate_id,
            version,
            event,
            actor,
            role,
            effective,
            in_force,
            reason,
        ) in rows
    ]
