"""Verifying a long chain on every core: the log cut into spans, each in a process of its own.

One process verifies at about half the speed of reading the log on SQLite (two SHA-256
and the seals' stream per event, all in Python under one GIL). But every seal stores the
chain's hash at its position (ADR 0012), so a span of positions can be checked on its
own from the hash sealed just before it: the spans together check exactly what one pass
checks. A tampered seal at a span's boundary is found by the span that ends there (its
hash is compared with the one recomputed), and the first break of the whole log is the
first break of the first span that has one.

Each span runs in a process of its own (service/audit/span_worker.py) that opens the
store itself (a forked one would share the parent's database connections). Below
``MIN_SPAN`` positions per process, starting processes costs more than it saves, and the
check runs here.
"""

from __future__ import annotations

import base64
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from itertools import pairwise
from typing import IO

from adapters.store import StoreSettings
from projections.hash_chain import tip
from service.audit.verification import ChainVerifier, Verification

MIN_SPAN = 100_000
MAX_JOBS = 8
WORKER = [sys.executable, "-m", "service.audit.span_worker"]


class SpanFailed(RuntimeError):
    """A span's process ended without a finding (its error is on stderr)."""


def default_jobs() -> int:
    return max(1, min(MAX_JOBS, os.cpu_count() or 1))


def spans(start: int, end: int, jobs: int, min_span: int = MIN_SPAN) -> list[tuple[int, int]]:
    """``(start, end]`` cut into at most ``jobs`` contiguous spans of at least
    ``min_span`` positions (one span if the range is shorter)."""
    count = max(1, min(jobs, (end - start) // min_span))
    bounds = [start + (end - start) * i // count for i in range(count + 1)]
    return list(pairwise(bounds))


def verify_in_parallel(
    store: StoreSettings,
    verifier: ChainVerifier,
    start: int = 0,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    min_span: int = MIN_SPAN,
) -> Verification:
    """What ``verifier.verify(start)`` finds, checked in up to ``jobs`` processes (default:
    one per core) that open ``store`` themselves."""
    with verifier.readers.transaction() as sql:
        head, _ = tip(sql)
    cut = spans(start, head, jobs or default_jobs(), min_span)
    if len(cut) == 1:
        return verifier.verify(start, progress=progress)
    store_head = verifier.recorder.max_notification_id() or 0
    reports: queue.Queue[int | None] = queue.Queue()
    children = [
        subprocess.Popen(WORKER, stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in cut
    ]
    found: list[Verification | None] = [None] * len(cut)
    finished = False
    try:
        for index, (child, (after, upto)) in enumerate(zip(children, cut, strict=True)):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(pickle.dumps((store, after, upto)))
            child.stdin.close()
            threading.Thread(
                target=_read, args=(child.stdout, found, index, reports), daemon=True
            ).start()
        running = len(children)
        while running:
            count = reports.get()
            if count is None:
                running -= 1
            elif progress is not None:
                progress(count)
        finished = True
    finally:
        for child in children:
            if not finished:
                child.kill()  # interrupted: no span outlives the verification
            child.wait()
    if any(span is None for span in found):
        raise SpanFailed("a span of the chain could not be verified (see the error above)")
    return _joined(start, head, store_head, [span for span in found if span is not None])


def _read(
    out: IO[bytes], found: list[Verification | None], index: int, reports: queue.Queue[int | None]
) -> None:
    """A child's reports: progress lines, then its finding."""
    try:
        for line in out:
            if line.startswith(b"+"):
                reports.put(int(line[1:]))
            elif line.startswith(b"="):
                found[index] = pickle.loads(base64.b64decode(line[1:]))
    finally:
        reports.put(None)


def _joined(start: int, head: int, store_head: int, found: list[Verification]) -> Verification:
    """The spans' findings as one verification: checked up to the first break."""
    checked = 0
    for span in found:
        checked += span.checked
        if span.first_break is not None:
            return Verification(start, head, head, store_head, checked, span.first_break)
    return Verification(start, head, head, store_head, checked, None)
