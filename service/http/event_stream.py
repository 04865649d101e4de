"""The live event feed as Server-Sent Events.

Each message is one CloudEvent: ``id`` its log position, ``event`` its type, ``data`` the
CloudEvent as one line of JSON, framed by FastAPI's own SSE encoder and sent as its
``EventSourceResponse``; the cursor, the heartbeats and the permission checks are ours
(ADR 0021 says why the route is no generator endpoint). A client that reconnects sends
the last id it saw as ``Last-Event-ID`` and continues right after it, so it misses
nothing and sees nothing twice. While there is nothing to send, a comment line goes out
every ``heartbeat`` seconds (it keeps proxies from closing an idle connection and lets
the server notice a vanished client). Each connection ends after ``max_seconds``:
clients reconnect and resume, which also spreads them over the processes behind a load
balancer.

A stream outlives no permission: at least once per heartbeat interval it asks again
whether its token is live and its caller may still read what it streams (a customer's
Manage Billing), and ends at once if not. A token holds at most ``max_per_token``
streams at a time in a process (``StreamSlots``); the next is refused with 429.

New events are found by polling the log's head and the audit trail's position, at most
once per ``poll`` seconds per process, however many streams are open; the stream then
reads its next page with the pull feed's own code, so the two cannot disagree.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi.sse import format_sse_event
from starlette.concurrency import run_in_threadpool

from service.config.settings import Settings
from service.ledger.store_errors import STORE_ERRORS
from service.reads.event_feed import EventFeed, FeedQuery

log = logging.getLogger("subledger.http.events")
PAGE = 100
Progress = tuple[int, int]


@dataclass(frozen=True)
class StreamSettings:
    heartbeat: float = 15.0  # seconds of silence before a comment line
    poll: float = 0.25  # seconds between looks at the log while idle
    max_seconds: float = 900.0  # a connection's lifetime; the client then resumes
    retry_ms: int = 2000  # how long clients wait before reconnecting
    max_per_token: int = 4  # streams a token may hold open at once (per process)

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamSettings:
        return cls(
            heartbeat=settings.sse_heartbeat_seconds,
            poll=settings.sse_poll_seconds,
            max_seconds=settings.sse_max_seconds,
            max_per_token=settings.sse_max_per_token,
        )


class StreamSlots:
    """How many streams each token holds open in this process: at most ``limit``. A
    stream takes its slot before it starts and gives it back when it ends, however it
    ends (``StreamingResponse`` subclass in ``events``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[UUID] = Counter()
        self._lock = threading.Lock()

    def take(self, token_id: UUID) -> bool:
        with self._lock:
            if self._open[token_id] >= self.limit:
                return False
            self._open[token_id] += 1
            return True

    def give_back(self, token_id: UUID) -> None:
        with self._lock:
            self._open[token_id] -= 1
            if self._open[token_id] <= 0:
                del self._open[token_id]


class LogWatch:
    """The feed's progress (log head, audit trail position), polled at most once per
    interval and shared by every stream of the process. Holds no asyncio primitive, so
    it serves streams on any event loop."""

    def __init__(self, progress: Callable[[], Progress], interval: float) -> None:
        self._progress = progress
        self.interval = interval
        self._seen: Progress | None = None
        self._polled_at = -math.inf
        self._polling = False

    async def current(self) -> Progress:
        while True:
            fresh = time.monotonic() - self._polled_at < self.interval
            if self._seen is not None and (fresh or self._polling):
                return self._seen
            if not self._polling:
                self._polling = True
                try:
                    self._seen = await run_in_threadpool(self._progress)
                    self._polled_at = time.monotonic()
                finally:
                    self._polling = False
                return self._seen
            await asyncio.sleep(0.01)  # another stream is taking the first look

    async def changed(self, since: Progress, timeout: float) -> bool:
        """Whether the progress moves away from ``since`` within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if await self.current() != since:
                return True
            await asyncio.sleep(min(self.interval, left))
        return False


def message(event: dict[str, Any]) -> bytes:
    """One event, framed by FastAPI's SSE encoder (``fastapi.sse``)."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return format_sse_event(data_str=data, event=event["type"], id=str(int(event["sequence"])))


HEARTBEAT = format_sse_event(comment="heartbeat")


async def event_stream(
    feed: EventFeed,
    watch: LogWatch,
    query: FeedQuery,
    after: int,
    settings: StreamSettings,
    allowed: Callable[[], bool],
) -> AsyncIterator[bytes]:
    """``allowed`` says whether the caller may still read the stream (it reads the store)."""
    yield format_sse_event(retry=settings.retry_ms)
    cursor = after
    started = last_sent = last_checked = time.monotonic()
    try:
        while (now := time.monotonic()) - started < settings.max_seconds:
            if now - last_checked >= settings.heartbeat:
                if not await run_in_threadpool(allowed):
                    log.info("event stream ended: its token or permission is gone")
                    return
                last_checked = now
            if now - last_sent >= settings.heartbeat:
                yield HEARTBEAT
                last_sent = now
            seen = await watch.current()  # before reading: a later event changes it
            page = await run_in_threadpool(feed.page, query, cursor, PAGE)
            for event in page.events:
                yield message(event)
            if page.events:
                last_sent = time.monotonic()
            cursor = page.next_after
            if page.caught_up:
                now = time.monotonic()
                until_heartbeat = settings.heartbeat - (now - min(last_sent, last_checked))
                until_end = settings.max_seconds - (now - started)
                await watch.changed(seen, max(min(until_heartbeat, until_end), 0))
    except STORE_ERRORS as error:
        # The client reconnects with Last-Event-ID and resumes once the store is back.
        log.warning("event stream ended: the store is unavailable: %s", error)
