"""The projection runner: pulls the global log in batches and applies it, exactly once.

For each projection, one transaction applies a batch and moves the projection's position
in the ``projection_positions`` table, so a crash anywhere leaves rows and position in
step. The runner never relies on notifications to see events: it reads the log from its
position until it is empty, then waits for a wake-up (PostgreSQL NOTIFY) or the poll
interval, whichever comes first. A failed connection is dropped, and after a pause the
runner goes on from the position last committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from projections.projection import LoggedEvent, Projection, is_permanent
from projections.store import CONNECTION_ERRORS, ReadStore, Sql

log = logging.getLogger("subledger.projections")

# Reads up to ``limit`` events after ``position`` from the global log.
ReadLog = Callable[[int, int], Sequence[LoggedEvent]]
# Blocks until something may have been written, or ``timeout`` seconds pass.
Wait = Callable[[float], None]

POSITIONS_TABLE = """
CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    version INTEGER NOT NULL
)"""


def position_of(sql: Sql, name: str, claim: bool = False) -> tuple[int, int] | None:
    """Where ``name`` has reached; ``claim`` locks its row until the transaction ends.

    A claimed position keeps two runners from applying the same batch: one elected
    while another has not yet noticed it lost the lock (a dropped lock connection)
    waits for that batch to commit, then reads the position it left. SQLite needs no
    row lock: its ``BEGIN IMMEDIATE`` already admits one writer at a time.
    """
    lock = " FOR UPDATE" if claim and sql.dialect == "postgres" else ""
    row = sql.execute(
        f"SELECT position, version FROM projection_positions WHERE name = ?{lock}", (name,)
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def positions(sql: Sql, names: Sequence[str]) -> dict[str, int]:
    """Where each named projection has reached (0 if it never ran)."""
    return {name: (position_of(sql, name) or (0, 0))[0] for name in names}


def _save_position(sql: Sql, name: str, position: int, version: int) -> None:
    sql.execute(
        "INSERT INTO projection_positions (name, position, version) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, version = excluded.version",
        (name, position, version),
    )


class PermanentProjection(Exception):
    """A permanent projection (the hash chain) is never dropped, reset or rebuilt."""

    def __init__(self, projection: Projection, why: str) -> None:
        super().__init__(f"{projection.name} is permanent: {why}")


class ProjectionRunner:
    def __init__(
        self,
        store: ReadStore,
        read_log: ReadLog,
        head: Callable[[], int],
        projections: Sequence[Projection],
        batch_size: int = 500,
    ) -> None:
        self.store = store
        self.read_log = read_log
        self.head = head
        self.projections = list(projections)
        self.batch_size = batch_size
        self.last_error: str | None = None

    def prepare(self) -> None:
        """Create tables; a projection whose table version changed is rebuilt from 0."""
        with self.store.transaction() as sql:
            sql.execute(POSITIONS_TABLE)
            for projection in self.projections:
                known = position_of(sql, projection.name)
                if known is not None and known[1] != projection.version:
                    if is_permanent(projection):
                        raise PermanentProjection(
                            projection,
                            f"its tables are at version {known[1]}, this code expects "
                            f"{projection.version}, and they are never rebuilt",
                        )
                    self._drop(sql, projection)
                    known = None
                projection.create(sql)
                if known is None:
                    _save_position(sql, projection.name, 0, projection.version)

    def _drop(self, sql: Sql, projection: Projection) -> None:
        if is_permanent(projection):
            raise PermanentProjection(projection, "its rows are never dropped")
        for table in projection.tables:
            sql.execute(f"DROP TABLE IF EXISTS {table}")
        sql.execute("DELETE FROM projection_positions WHERE name = ?", (projection.name,))
        projection.forget()

    def reset(self, projection: Projection) -> None:
        """Empty a projection's tables and position: the next runs rebuild it from 0."""
        with self.store.transaction() as sql:
            self._drop(sql, projection)
            projection.create(sql)
            _save_position(sql, projection.name, 0, projection.version)

    def positions(self) -> dict[str, int]:
        with self.store.transaction() as sql:
            return {p.name: (position_of(sql, p.name) or (0, 0))[0] for p in self.projections}

    def lag(self) -> dict[str, int]:
        head = self.head()
        return {name: max(head - position, 0) for name, position in self.positions().items()}

    def step(self) -> int:
        """Read the next batch once and apply it to every projection that has not seen it,
        each in its own transaction; returns how many (event, projection) pairs it applied."""
        reached = self.positions()
        batch = self.read_log(min(reached.values(), default=0), self.batch_size)
        return sum(self._apply(projection, batch) for projection in self.projections)

    def _apply(self, projection: Projection, batch: Sequence[LoggedEvent]) -> int:
        try:
            with self.store.transaction() as sql:
                # Claimed (FOR UPDATE on PostgreSQL): a second runner waits here, then sees
                # the position this one leaves and skips what it applied.
                claimed = position_of(sql, projection.name, claim=True)
                position, version = claimed or (0, projection.version)
                unseen = [logged for logged in batch if logged.position > position]
                for logged in unseen:
                    projection.apply(sql, logged)
                if unseen:
                    _save_position(sql, projection.name, unseen[-1].position, version)
        except BaseException:
            projection.forget()  # its memory may be ahead of the rolled-back tables
            raise
        return len(unseen)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything in the log now; returns how many (event, projection) pairs."""
        applied = 0
        while count := self.step():
            applied += count
            if progress is not None:
                progress(count)
        return applied

    def run(self, stop: threading.Event, wait: Wait, poll: float = 1.0, pause: float = 1.0) -> None:
        """Catch up, then wait for more, until ``stop`` is set; survive a lost connection."""
        prepared = False
        while not stop.is_set():
            try:
                if not prepared:
                    self.prepare()
                    prepared = True
                self.catch_up()
                self.last_error = None
                wait(poll)
            except CONNECTION_ERRORS as error:
                self.last_error = f"{type(error).__name__}: {error}".strip()
                log.warning("projection runner lost its connection: %s", self.last_error)
                self.store.reset()
                stop.wait(pause)
