"""Copying a store written before sealing into a new one, its plaintext sealed (ADR 0023).

Events stored before personal fields were sealed hold them in plaintext, beyond the
reach of an erasure. On the operator's request (``subledger privacy migrate --to``) the
whole log is copied, in order, into a new and empty store: every event keeps its
aggregate id, version, topic and recorded times; each plaintext personal field is sealed
under its subject's key, the same key the store's sealed events use (the key table is
copied first). A field of a subject erased after it was written is sealed under a key
recorded as destroyed: it reads as erased in the new store, as the erasure meant.

The new store gets a chain of its own, anchored on the old one: its seal at position 0
holds the old chain's head (position, digest, hash), and its first event is chained onto
that hash (projections/hash_chain.py). Before copying, the old chain's sealed head is
checked against the old store's bytes: a tampered history is not laundered into a fresh
chain. The source is only read. Snapshots are not copied (they are rebuilt on demand);
cursors into the old log given to ``migrate`` come back translated (the command copies
the webhook endpoints' secrets and cursors with them); docs/privacy.md says what the
operator does about the rest (the relay's stream, web sessions).
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from adapters.data_keys import KeyRow, new_key
from adapters.raw_log import RawEvent, select_raw
from adapters.sealing import resealed
from adapters.store import StoreSettings
from domain.account import Account
from domain.personal_data import erased_subject
from domain.share_link import ShareLink
from domain.support_case import SupportCase
from projections.hash_chain import GENESIS, anchor, chained, hash_at, stored_digest, tip
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide

PAGE = 500  # events read, resealed and written per transaction
Progress = Callable[[int], None]


class MigrationRefused(Exception):
    """The target is not a new, empty store, or the source's chain does not verify."""


@dataclass(frozen=True)
class Migration:
    """What a migration did."""

    events: int  # copied
    fields: int  # plaintext personal fields sealed
    keys: int  # key rows copied
    erased_fields: int  # of those fields, sealed under a destroyed key (erased since)
    moved: int  # events whose position in the new store differs from the old one's
    old_head: int  # the old store's last position...
    old_hash: bytes  # ...and the chain's hash there: the new chain's anchor
    sealed: int  # events the new chain sealed
    # The old positions asked for (cursors) -> the new position of the last event at or
    # before each (absent: none before it, so 0).
    positions: Mapping[int, int] = field(default_factory=dict)

    def position(self, old: int) -> int:
        """Where a cursor at ``old`` in the old store stands in the new one."""
        return self.positions.get(old, 0)

    def lines(self) -> list[str]:
        moved = (
            "every event kept its position"
            if self.moved == 0
            else f"{self.moved} events are at another position: find them by aggregate and version"
        )
        return [
            f"copied {self.events} events; {self.fields} plaintext personal fields sealed"
            f" ({self.erased_fields} of them under a destroyed key: erased since);"
            f" {self.keys} keys copied",
            moved,
            f"new chain: {self.sealed} events sealed, anchored on the old chain's head:"
            f" position {self.old_head}, hash {self.old_hash.hex()}",
        ]


def migrate(
    source: Ledger,
    source_store: StoreSettings,
    target: Ledger,
    target_store: StoreSettings,
    copying: Progress | None = None,
    sealing: Progress | None = None,
    cursors: Iterable[int] = (),
) -> Migration:
    """Copy ``source`` (only read) into ``target`` (a new, empty store), as the module
    docstring says. ``copying`` and ``sealing`` are told how many events each step did;
    ``cursors`` are old positions to translate into new ones (``Migration.position``)."""
    if source_store.describe() == target_store.describe():
        raise MigrationRefused("the target is the store being migrated: name a new, empty one")
    _require_empty(target, target_store)
    head = source.head_position()
    sealed_head, sealed_hash = sealed_tip(source_store)
    start = _start_hash(source_store)  # a store migrated before starts from its anchor
    if sealed_head > 0 and _chain_hash(source, start, sealed_head) != sealed_hash:
        raise MigrationRefused(
            f"the store's chain does not verify up to its sealed head {sealed_head}:"
            " run `subledger audit verify` on it; nothing was copied"
        )
    copied_keys = source.data_keys.rows()
    target.data_keys.insert_rows(copied_keys)
    keys = _Keys(copied_keys, _erasures(source, head), target.clock.now())

    copied = fields = moved = 0
    chain_hash, last_digest = start, GENESIS
    wanted, translated = sorted(set(cursors)), dict[int, int]()
    for page in _pages(source, head):
        batch: list[StoredEvent] = []
        for raw in page:
            digest = stored_digest(*raw)
            chain_hash, last_digest = chained(chain_hash, digest), digest
            event = StoredEvent(UUID(bytes=raw.aggregate_id), raw.version, raw.topic, raw.state)
            event, count = resealed(event, keys.sealing_at(raw.position))
            fields += count
            batch.append(event)
        keys.write(target)  # before the events sealed under them
        positions = target.recorder.insert_events(batch) or []
        moved += sum(old.position != new for old, new in zip(page, positions, strict=True))
        _translate(wanted, translated, [raw.position for raw in page], positions)
        copied += len(batch)
        if copying is not None:
            copying(len(batch))
    if source.head_position() != head:
        raise MigrationRefused(
            f"the store was written to during the migration (its head moved past {head}):"
            " stop every process writing to it, drop the partial copy, then migrate again"
            " into a new, empty store"
        )
    sealed = _seal(target, target_store, head, last_digest, chain_hash, sealing)
    return Migration(
        copied,
        fields,
        len(copied_keys),
        keys.erased_fields,
        moved,
        head,
        chain_hash,
        sealed,
        translated,
    )


def _translate(
    wanted: list[int], translated: dict[int, int], old: list[int], new: Sequence[int]
) -> None:
    """For each wanted old position at or after this page's first, the new position of
    the page's last event at or before it (a later page may find a later one)."""
    for position in wanted:
        at = bisect.bisect_right(old, position) - 1
        if at >= 0:
            translated[position] = new[at]


class _Keys:
    """The keys the migration seals under: each subject's live key (copied from the
    source), else one made for it; a destroyed one for a subject erased after the event.
    Keys made are written a page at a time (one per subject and transaction would make
    the key table the migration's bottleneck)."""

    def __init__(self, copied: list[KeyRow], erasures: dict[str, int], now: datetime) -> None:
        self.live = {row.subject: (row.key_id, row.key) for row in copied if row.key}
        self.erased: dict[str, tuple[str, bytes]] = {}
        self.erasures = erasures
        self.now = now
        self.made: list[KeyRow] = []
        self.erased_fields = 0

    def sealing_at(self, position: int) -> Callable[[str], tuple[str, bytes]]:
        def key_for(subject: str) -> tuple[str, bytes]:
            if self.erasures.get(subject, 0) > position:
                self.erased_fields += 1
                return self._made(self.erased, subject, self.now)
            return self._made(self.live, subject, None)

        return key_for

    def _made(
        self, keys: dict[str, tuple[str, bytes]], subject: str, destroyed_at: datetime | None
    ) -> tuple[str, bytes]:
        if subject not in keys:
            row, key = new_key(subject, destroyed_at)
            self.made.append(row)
            keys[subject] = (row.key_id, key)
        return keys[subject]

    def write(self, target: Ledger) -> None:
        if self.made:
            target.data_keys.insert_rows(self.made)
            self.made = []


def _pages(ledger: Ledger, head: int, after: int = 0) -> Iterator[list[RawEvent]]:
    while after < head:
        page = [raw for raw in select_raw(ledger.recorder, after, PAGE) if raw.position <= head]
        if not page:
            return
        yield page
        after = page[-1].position


def _chain_hash(ledger: Ledger, start: bytes, upto: int) -> bytes:
    """The chain's hash at ``upto``, recomputed from the store's bytes onto ``start``."""
    chain_hash = start
    for page in _pages(ledger, upto):
        for raw in page:
            chain_hash = chained(chain_hash, stored_digest(*raw))
    return chain_hash


def _erasures(ledger: Ledger, head: int) -> dict[str, int]:
    """Each erased subject's last erasure's position."""
    topics = [get_topic(cls.PersonalDataErased) for cls in (Account, SupportCase, ShareLink)]
    found: dict[str, int] = {}
    start = 1
    while start <= head:
        page = ledger.recorder.select_notifications(start, PAGE, stop=head, topics=topics)
        for notification in page:
            subject = erased_subject(ledger.mapper.to_domain_event(notification))
            if subject is not None:
                found[subject] = notification.id
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    return found


def _require_empty(target: Ledger, store: StoreSettings) -> None:
    held = []
    if target.head_position() > 0:
        held.append(f"{target.head_position()} events")
    if target.data_keys.rows():
        held.append("data keys")
    if sealed_tip(store) != (0, GENESIS):
        held.append("a hash chain")
    if held:
        raise MigrationRefused(
            f"the target {store.describe()} is not empty (it holds {', '.join(held)}):"
            " a migration writes only into a new, empty store"
        )


def _seal(
    target: Ledger,
    store: StoreSettings,
    old_head: int,
    old_digest: bytes,
    old_hash: bytes,
    progress: Progress | None,
) -> int:
    """Anchor the target's chain on the old head, then seal every copied event."""
    read_side = ReadSide(store, target)
    try:
        with read_side.store.transaction() as sql:
            anchor(sql, old_head, old_digest, old_hash, target.clock.now())
        chain = read_side.projection("hash_chain")
        runner = ProjectionRunner(
            read_side.store,
            read_side.read_log,
            target.head_position,
            [chain],
            read_stored=read_side.read_stored,
        )
        runner.prepare()
        runner.catch_up(progress=progress)
        with read_side.readers.transaction() as sql:
            return tip(sql)[0]
    finally:
        read_side.stop()


def sealed_tip(store: StoreSettings) -> tuple[int, bytes]:
    """The last sealed position of a store's chain and its hash, read without creating
    or changing anything ((0, GENESIS) where nothing is sealed)."""
    with _read_only(store) as sql:
        return (0, GENESIS) if sql is None else tip(sql)


def _start_hash(store: StoreSettings) -> bytes:
    """The hash a store's chain starts from: its anchor's, else 32 zero bytes."""
    with _read_only(store) as sql:
        return GENESIS if sql is None else hash_at(sql, 0)


@contextlib.contextmanager
def _read_only(store: StoreSettings) -> Iterator[Sql | None]:
    """A read-only transaction on the store's read models, or None if it has no chain."""
    if store.postgres is not None:
        pg = store.postgres
        with psycopg.connect(pg.conninfo(), options=f"-c search_path={pg.schema}") as conn:
            conn.read_only = True
            if conn.execute("SELECT to_regclass('hash_chain')").fetchone() == (None,):
                yield None
                return
            yield Sql(conn.cursor(), "postgres")
        return
    path = Path(store.read_sqlite_path)
    if not path.exists() or path.stat().st_size == 0:
        yield None
        return
    connection: Any = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hash_chain'"
        ).fetchone()
        yield Sql(connection.cursor(), "sqlite") if exists else None
    finally:
        connection.close()
