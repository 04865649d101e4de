"""A rebuild's runner on SQLite: each projection folds a batch outside the write lock.

SQLite admits one writer at a time into its file. ``ProjectionRunner`` folds a batch
inside its transaction (``BEGIN IMMEDIATE``), so a second process rebuilding other
projections waits for the whole fold, not just the writes (ADR 0032). Here each
projection takes the batch in a transaction of its own, opened at its first write
(``ReadStore.write_when_needed``): its reads before that (its own tables, as its last
batch committed them) run in autocommit and lock nothing, its Python fold runs while
another process writes, and only its writes and its position are committed under the
lock.

- **Exactly once, unchanged**: a projection's rows and its position are committed in one
  transaction. Its position is read again once the lock is taken; had it moved (another
  runner applied the batch meanwhile), nothing is written, the projection forgets its
  memory and the batch is taken again the ordinary way.
- **Only the projection writes its tables** while the rebuild holds the runner lock, so
  what it read before the lock is what is there under it.
- **Anything unusual is the ordinary step's**: a projection failing on an event, one
  restarting after an erasure, a permanent one, PostgreSQL (where writers do not wait
  for each other's transactions): ``ProjectionRunner.step`` as always.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from domain.personal_data import is_erasure
from projections.projection import LoggedEvent, Projection, holds_personal_data, is_permanent
from projections.runner import EventFailed, ProjectionRunner, _Claim, _claim, _save, _Step
from projections.store import Sql


class _Moved(Exception):
    """The projection's position moved between the fold and the lock."""


def _never(sql: Sql) -> None:
    raise AssertionError("only reads here")


class FoldingRunner(ProjectionRunner):
    """``ProjectionRunner`` whose batches, on SQLite, are folded outside the write lock
    (one transaction per projection and batch); on PostgreSQL the same as it."""

    def step(self) -> int:
        if self.store.dialect != "sqlite":
            return super().step()
        now = self.now()
        due = [
            p
            for p in self.projections
            if p.name not in self._failing or self._failing[p.name].next_attempt_at <= now
        ]
        if any(is_permanent(p) or self._reads_stored(p) for p in due):
            return super().step()
        self._prefetched = None  # only read for projections reading the log as stored
        if not due or self._nothing_new(due):
            return 0
        return self._step_each(due)

    def _step_each(self, due: Sequence[Projection]) -> int:
        self._committed = None
        self._at_end = False
        with self.store.write_when_needed(_never) as sql:  # a read: no lock taken
            claims = _claim(sql, [p.name for p in due])
        start = min((c.position for c in claims.values()), default=0)
        if len(claims) < len(due):
            start = 0
        size = self.catch_up_batch_size if self._behind else self.batch_size
        batch = self.read_log(start, size)
        self._behind = len(batch) >= self.batch_size
        applied = 0
        ordinary = False  # a projection taken by the ordinary step: positions unknown here
        reached: dict[str, int] = {}
        for projection in due:
            claim = claims.get(projection.name) or _Claim(0, projection.version, None)
            unseen = [logged for logged in batch if logged.position > claim.position]
            reached[projection.name] = claim.position
            if not unseen:
                continue
            if holds_personal_data(projection) and any(
                is_erasure(logged.notification.topic) for logged in unseen
            ):
                applied += self._ordinary(projection)
                ordinary = True
                continue
            try:
                applied += self._apply_outside(projection, claim, unseen)
                reached[projection.name] = unseen[-1].position
            except (EventFailed, _Moved):
                projection.forget()  # its memory may be ahead of the rolled-back rows
                applied += self._ordinary(projection)
                ordinary = True
            except BaseException:
                for each in due:
                    each.forget()
                raise
        if not ordinary:  # as ``ProjectionRunner._step`` leaves them
            self._at_end = not self._behind
            self._committed_at = time.monotonic()
            self._committed = reached
        return applied

    def _apply_outside(
        self, projection: Projection, claim: _Claim, unseen: Sequence[LoggedEvent]
    ) -> int:
        """Fold ``unseen`` into ``projection`` and commit its writes and its position in one
        transaction, opened at its first write."""
        claims: dict[str, _Claim] = {}

        def claimed(sql: Sql) -> None:
            now = _claim(sql, [projection.name]).get(projection.name)
            if now is None or now.position != claim.position:
                raise _Moved(projection.name)
            claims[projection.name] = now

        done = _Step()
        with self.store.write_when_needed(claimed) as sql:
            self._fold(sql, projection, unseen, whole=True)
            sql.begin()  # a batch that wrote nothing still moves the position
            done.reached[projection.name] = (unseen[-1].position, claims[projection.name].version)
            _save(sql, claims, done)
        self._passed(projection, unseen[-1].position)
        return len(unseen)

    def _ordinary(self, projection: Projection) -> int:
        """The batch for ``projection`` alone, by ``ProjectionRunner``'s step."""
        try:
            return self._step([projection], isolated=False)
        except EventFailed:
            return self._step([projection], isolated=True)
