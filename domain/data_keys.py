"""The port to the keys that encrypt personal data, one set per data subject (ADR 0023).

The ledger keeps them in a table beside its log (adapters/data_keys.py); a key
management service could hold them instead. Destroying a subject's keys erases its data
from every event that holds it, without touching the events.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol


class DataKeys(Protocol):
    def key_for(self, subject: str) -> tuple[str, bytes]:
        """The subject's live key (its id, 32 bytes), made on first use. A subject erased
        before gets a new key: what is recorded about it afterwards is new data."""
        ...

    def key(self, key_id: str) -> bytes | None:
        """The key with this id; None once destroyed (or never made)."""
        ...

    def destroy(self, subject: str, at: datetime) -> int:
        """Destroy every live key of the subject; how many there were."""
        ...

    def live(self, subjects: Collection[str]) -> set[str]:
        """Which of these subjects hold a live key (none destroyed since it was made)."""
        ...

    def forget(self, subject: str) -> None:
        """Drop any copy of the subject's keys this process holds (another process
        destroyed them)."""
        ...

    def scrub(self) -> None:
        """Make destroyed keys unrecoverable from the store's files, where it can."""
        ...
