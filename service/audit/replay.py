"""``subledger audit replay``: an account at an instant, folded from its events alone.

The state and timeline are those of ``subledger history``, with two differences for an
auditor: aggregates are folded from the stored events only (snapshots, a cache, are
turned off), and every event of the timeline is checked against the hash chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from projections.hash_chain import tip
from projections.point_in_time import TimelineEntry
from service.audit.verification import ChainVerifier, Verification
from service.reads.history import history_at, render_history, text_table
from service.reads.read_side import ReadSide

NO_SNAPSHOTS = {"IS_SNAPSHOTTING_ENABLED": "n"}


@dataclass(frozen=True)
class ChainCheck:
    """One timeline event checked against the chain at its position (None: not sealed)."""

    entry: TimelineEntry
    found: Verification | None

    @property
    def broken(self) -> bool:
        return self.found is not None and self.found.first_break is not None

    def row(self) -> tuple[object, ...]:
        if self.found is None:
            check = "not sealed yet"
        elif self.found.first_break is not None:
            check = f"BROKEN: {self.found.first_break.kind.value}"
        else:
            check = "as sealed"
        e = self.entry
        return (e.position, e.event_type, e.aggregate_id, e.aggregate_version, check)


def check_entries(read_side: ReadSide, entries: list[TimelineEntry]) -> list[ChainCheck]:
    """Whether the store still holds the event sealed at each entry's position, chained
    onto the hash sealed before it."""
    verifier = ChainVerifier(read_side.ledger.recorder, read_side.readers)
    with read_side.readers.transaction() as sql:
        head, _ = tip(sql)
    return [
        ChainCheck(e, verifier.verify(e.position - 1, upto=e.position))
        if e.position <= head
        else ChainCheck(e, None)
        for e in entries
    ]


def render_chain(checks: list[ChainCheck]) -> list[str]:
    broken = sum(check.broken for check in checks)
    sealed = sum(check.found is not None for check in checks)
    verdict = (
        f"{broken} of {sealed} events differ from the hash chain: run `subledger audit verify`"
        if broken
        else f"all {sealed} events are stored as the hash chain sealed them"
    )
    if sealed < len(checks):
        verdict += f"; {len(checks) - sealed} are not sealed yet"
    headers = ("position", "event", "aggregate", "version", "chain")
    return ["Hash chain", *text_table(headers, [c.row() for c in checks]), verdict]


def replay_account(
    read_side: ReadSide, account_id: UUID, as_of: str | None, effective: str | None
) -> int:
    """Print the account as known at ``as_of``, in force on ``effective``, with its
    timeline checked against the hash chain; 1 if any event differs from its seal."""
    view, entries = history_at(read_side, account_id, as_of, effective)
    checks = check_entries(read_side, entries)
    print(render_history(view, entries))
    print()
    print("\n".join(render_chain(checks)))
    return 1 if any(check.broken for check in checks) else 0
