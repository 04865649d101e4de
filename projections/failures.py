"""A projection that fails on an event: recorded, retried with growing pauses, reported.

The log is immutable, so an event a projection cannot store (a value its tables refuse,
a bug in its code) fails it at that position on every try. The runner records the
failure (the projection, the position of the event, the error, how many attempts) in
``projection_failures``, in the read store, so that every process reports it (readiness,
metrics, ``subledger projections status``), keeps the other projections running, and
tries the failed one again after a pause that doubles up to a minute. The failure is
deleted in the transaction that moves the projection past its position: a release that
fixes the cause resumes from exactly there, and nothing is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from projections.store import Sql

TABLE = "projection_failures"
FAILURES_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failing_since DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION NOT NULL
)"""
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 60.0
ERROR_LENGTH = 500


@dataclass(frozen=True)
class Failure:
    name: str
    position: int  # the event it fails on
    error: str
    attempts: int
    failing_since: float  # Unix time of the first failed attempt at this position
    next_attempt_at: float

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.failing_since, UTC).isoformat(timespec="seconds")
        return (
            f"{self.name} fails at position {self.position} since {since} "
            f"({self.attempts} attempts): {self.error}"
        )


def pause_after(attempts: int) -> float:
    """Seconds before the next attempt: 1, 2, 4, ... up to a minute."""
    return float(min(FIRST_PAUSE * 2 ** min(attempts - 1, 30), LONGEST_PAUSE))


def error_text(error: BaseException) -> str:
    """The error as text any store keeps and any terminal shows: its message may quote
    the very value that could not be stored, so everything but printable ASCII is
    escaped, and it is bounded."""
    text = f"{type(error).__name__}: {error}".strip()
    return text.encode("unicode_escape").decode("ascii")[:ERROR_LENGTH]


def record(sql: Sql, name: str, position: int, error: str, now: float) -> Failure:
    """One more failed attempt of ``name`` at ``position`` (a first one if it failed
    elsewhere before)."""
    previous = failures(sql).get(name)
    if previous is not None and previous.position == position:
        attempts, since = previous.attempts + 1, previous.failing_since
    else:
        attempts, since = 1, now
    failure = Failure(name, position, error, attempts, since, now + pause_after(attempts))
    sql.execute(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "position = excluded.position, error = excluded.error, attempts = excluded.attempts, "
        "failing_since = excluded.failing_since, next_attempt_at = excluded.next_attempt_at",
        (name, position, error, attempts, since, failure.next_attempt_at),
    )
    return failure


def clear(sql: Sql, name: str, passed: int | None = None) -> None:
    """Forget ``name``'s failure once it has applied position ``passed`` (or in any case)."""
    if passed is None:
        sql.execute(f"DELETE FROM {TABLE} WHERE name = ?", (name,))
    else:
        sql.execute(f"DELETE FROM {TABLE} WHERE name = ? AND position <= ?", (name, passed))


def failures(sql: Sql) -> dict[str, Failure]:
    """Every projection failing now, by name."""
    rows = sql.execute(
        f"SELECT name, position, error, attempts, failing_since, next_attempt_at FROM {TABLE} "
        "ORDER BY name"
    ).fetchall()
    return {
        row[0]: Failure(row[0], int(row[1]), row[2], int(row[3]), float(row[4]), float(row[5]))
        for row in rows
    }
