"""The projection runner: pulls the global log in batches and applies it, exactly once.

Each step is one transaction: it claims the positions of every projection due (one
statement, rows locked in the order of their names), reads the batch from the least of
them, applies it to each projection and moves the positions in the
``projection_positions`` table, so a crash anywhere leaves rows and positions in step.
A step that does not commit makes every projection in it forget its memory; a
projection uses what it kept of its tables (``RememberingProjection``) only while the
position a step claims is the one its last committed step here left. The runner
never relies on notifications to see events: it reads the log from its position until
it is empty, then waits for a wake-up (PostgreSQL NOTIFY) or the poll interval,
whichever comes first. A failed connection is dropped, and after a pause the runner
goes on from the positions last committed.

A projection that fails on an event (anything but a lost connection) is isolated
(projections/failures.py): the step is rolled back and taken again with each projection
in a savepoint of its own (none while nothing fails: a savepoint is a round trip on
PostgreSQL); the failing one is rolled back to its savepoint, its failure recorded, and
what came before the event applied, while the others commit. The failed one is tried
again after a pause. So one event no projection of a kind can store never stops the
others, the hash chain included.

A projection that never decodes an event (``StoredProjection``: the hash chain seals the
record as stored) is given the log as stored tuples (``read_stored``) rather than
``LoggedEvent``s, read apart from the others' batches and, while it is behind, in
batches of ``stored_batch_size``: no ``UUID``, ``Notification`` or ``LoggedEvent`` per
event, and a few statements per 10,000 events rather than per 2,000. Keeping up (given
``decode_stored``), a step reads the log once, as stored, and the others are given the
same events to decode; ``run`` ends each catch-up on a read short of a batch, and
remembers the positions it committed for its poll interval, so that a wake-up with
nothing new costs one read and no transaction (ADR 0005).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from adapters.raw_log import RawEvent
from domain.personal_data import is_erasure
from projections import failures
from projections.failures import FAILURES_TABLE, Failure
from projections.projection import (
    LoggedEvent,
    Projection,
    holds_personal_data,
    is_permanent,
    reader_indexes,
)
from projections.store import CONNECTION_ERRORS, ReadStore, Sql, lost_connection

log = logging.getLogger("subledger.projections")

# Reads up to ``limit`` events after ``position`` from the global log.
ReadLog = Callable[[int, int], Sequence[LoggedEvent]]
# Reads up to ``limit`` events after ``position`` as stored, never decoded.
ReadStored = Callable[[int, int], Sequence[RawEvent]]
# An event of a batch, as a projection is given it.
Logged = LoggedEvent | RawEvent
# The same events as ``ReadLog`` would read, from the stored ones (none read again).
DecodeStored = Callable[[Sequence[RawEvent]], Sequence[LoggedEvent]]
# Blocks until something may have been written, or ``timeout`` seconds pass.
Wait = Callable[[float], None]

POSITIONS_TABLE = """
CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    version INTEGER NOT NULL
)"""

# Per projection holding personal data, the newest erasure it was rebuilt after.
ERASURES_TABLE = """
CREATE TABLE IF NOT EXISTS projection_erasures (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)"""


def position_of(sql: Sql, name: str) -> tuple[int, int] | None:
    """Where ``name`` has reached, and the version of its tables."""
    row = sql.execute(
        "SELECT position, version FROM projection_positions WHERE name = ?", (name,)
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


@dataclass(frozen=True)
class _Claim:
    position: int
    version: int
    failed_at: int | None  # the position of the failure recorded for it, if one is


def _claim(sql: Sql, names: Sequence[str]) -> dict[str, _Claim]:
    """Where each named projection has reached, and the position of the failure recorded
    for it if one is, in one statement; the positions claimed until the transaction ends.

    A claimed position keeps two runners from applying the same batch: one elected
    while another has not yet noticed it lost the lock (a dropped lock connection)
    waits for that batch to commit, then reads the position it left and skips what it
    applied. The rows are locked in the order of their names, whichever projections a
    runner claims, so that two runners never wait for each other in a circle. SQLite
    needs no row lock: its ``BEGIN IMMEDIATE`` already admits one writer at a time."""
    marks = ", ".join("?" for _ in names)
    lock = " FOR UPDATE OF p" if sql.dialect == "postgres" else ""
    rows = sql.execute(
        "SELECT p.name, p.position, p.version, f.position FROM projection_positions p"
        f" LEFT JOIN {failures.TABLE} f ON f.name = p.name"
        f" WHERE p.name IN ({marks}) ORDER BY p.name{lock}",
        sorted(names),
    ).fetchall()
    return {
        row[0]: _Claim(int(row[1]), int(row[2]), None if row[3] is None else int(row[3]))
        for row in rows
    }


@dataclass
class _Step:
    """What a step did, acted on once it commits."""

    applied: int = 0  # (event, projection) pairs, as ``step`` returns
    reached: dict[str, tuple[int, int]] = field(default_factory=dict)  # moved: (position, version)
    failures: list[tuple[Projection, Failure, Exception]] = field(default_factory=list)
    restarted: set[str] = field(default_factory=set)  # rebuilt from 0 after an erasure


def _save(sql: Sql, claims: dict[str, _Claim], done: _Step) -> None:
    """Move the positions of a step, in one statement, and delete each failure a
    projection is now past (known from the claim: no statement when none is recorded)."""
    if done.reached:
        values = ", ".join("(?, ?, ?)" for _ in done.reached)
        sql.execute(
            f"INSERT INTO projection_positions (name, position, version) VALUES {values} "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "version = excluded.version",
            [value for name, moved in done.reached.items() for value in (name, *moved)],
        )
    failed_now = {projection.name for projection, _, _ in done.failures}
    for name, claim in claims.items():
        reached = done.reached.get(name, (claim.position, 0))[0]
        if claim.failed_at is None or name in failed_now or name in done.restarted:
            continue
        if claim.failed_at <= reached:
            failures.clear(sql, name, passed=reached)


class StoredProjection(Projection, Protocol):
    """A projection that reads events as stored and never decodes them (the hash chain).

    Given a ``read_stored``, the runner hands it the log as ``RawEvent`` tuples:
    ``apply_stored(sql, events)`` folds them in (in log order, inside the runner's
    transaction), and is called with one event at a time to find the one a failed batch
    stumbled on. Without one, the runner gives it ``LoggedEvent``s through ``apply`` (and
    ``apply_batch`` if it has one), as any projection."""

    def apply_stored(self, sql: Sql, events: Sequence[RawEvent]) -> None:
        """Fold ``events`` (in log order) into the tables."""


def _topic(logged: Logged) -> str:
    return logged.topic if isinstance(logged, RawEvent) else logged.notification.topic


class EventFailed(Exception):
    """A projection failed on the event at ``position`` (not for a lost connection)."""

    def __init__(self, projection: Projection, position: int, error: Exception) -> None:
        super().__init__(f"{projection.name} failed at position {position}")
        self.position = position
        self.error = error


class PermanentProjection(Exception):
    """A permanent projection (the hash chain) is never dropped, reset or rebuilt."""

    def __init__(self, projection: Projection, why: str) -> None:
        super().__init__(f"{projection.name} is permanent: {why}")


def _thaw(frozen_before: bool) -> None:
    """Give back to the collector what a catch-up far behind froze, so that a cycle frozen
    with it (a cache forgotten, a projection reset) is not kept for the process's life. A
    process that had frozen its start-up heap (``serve``'s runner child) has it frozen
    again, with what is alive now, after one full collection."""
    gc.unfreeze()
    if frozen_before:
        gc.collect()
        gc.freeze()


class ProjectionRunner:
    def __init__(
        self,
        store: ReadStore,
        read_log: ReadLog,
        head: Callable[[], int],
        projections: Sequence[Projection],
        batch_size: int = 500,
        now: Callable[[], float] = time.time,
        catch_up_batch_size: int = 2_000,
        read_stored: ReadStored | None = None,
        stored_batch_size: int = 10_000,
        decode_stored: DecodeStored | None = None,
    ) -> None:
        self.store = store
        self.read_log = read_log
        self.read_stored = read_stored
        # Given with ``read_stored``: a runner keeping up reads the log once per step, as
        # stored, and gives the others the same events to decode (``_batches``).
        self.decode_stored = decode_stored
        self.head = head
        self.projections = list(projections)
        self.batch_size = batch_size
        # Far behind the head (a rebuild, a runner started late), batches this large: each
        # costs a commit and a few queries per projection, whatever its size. A runner
        # keeping up reads what is new, in batches of ``batch_size`` at most. Not larger:
        # a stopped runner finishes its batch first (5,000 took a loaded machine over the
        # 20 s a supervisor's SIGTERM is given in the fault tests).
        self.catch_up_batch_size = max(catch_up_batch_size, batch_size)
        # The same for projections that read the log as stored: sealing 10,000 events
        # takes a fraction of a second, so a stop still waits far less than the others'
        # batch of 2,000.
        self.stored_batch_size = max(stored_batch_size, batch_size)
        self._behind = False  # the last read filled a batch: more is waiting
        self._stored_behind = False  # the same, for the stored reads
        self.now = now
        self.last_error: str | None = None
        # The projections failing in this runner: the position each fails at, and when to
        # try it again. A new runner (a fixed release) tries them at once.
        self._failing: dict[str, Failure] = {}
        # The positions this runner's last step committed, for the next step of the same
        # catch-up: after a step that read the log to its end, the next looks for more
        # from there before it opens a transaction (``_nothing_new``).
        self._committed: dict[str, int] | None = None
        self._committed_at = 0.0  # when (time.monotonic())
        # What ``_nothing_new`` found after those positions (from, events), for the step.
        self._prefetched: tuple[int, Sequence[RawEvent]] | None = None
        # The last step committed and read the log to its end (each of its reads came
        # back short of a batch): ``catch_up(confirm_end=False)`` stops there.
        self._at_end = False
        # Per projection, the (position, version) its last committed step here left: a
        # step that claims the same may let it use what it remembers (``_resume``).
        self._left: dict[str, tuple[int, int]] = {}
        # The projections with indexes only readers use, and those this runner has
        # created them for (``_index_for_readers``).
        self._for_readers = [p for p in self.projections if reader_indexes(p)]
        self._indexed: set[str] = set()

    def prepare(self) -> None:
        """Create tables; a projection whose table version changed is rebuilt from 0."""
        self._committed = None
        with self.store.transaction() as sql:
            sql.execute(POSITIONS_TABLE)
            sql.execute(FAILURES_TABLE)
            sql.execute(ERASURES_TABLE)
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
        failures.clear(sql, projection.name)
        self._failing.pop(projection.name, None)
        self._left.pop(projection.name, None)
        self._indexed.discard(projection.name)
        projection.forget()

    def reset(self, projection: Projection) -> None:
        """Empty a projection's tables and position: the next runs rebuild it from 0."""
        self._committed = None
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

    def failures(self) -> dict[str, Failure]:
        with self.store.transaction() as sql:
            return failures.failures(sql)

    def step(self) -> int:
        """Read the next batch once and apply it to every projection that has not seen it
        (a failing one only when its pause is over), all in one transaction; returns how
        many (event, projection) pairs it applied."""
        now = self.now()
        due = [
            p
            for p in self.projections
            if p.name not in self._failing or self._failing[p.name].next_attempt_at <= now
        ]
        self._prefetched = None
        if not due or self._nothing_new(due):
            return 0
        try:
            return self._step(due, isolated=False)
        except EventFailed:
            # A projection failed on an event, and the whole step was rolled back: again,
            # each projection in a savepoint of its own, so that it stops alone.
            return self._step(due, isolated=True)
        finally:
            self._prefetched = None

    def _step(self, due: Sequence[Projection], isolated: bool) -> int:
        """One transaction: claim the positions, read the batches, apply them, move the
        positions. ``isolated``: each projection's work in a savepoint, a failing one
        recorded and left just before its event; else an event's failure (EventFailed)
        rolls back the whole step. Each projection's memory is forgotten if the step does
        not commit (its memory may be ahead of the rolled-back tables)."""
        done = _Step()
        self._committed = None
        self._at_end = False
        try:
            with self.store.transaction() as sql:
                claims = _claim(sql, [p.name for p in due])
                self._resume(sql, due, claims)
                for projection, batch in self._batches(due, claims):
                    done.applied += self._apply(sql, projection, batch, claims, done, isolated)
                _save(sql, claims, done)
        except BaseException:
            for projection in due:
                self._left.pop(projection.name, None)
                projection.forget()
            raise
        for projection, failure, error in done.failures:
            self._failing[projection.name] = failure
            log.error(
                "projection %s; the others go on; next attempt in %.0f s",
                failure.describe(),
                failure.next_attempt_at - self.now(),
                exc_info=failure.attempts == 1 and error,
            )
        for projection in due:
            if projection.name in done.reached:
                self._passed(projection, done.reached[projection.name][0])
        for name, claim in claims.items():
            self._left[name] = done.reached.get(name, (claim.position, claim.version))
        for name in done.restarted | {p.name for p, _, _ in done.failures}:
            self._left.pop(name, None)  # rebuilt, or rolled back to a savepoint: read again
        if done.restarted:
            self.store.scrub()  # and catching up goes on: it rebuilds from 0
        else:
            self._at_end = not (self._behind or self._stored_behind)
            self._committed_at = time.monotonic()
            self._committed = {
                name: done.reached.get(name, (claim.position, claim.version))[0]
                for name, claim in claims.items()
            }
        return done.applied

    def _resume(self, sql: Sql, due: Sequence[Projection], claims: dict[str, _Claim]) -> None:
        """Let each projection use what it remembers of its tables in this step only if
        the position claimed is the one its last committed step here left: another
        process may have moved it since (``CaughtUp`` applies projections too, a deposed
        runner, a reset), and then its tables are not what it remembers."""
        for projection in due:
            claim = claims.get(projection.name)
            left = self._left.get(projection.name)
            resume = getattr(projection, "resume", None)
            if claim is not None and left == (claim.position, claim.version):
                if resume is not None:
                    resume(sql)
            elif self._left.pop(projection.name, None) is not None:
                # Moved elsewhere since: what it kept is not of these tables. (Without an
                # entry it kept nothing vouched for: forgotten already, or of a
                # transaction of its own, which ``resume`` alone carries over.)
                projection.forget()

    def _nothing_new(self, due: Sequence[Projection]) -> bool:
        """Whether the log holds nothing after the positions the last step committed,
        read without a transaction: a step that finds the log at its end (the last of
        each catch-up) then claims nothing and commits nothing. Only after a step that
        read the log to its end, for the projections it claimed. What it finds, read as
        the step would (stored, a batch), is the step's batch if the step claims the
        positions it read from (``_prefetched``); else the step reads again."""
        committed = self._committed
        if committed is None or self._behind or self._stored_behind:
            return False
        if any(p.name not in committed for p in due):
            return False
        stored = [committed[p.name] for p in due if self._reads_stored(p)]
        decoding = [committed[p.name] for p in due if not self._reads_stored(p)]
        if stored and self.read_stored is not None:
            start = min(stored)
            if self.decode_stored is not None and decoding:
                # Read as the step reads, so that what is found is read once.
                found = self.read_stored(start, self.batch_size)
                if found:
                    self._prefetched = (start, found)
                    return False
            elif self.read_stored(start, 1):  # one event is enough to know
                return False
            if not decoding or min(decoding) >= min(stored):
                return True  # the same log, empty after an earlier position: one read
        return not (decoding and self.read_log(min(decoding), 1))

    def _batches(
        self, due: Sequence[Projection], claims: dict[str, _Claim]
    ) -> list[tuple[Projection, Sequence[Logged]]]:
        """Each projection with the batch it is given: read from the least of the claimed
        positions, so that no projection misses an event. Projections that never decode
        read the log as stored, apart from the others: from their own positions (they may
        be ahead), in batches of their own."""

        def reached(projection: Projection) -> int:
            claim = claims.get(projection.name)
            return 0 if claim is None else claim.position

        given: list[tuple[Projection, Sequence[Logged]]] = []
        stored = [p for p in due if self._reads_stored(p)]
        decoding = [p for p in due if not self._reads_stored(p)]
        if (
            stored
            and decoding
            and self.read_stored is not None
            and self.decode_stored is not None
            and not (self._behind or self._stored_behind)
        ):
            # Keeping up (a step per POST, in live serving): one read of the log, as
            # stored, serves both kinds; the others are given the same events to decode.
            start = min(reached(p) for p in due)
            prefetched = self._prefetched
            if prefetched is not None and prefetched[0] == start:
                found = prefetched[1]  # read by ``_nothing_new``, from the same position
            else:
                found = self.read_stored(start, self.batch_size)
            self._behind = self._stored_behind = len(found) >= self.batch_size
            if found:
                batch = self.decode_stored(found)
                given += [(projection, found) for projection in stored]
                given += [(projection, batch) for projection in decoding]
            return given
        if stored and self.read_stored is not None:
            size = self.stored_batch_size if self._stored_behind else self.batch_size
            found = self.read_stored(min(reached(p) for p in stored), size)
            self._stored_behind = len(found) >= self.batch_size
            given += [(projection, found) for projection in stored if found]
        if decoding:
            size = self.catch_up_batch_size if self._behind else self.batch_size
            batch = self.read_log(min(reached(p) for p in decoding), size)
            self._behind = len(batch) >= self.batch_size
            given += [(projection, batch) for projection in decoding if batch]
        return given

    def _reads_stored(self, projection: Projection) -> bool:
        return self.read_stored is not None and hasattr(projection, "apply_stored")

    def _folds_batches(self, projection: Projection) -> bool:
        return self._reads_stored(projection) or hasattr(projection, "apply_batch")

    def _apply(
        self,
        sql: Sql,
        projection: Projection,
        batch: Sequence[Logged],
        claims: dict[str, _Claim],
        done: _Step,
        isolated: bool,
    ) -> int:
        """Apply what ``projection`` has not seen of ``batch``; returns how many events."""
        claim = claims.get(projection.name) or _Claim(0, projection.version, None)
        unseen: Sequence[Logged] = [logged for logged in batch if logged.position > claim.position]
        if self._restarted_for_erasure(sql, projection, unseen):
            done.restarted.add(projection.name)
            return 1  # work done: catching up goes on, to rebuild it
        if isolated:
            unseen = self._apply_isolated(sql, projection, unseen, done)
        elif unseen:
            self._fold(sql, projection, unseen, whole=True)
        if unseen:
            done.reached[projection.name] = (unseen[-1].position, claim.version)
        return len(unseen)

    def _apply_isolated(
        self, sql: Sql, projection: Projection, unseen: Sequence[Logged], done: _Step
    ) -> Sequence[Logged]:
        """Apply ``unseen`` in a savepoint; if an event fails, roll back to it, record the
        failure and apply what came before the event, so that the projection stands just
        before the event it fails on. Returns the events applied."""
        whole = True
        while unseen:
            try:
                with sql.savepoint("projection"):
                    self._fold(sql, projection, unseen, whole)
                return unseen
            except EventFailed as failed:
                projection.forget()  # its memory may be ahead of the rolled-back rows
                if whole and self._folds_batches(projection):
                    whole = False  # which event? The same events again, one at a time.
                    continue
                error = failures.error_text(failed.error)
                failure = failures.record(sql, projection.name, failed.position, error, self.now())
                done.failures.append((projection, failure, failed.error))
                unseen = [logged for logged in unseen if logged.position < failed.position]
                whole = True
        return unseen

    def _fold(
        self, sql: Sql, projection: Projection, unseen: Sequence[Logged], whole: bool
    ) -> None:
        """Fold ``unseen`` into the tables: all at once if the projection folds batches
        (``BatchProjection``, or a ``StoredProjection`` given stored events) and ``whole``,
        else one event at a time. EventFailed names the event a failure is the event's
        (anything but a lost connection); with a whole batch, its first."""
        apply_batch: Callable[[Sql, Sequence[Any]], None] | None = None
        if whole:
            apply_batch = (
                cast(StoredProjection, projection).apply_stored
                if self._reads_stored(projection)
                else getattr(projection, "apply_batch", None)
            )
        at = unseen[0].position
        try:
            if apply_batch is not None:
                apply_batch(sql, unseen)
                return
            for logged in unseen:
                at = logged.position
                if isinstance(logged, RawEvent):
                    cast(StoredProjection, projection).apply_stored(sql, [logged])
                else:
                    projection.apply(sql, logged)
        except Exception as error:
            if lost_connection(error):
                raise
            raise EventFailed(projection, at, error) from error

    def _restarted_for_erasure(
        self, sql: Sql, projection: Projection, unseen: Sequence[Logged]
    ) -> bool:
        """A projection keeping personal fields, about to apply an erasure it has not been
        rebuilt after, starts again from 0 instead, in this transaction: the rows it wrote
        before are written again as the events read now (erased), and its position never
        says it has passed the erasure while it still holds what was erased."""
        if not holds_personal_data(projection):
            return False
        erasure = next((e.position for e in unseen if is_erasure(_topic(e))), None)
        if erasure is None:
            return False
        row = sql.execute(
            "SELECT position FROM projection_erasures WHERE name = ?", (projection.name,)
        ).fetchone()
        if row is not None and int(row[0]) >= erasure:
            return False
        self._drop(sql, projection)
        projection.create(sql)
        _save_position(sql, projection.name, 0, projection.version)
        sql.execute(
            "INSERT INTO projection_erasures VALUES (?, ?) ON CONFLICT (name)"
            " DO UPDATE SET position = excluded.position",
            (projection.name, erasure),
        )
        log.info("projection %s rebuilds after the erasure at %d", projection.name, erasure)
        return True

    def _passed(self, projection: Projection, position: int) -> None:
        failure = self._failing.get(projection.name)
        if failure is not None and position >= failure.position:
            del self._failing[projection.name]
            log.warning("projection %s is past position %d again", projection.name, position)

    def catch_up(
        self,
        progress: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        confirm_end: bool = True,
        remember: float = 0.0,
    ) -> int:
        """Apply everything in the log now (or until ``stop`` is set: the batch being
        applied is finished first); returns how many (event, projection) pairs.

        ``confirm_end``: after a step that read the log to its end, look once more for
        events written meanwhile. ``run`` does not: the wait that follows each catch-up
        returns at once for their wake-ups (a datagram or a NOTIFY waits to be read), and
        a missed one costs the poll interval, as ever; so a live step per POST reads the
        log once.

        ``remember``: for how many seconds after a step committed the positions it left
        are trusted to find that the log holds nothing new, with one read and no
        transaction (after that, the catch-up claims afresh: another process may have
        moved a position since, e.g. reset one). ``run`` gives its poll interval: a
        wake-up for events a step already applied (they were written after the wake-up
        that began it) costs a read, and a position moved back elsewhere is seen within
        the poll interval, as it was at the next poll before."""
        applied = 0
        if time.monotonic() - self._committed_at >= remember:
            self._committed = None  # another process may have moved a position since
        # Whether the process had frozen anything before this catch-up froze: asked only
        # when it first freezes, as gc.get_freeze_count() walks every frozen object (a
        # served runner's whole start-up heap: twice per live step cost 1.8 ms a POST).
        frozen_before: bool | None = None
        try:
            while (stop is None or not stop.is_set()) and (count := self.step()):
                applied += count
                if self._behind or self._stored_behind:
                    # Far behind (a rebuild, a runner started late): what a committed batch
                    # leaves alive is the projections' caches, kept for many batches.
                    # Frozen, no collection walks them again (ADR 0031).
                    if frozen_before is None:
                        frozen_before = gc.get_freeze_count() > 0
                    gc.freeze()
                if progress is not None:
                    progress(count)
                if not confirm_end and self._at_end:
                    break
            if self._for_readers and (stop is None or not stop.is_set()):
                # Set by the first step far behind: a rebuild may have dropped them.
                self._index_for_readers(again=frozen_before is not None)
        finally:
            if frozen_before is not None:
                _thaw(frozen_before)
        return applied

    def _index_for_readers(self, again: bool) -> None:
        """At the log's end, create the indexes only readers use of the projections this
        runner has not created them for yet; ``again`` (the catch-up was far behind: a
        rebuild, here or in a process that stopped halfway, dropped them with its tables),
        of all. A statement that finds its index there changes nothing."""
        due = [p for p in self._for_readers if again or p.name not in self._indexed]
        if not due:
            return
        with self.store.transaction() as sql:
            # Claimed as a step claims them: another runner making the same indexes waits
            # for this one, then finds them made (two at once deadlock in PostgreSQL's
            # catalog, each inserting a name the other has).
            _claim(sql, [p.name for p in due])
            for projection in due:
                for statement in reader_indexes(projection):
                    sql.execute(statement)
        self._indexed.update(p.name for p in due)

    def run(self, stop: threading.Event, wait: Wait, poll: float = 1.0, pause: float = 1.0) -> None:
        """Catch up, then wait for more, until ``stop`` is set; survive a lost connection."""
        prepared = False
        while not stop.is_set():
            try:
                if not prepared:
                    self.prepare()
                    prepared = True
                # A stop asked for waits for one batch, not all.
                self.catch_up(stop=stop, confirm_end=False, remember=poll)
                self.last_error = None
                wait(poll)
            except CONNECTION_ERRORS as error:
                self.last_error = f"{type(error).__name__}: {error}".strip()
                log.warning("projection runner lost its connection: %s", self.last_error)
                self.store.reset()
                stop.wait(pause)
