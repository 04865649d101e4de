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
class KnownVersion:
    """An aggregate of an account as known at an instant, and in force on a day."""

    aggregate_type: str
    aggregate_id: UUID
    version: int  # the last version recorded at or before the instant
    first_deferred: int | None  # the first of those not yet in force on the day


def versions_of_account(
    sql: Sql, account_id: UUID, as_of: datetime, on: date, types: tuple[str, ...]
) -> list[KnownVersion]:
    """``aggregates_of_account``, each with its ``version_as_of`` and its
    ``first_deferred_version``: one query for all of them, in the order of creation."""
    rows = sql.execute(
        "SELECT k.kind, k.id, k.version,"
        f" (SELECT MIN(aggregate_version) FROM {TABLE} WHERE aggregate_id = k.id"
        f" AND aggregate_version <= k.version AND ({IN_FORCE_ON}) > ?)"
        " FROM (SELECT c.position AS created, c.aggregate_type AS kind, c.aggregate_id AS id,"
        f" (SELECT MAX(v.aggregate_version) FROM {TABLE} v"
        " WHERE v.aggregate_id = c.aggregate_id AND v.recorded_at <= ?) AS version"
        f" FROM {TABLE} c WHERE c.account_id = ? AND c.aggregate_version = 1"
        " AND c.recorded_at <= ?"
        f" AND c.aggregate_type IN ({', '.join('?' for _ in types)})) k"
        " ORDER BY k.created",
        (
            *RECORDED_DAY_EVENT_TYPES,
            on.isoformat(),
            recorded(as_of),
            str(account_id),
            recorded(as_of),
            *types,
        ),
    ).fetchall()
    return [
        KnownVersion(str(kind), UUID(str(aggregate_id)), int(version), _int(deferred))
        for kind, aggregate_id, version, deferred in rows
    ]


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


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
