"""The broker relay: every public event of the global log, in order, into NATS JetStream.

Each event goes out as its CloudEvent (structured JSON) on the subject
``<prefix>.<aggregate>.<Event>.v<N>``, with ``Nats-Msg-Id`` set to the CloudEvent id.
The relay's cursor (the log position it has published up to) lives in the read store's
``relay_cursors`` table and moves after each batch is acked. On every start, and after
every failure, the relay reads the stream's last message and resumes after the newer of
it and the cursor, so it re-publishes nothing the stream already holds; the msg-id
dedup covers what may still be in flight. Why this is exactly once: ADR 0010.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from adapters.jetstream import BrokerError, JetStream, Message, StreamTail
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from projections.cloudevents import event_id, is_public, to_cloudevent
from projections.projection import LoggedEvent
from projections.runner import ReadLog, Wait
from projections.store import CONNECTION_ERRORS, ReaderPool, ReadStore, Sql
from service.ledger.application import Ledger
from service.reads.read_side import read_log, read_store
from service.workers.election import serve_when_elected

log = logging.getLogger("subledger.relay")

CONTENT_TYPE = "application/cloudevents+json"
# ``position``: the log is published up to here; ``sequence``: the stream's then.
CURSORS_TABLE = """
CREATE TABLE IF NOT EXISTS relay_cursors (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    sequence BIGINT NOT NULL
)"""
# After these the relay pauses, opens the stream again and goes on.
RETRIED: tuple[type[Exception], ...] = (BrokerError, *CONNECTION_ERRORS)


class StreamNotOurs(Exception):
    """The stream's last message is not this ledger's event at the position it names."""


class Publisher(Protocol):
    def describe(self) -> str: ...
    def open(self) -> StreamTail: ...
    def publish(self, messages: Sequence[Message]) -> int: ...


def subject(prefix: str, cloud_event_type: str) -> str:
    """``subledger.invoice.InvoicePaid.v1`` -> ``<prefix>.invoice.InvoicePaid.v1``."""
    return f"{prefix}.{cloud_event_type.removeprefix('subledger.')}"


def to_message(prefix: str, logged: LoggedEvent, public_url: str) -> Message:
    envelope = to_cloudevent(logged.position, logged.event, public_url)
    data = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    return Message(subject(prefix, envelope["type"]), envelope["id"], data, CONTENT_TYPE)


@dataclass(frozen=True)
class Cursor:
    position: int = 0
    sequence: int = 0


def _cursor(sql: Sql, name: str) -> Cursor:
    sql.execute(CURSORS_TABLE)
    row = sql.execute(
        "SELECT position, sequence FROM relay_cursors WHERE name = ?", (name,)
    ).fetchone()
    return Cursor() if row is None else Cursor(int(row[0]), int(row[1]))


def relay_cursors(readers: ReaderPool) -> dict[str, int]:
    """Each relay's published position, by name (what the metrics report). Read with the
    API's readers (the read store's one connection belongs to the projection runner), and
    so without creating the table: none exists before a relay first ran on the store."""
    with readers.transaction() as sql:
        if sql.dialect == "sqlite":
            exists = sql.scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'relay_cursors'"
            )
        else:
            exists = sql.scalar("SELECT to_regclass('relay_cursors') IS NOT NULL")
        if not exists:
            return {}
        rows = sql.execute("SELECT name, position FROM relay_cursors").fetchall()
    return {str(name): int(position) for name, position in rows}


def _save_cursor(sql: Sql, name: str, cursor: Cursor) -> None:
    sql.execute(
        "INSERT INTO relay_cursors (name, position, sequence) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
        "sequence = excluded.sequence",
        (name, cursor.position, cursor.sequence),
    )


class Relay:
    """Publishes the log in batches after where it stands; ``open`` first, and after a failure."""

    def __init__(
        self,
        store: ReadStore,
        read_log: ReadLog,
        publisher: Publisher,
        name: str,
        subject_prefix: str,
        public_url: str,
        batch_size: int = 500,
    ) -> None:
        self.store = store
        self.read_log = read_log
        self.publisher = publisher
        self.name = name
        self.subject_prefix = subject_prefix
        self.public_url = public_url  # the base of each message's dataschema
        self.batch_size = batch_size
        self.at = Cursor()

    def cursor(self) -> Cursor:
        """The cursor as stored."""
        with self.store.transaction() as sql:
            return _cursor(sql, self.name)

    def open(self) -> int:
        """Open the stream and resume after what it holds; returns the position resumed from."""
        tail = self.publisher.open()
        self.at = stored = self.cursor()
        published = self._position_of(tail)
        if published is not None and published > stored.position:
            # Acked before a crash, the cursor not saved yet: not to be sent again.
            self._advance(Cursor(published, tail.sequence))
        elif tail.sequence < stored.sequence:
            # A new or purged stream: what the relay once had acked is not sent again.
            log.warning(
                "%s is at sequence %d, behind the %d the relay had published: going on from there",
                self.publisher.describe(),
                tail.sequence,
                stored.sequence,
            )
        self.at = Cursor(self.at.position, tail.sequence)
        log.info(
            "publishing to %s after position %d (stream at sequence %d)",
            self.publisher.describe(),
            self.at.position,
            tail.sequence,
        )
        return self.at.position

    def _position_of(self, tail: StreamTail) -> int | None:
        """The log position of the stream's last message, checked against the log."""
        if tail.last is None:
            return None
        try:
            position = int(json.loads(tail.last.data)["sequence"])
        except (ValueError, KeyError, TypeError):
            position = 0
        found = self.read_log(position - 1, 1) if position > 0 else []
        if [(e.position, event_id(e.event)) for e in found] != [(position, tail.last.msg_id)]:
            raise StreamNotOurs(
                f"the last message of {self.publisher.describe()} ({tail.last.msg_id!r}) is not "
                f"this ledger's event at the position it names: is the stream another "
                f"ledger's, or was this ledger restored from an older backup?"
            )
        return position

    def _advance(self, cursor: Cursor) -> None:
        with self.store.transaction() as sql:
            _save_cursor(sql, self.name, cursor)
        self.at = cursor

    def step(self) -> int:
        """Publish the next batch and move the cursor after its acks; returns its size."""
        batch = self.read_log(self.at.position, self.batch_size)
        if not batch:
            return 0
        prefix = self.subject_prefix
        messages = [to_message(prefix, e, self.public_url) for e in batch if is_public(e.event)]
        sequence = self.publisher.publish(messages) if messages else self.at.sequence
        self._advance(Cursor(batch[-1].position, sequence))
        return len(batch)

    def catch_up(self, stop: threading.Event | None = None) -> int:
        """Publish everything in the log now (until ``stop``); returns how many events read."""
        read = 0
        while not (stop is not None and stop.is_set()) and (count := self.step()):
            read += count
        return read

    def run(
        self, stop: threading.Event, wait: Wait, poll: float = 1.0, max_pause: float = 30.0
    ) -> None:
        """Catch up, then wait for more, until ``stop``; after a failure, pause, open again."""
        opened, pause = False, 0.5
        while not stop.is_set():
            try:
                if not opened:
                    self.open()
                    opened = True
                self.catch_up(stop)
                pause = 0.5
                wait(poll)
            except RETRIED as error:
                reason = f"{type(error).__name__}: {error}".strip()
                log.warning("relay to %s failed: %s", self.publisher.describe(), reason)
                opened, pause = False, min(pause * 2, max_pause)
                self.store.reset()
                stop.wait(pause)


class NatsRelay:
    """``subledger relay nats``: one per store and stream, elected by a lock; runs until stopped."""

    def __init__(
        self,
        settings: StoreSettings,
        ledger: Ledger,
        url: str,
        stream: str,
        subject_prefix: str,
        public_url: str,
        batch_size: int = 500,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.publisher = JetStream(url, stream, f"{subject_prefix}.>")
        self.relay = Relay(
            read_store(settings),
            partial(read_log, self.ledger),
            self.publisher,
            f"nats:{stream}",
            subject_prefix,
            public_url,
            batch_size,
        )
        self.lock = RunnerLock(settings, f"relay-nats-{stream}")
        self._stop = threading.Event()

    def run(self) -> None:
        """Wait to be the one relay for this store and stream, then keep the stream current."""
        serve_when_elected(
            self.settings,
            self.ledger,
            self.lock,
            self._stop,
            lambda elected: self.relay.run(self._stop, elected.wait),
            "relay",
        )

    def stop_soon(self) -> None:
        """Ask ``run()`` to return after its current batch (SIGTERM)."""
        self._stop.set()
        self.ledger.saved.pulse()

    def close(self) -> None:
        self.publisher.close()
        self.relay.store.close()
        self.ledger.close()
