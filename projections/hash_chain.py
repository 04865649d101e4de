"""The hash chain: a seal on every event of the global log, in commit order (ADR 0012).

Each stored event is reduced to its *canonical bytes*, an unambiguous encoding of what
the event store holds for it (big-endian integers, lengths before variable fields):

    position            8 bytes, unsigned
    aggregate id       16 bytes (the UUID's bytes)
    aggregate version   8 bytes, unsigned
    topic length        4 bytes, then the topic in UTF-8
    state length        8 bytes, then the stored state bytes, exactly as stored

    digest(event)    = SHA-256(0x00 || canonical bytes)
    hash(position)   = SHA-256(0x01 || hash(previous position) || digest(event))

The hash before the first event is 32 zero bytes. The prefixes keep an event digest
from ever being taken for a chain hash (as in RFC 6962). Because the chain links
digests, not events, a proof that one history extends another needs only the digests
of the events in between, never their contents.

A chain may start from another chain's head instead of zero bytes: a store migrated
into a new one (``subledger privacy migrate``, ADR 0023) starts its chain with an
*anchor*, a seal at position 0 that holds the old chain's head (its position as the
version, the digest of the event sealed there, its hash). The hash before the new
store's first event is then the old chain's head hash, so whoever kept a digest of the
old chain can tie it to every seal of the new one.

The sealed table is written once per position and never rewritten: the projection is
``permanent`` (the runner refuses to drop or rebuild it) and its table version is fixed.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.raw_log import RawEvent
from projections.audit_trail import recorded
from projections.projection import LoggedEvent
from projections.store import ReaderPool, Sql

TABLE = "hash_chain"
EVENT_INDEX = f"{TABLE}_event"  # an index this table had, by (aggregate id, version)
GENESIS = bytes(32)
ANCHOR_ID = "00000000-0000-0000-0000-000000000000"  # the anchor's aggregate id (none)
EVENT_PREFIX = b"\x00"
CHAIN_PREFIX = b"\x01"

_HEAD = struct.Struct(">Q16sQI")  # position, aggregate id, version, topic length
_STATE_LENGTH = struct.Struct(">Q")
_TOPICS: dict[str, bytes] = {}  # a log has a few dozen topics: encode each once


def canonical_bytes(position: int, event: StoredEvent) -> bytes:
    """The stored event at ``position``, encoded as the module docstring says."""
    return _canonical(b"", position, event)


def _uuid(aggregate_id: UUID | str) -> UUID:
    return aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))


def _uuid_text(aggregate_id: bytes) -> str:
    """``str(UUID(bytes=aggregate_id))``, without making the UUID (a seal's aggregate id)."""
    h = aggregate_id.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _canonical(prefix: bytes, position: int, event: StoredEvent) -> bytes:
    return _encoded(
        prefix,
        position,
        _uuid(event.originator_id).bytes,
        event.originator_version,
        event.topic,
        event.state,
    )


def _encoded(
    prefix: bytes, position: int, aggregate_id: bytes, version: int, topic: str, state: bytes
) -> bytes:
    encoded = _TOPICS.get(topic)
    if encoded is None:
        encoded = _TOPICS.setdefault(topic, topic.encode("utf-8"))
    head = _HEAD.pack(position, aggregate_id, version, len(encoded))
    return b"".join((prefix, head, encoded, _STATE_LENGTH.pack(len(state)), state))


def event_digest(position: int, event: StoredEvent) -> bytes:
    return hashlib.sha256(_canonical(EVENT_PREFIX, position, event)).digest()


def stored_digest(
    position: int, aggregate_id: bytes, version: int, topic: str, state: bytes
) -> bytes:
    """``event_digest`` of an event read as stored bytes (its id as the UUID's 16 bytes)."""
    return hashlib.sha256(
        _encoded(EVENT_PREFIX, position, aggregate_id, version, topic, state)
    ).digest()


def chained(previous: bytes, digest: bytes) -> bytes:
    return hashlib.sha256(CHAIN_PREFIX + previous + digest).digest()


class Seal(NamedTuple):
    """One sealed position: which event was there, its digest and the chain's hash."""

    position: int
    aggregate_id: str  # as sealed: the UUID's text
    aggregate_version: int
    digest: bytes
    hash: bytes
    sealed_at: str


class ChainOutOfOrder(Exception):
    """An event was offered for a position at or before the chain's tip."""


@dataclass(frozen=True)
class _Tip:
    sql: Sql  # the transaction it was read or written in
    position: int
    hash: bytes


class HashChain:
    name = "hash_chain"
    # Fixed for good: sealed rows are never dropped. A new format would be a new chain.
    version = 1
    permanent = True
    tables: tuple[str, ...] = (TABLE,)

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self._tip: _Tip | None = None

    def create(self, sql: Sql) -> None:
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                position BIGINT PRIMARY KEY,
                aggregate_id TEXT NOT NULL,
                aggregate_version BIGINT NOT NULL,
                digest TEXT NOT NULL,
                hash TEXT NOT NULL,
                sealed_at TEXT NOT NULL
            )"""
        )
        # No index by event (aggregate id, version): keyed by random UUIDs, every seal's
        # insert landed on a page of it of its own, so sealing slowed as the chain grew
        # (on SQLite, 20 CPU us an event at 100,000 seals, 29 at 400,000, 49 at a
        # million, against 16.5 at any size without it). Only naming a break looks an
        # event up (``sealed_position``), and it may scan. Dropped from older stores: an
        # index is no part of the seals.
        sql.execute(f"DROP INDEX IF EXISTS {EVENT_INDEX}")

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.seal(sql, logged.position, logged.notification)

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        """Seal a batch after the tip, its seals written in one multi-row statement."""
        self.seal_all(sql, [(logged.position, logged.notification) for logged in batch])

    def apply_stored(self, sql: Sql, events: Sequence[RawEvent]) -> None:
        """Seal events read as stored (``read_stored``: the runner's cheapest way to seal,
        no object per event but the tuple read) after the tip, as ``apply_batch`` does."""
        self._seal_stored(sql, events)

    def seal(self, sql: Sql, position: int, event: StoredEvent) -> bytes:
        """Seal ``event`` at ``position`` after the tip; returns its chain hash."""
        return self.seal_all(sql, [(position, event)])

    def seal_all(self, sql: Sql, events: Sequence[tuple[int, StoredEvent]]) -> bytes:
        """Seal ``events`` (position, event), in order, after the tip; returns the new tip's
        chain hash."""
        return self._seal_stored(
            sql,
            [
                (
                    at,
                    _uuid(event.originator_id).bytes,
                    event.originator_version,
                    event.topic,
                    event.state,
                )
                for at, event in events
            ],
        )

    def _seal_stored(self, sql: Sql, events: Sequence[tuple[int, bytes, int, str, bytes]]) -> bytes:
        """Seal ``events`` as stored (position, the id's 16 bytes, version, topic, state), in
        order, after the tip, in one multi-row statement; returns the new tip's hash."""
        tip = self._tip_in(sql)
        position, chain_hash = tip.position, tip.hash
        sealed_at = recorded(self.now())
        rows = []
        for at, aggregate_id, version, topic, state in events:
            if at <= position:
                raise ChainOutOfOrder(f"position {at} is not after the tip {position}")
            digest = hashlib.sha256(
                _encoded(EVENT_PREFIX, at, aggregate_id, version, topic, state)
            ).digest()
            chain_hash = hashlib.sha256(CHAIN_PREFIX + chain_hash + digest).digest()
            position = at
            rows.append(
                (at, _uuid_text(aggregate_id), version, digest.hex(), chain_hash.hex(), sealed_at)
            )
        sql.insert_many(TABLE, _COLUMN_NAMES, rows)
        self._tip = _Tip(sql, position, chain_hash)
        return chain_hash

    def _tip_in(self, sql: Sql) -> _Tip:
        # Another runner may have sealed since this one last did (after an election), so
        # the tip is read again in every new transaction, then carried in memory; unless
        # the runner vouches that the chain is where it left it (``resume``).
        if self._tip is None or self._tip.sql is not sql:
            position, chain_hash = tip(sql)
            self._tip = _Tip(sql, position, chain_hash)
        return self._tip

    def resume(self, sql: Sql) -> None:
        """The chain is at the tip this one last sealed (the runner claimed the position it
        committed): seal after it in ``sql`` without reading it again."""
        if self._tip is not None:
            self._tip = _Tip(sql, self._tip.position, self._tip.hash)

    def forget(self) -> None:
        self._tip = None


# -- queries ------------------------------------------------------------------------------


def tip(sql: Sql) -> tuple[int, bytes]:
    """The last sealed position and its hash; (0, GENESIS) before the first seal."""
    row = sql.execute(
        f"SELECT position, hash FROM {TABLE} ORDER BY position DESC LIMIT 1"
    ).fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), bytes.fromhex(row[1]))


def anchor(sql: Sql, head: int, digest: bytes, chain_hash: bytes, at: datetime) -> None:
    """Start an empty chain from another chain's head: ``head`` its position, ``digest``
    the digest of the event sealed there, ``chain_hash`` the chain's hash there."""
    if tip(sql) != (0, GENESIS):
        raise ChainOutOfOrder("only an empty chain can be anchored")
    row = (0, ANCHOR_ID, head, digest.hex(), chain_hash.hex(), recorded(at))
    sql.insert_many(TABLE, COLUMNS.split(", "), [row])


def anchored_on(sql: Sql) -> Seal | None:
    """The anchor this chain starts from (its version: the old chain's head position)."""
    return seal_at(sql, 0)


def hash_at(sql: Sql, position: int) -> bytes:
    """The chain's hash once every event at or before ``position`` is sealed."""
    value = sql.scalar(
        f"SELECT hash FROM {TABLE} WHERE position <= ? ORDER BY position DESC LIMIT 1",
        (position,),
    )
    return GENESIS if value is None else bytes.fromhex(value)


def as_seal(row: SealRow) -> Seal:
    """A seal as read (``seal_row_pages``), its digest and hash as bytes."""
    position, aggregate_id, version, digest, chain_hash, sealed_at = row
    return Seal(
        position, aggregate_id, version, bytes.fromhex(digest), bytes.fromhex(chain_hash), sealed_at
    )


COLUMNS = "position, aggregate_id, aggregate_version, digest, hash, sealed_at"
_COLUMN_NAMES = COLUMNS.split(", ")
# What a chain is checked against, without the event each seal names: (position, digest
# hex, hash hex). Verification reads these, and a whole seal only where one disagrees.
LINKS = "position, digest, hash"
# A seal as stored: (position, aggregate id, version, digest hex, hash hex, sealed_at),
# or its ``LINKS`` alone.
SealRow = tuple[Any, ...]


def _seal_rows(sql: Sql, after: int, limit: int, columns: str = COLUMNS) -> list[SealRow]:
    return sql.execute(
        f"SELECT {columns} FROM {TABLE} WHERE position > ? ORDER BY position LIMIT ?",
        (after, limit),
    ).fetchall()


def seals(sql: Sql, after: int, limit: int) -> list[Seal]:
    """Up to ``limit`` seals after position ``after``, in order."""
    return [as_seal(row) for row in _seal_rows(sql, after, limit)]


def seal_row_pages(
    readers: ReaderPool, after: int, upto: int, page: int = 5000, columns: str = COLUMNS
) -> Iterator[list[SealRow]]:
    """Every seal after ``after`` up to ``upto`` as stored (``columns`` of it, the first
    the position), a page per transaction. The query has no upper bound: with one,
    PostgreSQL may sort the whole rest of the table for each page."""
    while after < upto:
        with readers.transaction() as sql:
            found = _seal_rows(sql, after, page, columns)
        within = found if not found or found[-1][0] <= upto else [r for r in found if r[0] <= upto]
        if within:
            yield within
        if len(within) < page:
            return
        after = found[-1][0]


def seal_pages(
    readers: ReaderPool, after: int, upto: int, page: int = 5000
) -> Iterator[list[Seal]]:
    """Every seal after ``after`` up to ``upto``, a page per transaction."""
    for rows in seal_row_pages(readers, after, upto, page):
        yield [as_seal(row) for row in rows]


def seals_between(readers: ReaderPool, after: int, upto: int, page: int = 5000) -> Iterator[Seal]:
    """Every seal after ``after`` up to ``upto``, in order (read a page at a time)."""
    for found in seal_pages(readers, after, upto, page):
        yield from found


def seal_at(sql: Sql, position: int) -> Seal | None:
    row = sql.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE position = ?", (position,)).fetchone()
    return None if row is None else as_seal(row)


def sealed_position(sql: Sql, aggregate_id: UUID, version: int) -> int | None:
    """Where the chain sealed an aggregate's version (None: never sealed). A scan of the
    table (no index by event, see ``HashChain.create``): asked only to name a break."""
    value = sql.scalar(
        f"SELECT position FROM {TABLE} WHERE aggregate_id = ? AND aggregate_version = ? LIMIT 1",
        (str(aggregate_id), version),
    )
    return None if value is None else int(value)
