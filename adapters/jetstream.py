"""NATS JetStream, as the broker relay uses it: one stream, its tail, ordered publishing.

A batch is published pipelined (all of it is sent before the acks come back), yet it
can neither reorder nor double the stream. Each message carries ``Nats-Msg-Id``, so
JetStream drops a second message with an id it has seen within the stream's duplicate
window; and ``Nats-Expected-Last-Sequence``, so JetStream stores a message only right
after its predecessor in the batch: one lost in flight makes every later one fail
instead of overtaking it. ``publish`` returns only when the whole batch was stored,
in order, right after the previous tail; any failure drops the connection, and the
caller opens it again and reads the tail to learn what the stream really holds.

nats-py is asyncio; this adapter runs its client on an event loop of its own thread
and offers blocking calls, as the rest of the service is synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger("subledger.jetstream")

T = TypeVar("T")

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
# Long enough to cover any publish still in flight when the relay re-reads the tail.
DUPLICATE_WINDOW_SECONDS = 300.0


class BrokerError(Exception):
    """The server cannot be reached, or did not store a batch in order: open again."""


class BrokerMisconfigured(Exception):
    """The stream exists but does not take the relay's subjects."""


@dataclass(frozen=True)
class Message:
    subject: str
    msg_id: str
    data: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class StreamTail:
    """The stream's last sequence (0 if it never held a message), and that message if kept."""

    sequence: int
    last: Message | None


class JetStream:
    def __init__(
        self,
        url: str,
        stream: str,
        subjects: str,
        duplicate_window: float = DUPLICATE_WINDOW_SECONDS,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subjects = subjects
        self.duplicate_window = duplicate_window
        self.timeout = timeout
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None
        self._tail = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()

    def describe(self) -> str:
        return f"JetStream stream {self.stream} ({self.subjects}) at {self.url}"

    def open(self) -> StreamTail:
        """Connect, create the stream if it is missing, and read its tail."""
        return self._call(self._open())

    def publish(self, messages: Sequence[Message]) -> int:
        """Store ``messages`` in order right after the tail, each once, and return the new
        tail's sequence; else BrokerError."""
        return self._call(self._publish(messages))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    # -- on the event loop ------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            return self._run(coroutine)
        except (BrokerError, NatsError, OSError, TimeoutError) as error:
            with contextlib.suppress(Exception):
                self._run(self._disconnect())
            if isinstance(error, BrokerError):
                raise
            reason = str(error).strip() or type(error).__name__
            raise BrokerError(f"{self.describe()}: {reason}") from error

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _connected(self) -> JetStreamContext:
        if self._client is None or not self._client.is_connected or self._jetstream is None:
            await self._disconnect()
            self._client = await nats.connect(
                self.url,
                name="subledger-relay",
                # One attempt, no reconnecting: the caller opens again, and so reads the tail.
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                connect_timeout=int(self.timeout),
                error_cb=self._on_error,
            )
            self._jetstream = self._client.jetstream(timeout=self.timeout)
        return self._jetstream

    async def _on_error(self, error: Exception) -> None:
        # What it means for the relay surfaces as a failed call, reported by the caller.
        log.debug("NATS: %s", str(error) or type(error).__name__)

    async def _disconnect(self) -> None:
        client, self._client, self._jetstream = self._client, None, None
        if client is not None and not client.is_closed:
            await client.close()

    async def _open(self) -> StreamTail:
        jetstream = await self._connected()
        try:
            info = await jetstream.stream_info(self.stream)
        except NotFoundError:
            info = await jetstream.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[self.subjects],
                    duplicate_window=self.duplicate_window,
                    allow_direct=True,
                )
            )
            log.info("created %s", self.describe())
        subjects = (info.config.subjects or []) if info.config else []
        if self.subjects not in subjects:
            raise BrokerMisconfigured(
                f"stream {self.stream} takes {', '.join(subjects) or 'no subjects'}, "
                f"not {self.subjects}: add that subject to it, or name another stream"
            )
        self._tail = info.state.last_seq
        last = None
        if self._tail:
            with contextlib.suppress(NotFoundError):  # deleted, or aged out by the stream's limits
                stored = await jetstream.get_msg(self.stream, self._tail)
                headers = stored.headers or {}
                last = Message(stored.subject or "", headers.get(MSG_ID, ""), stored.data or b"")
        return StreamTail(self._tail, last)

    async def _publish(self, messages: Sequence[Message]) -> int:
        jetstream = await self._connected()
        pending: list[asyncio.Future[PubAck]] = []
        try:
            for offset, message in enumerate(messages):
                headers = {MSG_ID: message.msg_id, "Content-Type": message.content_type}
                if self._tail + offset:  # JetStream ignores an expected last sequence of 0
                    headers[EXPECTED_LAST_SEQUENCE] = str(self._tail + offset)
                pending.append(
                    await jetstream.publish_async(
                        message.subject, message.data, headers=headers, stream=self.stream
                    )
                )
            acks = await asyncio.wait_for(asyncio.gather(*pending), self.timeout)
        finally:
            for future in pending:
                future.cancel()
        for offset, ack in enumerate(acks, start=1):
            if ack.duplicate or ack.seq != self._tail + offset:
                raise BrokerError(
                    f"{self.describe()}: {messages[offset - 1].msg_id} was stored at "
                    f"{ack.seq}{' before' if ack.duplicate else ''}, "
                    f"not at {self._tail + offset}"
                )
        self._tail += len(acks)
        return self._tail
