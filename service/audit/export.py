"""``subledger audit export``: an account's whole history, checkable away from the ledger.

The directory it writes (docs/audit.md shows how to check it):

- ``events.jsonl``: one line per event of the account, in log order: ``position``,
  ``aggregate_id``, ``aggregate_version``, ``topic``, ``state`` (base64 of the stored
  bytes), and the chain's ``previous_hash`` and ``hash`` around it (hex).
- ``links.jsonl``: one line per event of the account: ``after`` (its position) and
  ``digests``, base64 of the 32-byte digests of every event after it, up to the next
  event of the account or, for the last, up to the digest's position. They bind the
  account's events to one another and to the signed digest without revealing what
  the other events say.
- ``digest.json``: the chain's digest at the sealed head, signed now.
- ``public-key.pem``: the key that signed it.

The folder is made 0700 if it is missing; each file is new and 0600 (an existing file,
or a symbolic link, in its place refuses the export: ``ExportRefused``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from uuid import UUID

from eventsourcing.persistence import Notification

from adapters.private_files import ExportRefused, new_file, private_directory
from adapters.signing import SigningKey
from domain.errors import NotFound
from projections.audit_trail import TABLE as AUDIT_TABLE
from projections.hash_chain import event_digest, hash_at, seals_between, tip
from service.audit.digests import sign_digest
from service.reads.read_side import ReadSide

PAGE = 5000


@dataclass(frozen=True)
class Exported:
    account_id: UUID
    events: int
    position: int  # the signed digest's
    directory: Path
    mismatched: tuple[int, ...]  # positions where the store no longer holds what was sealed

    def lines(self) -> list[str]:
        found = [
            f"exported {self.events} events of account {self.account_id} to {self.directory}",
            f"bound to the digest signed at position {self.position} (digest.json)",
        ]
        if self.mismatched:
            found.append(
                "WARNING: the store no longer holds what was sealed at positions "
                f"{', '.join(map(str, self.mismatched))}: run `subledger audit verify`"
            )
        return found


def account_positions(read_side: ReadSide, account_id: UUID, upto: int) -> list[int]:
    """The positions of the account's events (as the audit trail attributes them)."""
    with read_side.readers.transaction() as sql:
        rows = sql.execute(
            f"SELECT position FROM {AUDIT_TABLE} WHERE account_id = ? AND position <= ?"
            " ORDER BY position",
            (str(account_id), upto),
        ).fetchall()
    return [int(row[0]) for row in rows]


def export_account(
    read_side: ReadSide, key: SigningKey, account_id: UUID, directory: Path
) -> Exported:
    """Write the account's sealed history to ``directory`` (read models caught up first)."""
    with read_side.readers.transaction() as sql:
        head, head_hash = tip(sql)
    positions = account_positions(read_side, account_id, head)
    if not positions:
        raise NotFound(f"no account {account_id} in the sealed history")
    if directory.is_symlink():
        raise ExportRefused(f"{directory} is a symbolic link: export to a folder of its own")
    private_directory(directory)
    with (
        new_file(directory / "events.jsonl") as events,
        new_file(directory / "links.jsonl") as links,
    ):
        mismatched = _write_chain(read_side, set(positions), positions[0], head, events, links)
    digest = sign_digest(key, head, head_hash, read_side.ledger.clock.now())
    with new_file(directory / "digest.json") as out:
        out.write(json.dumps(digest.as_json(), indent=2) + "\n")
    with new_file(directory / "public-key.pem") as out:
        out.write(key.public_pem)
    return Exported(account_id, len(positions), head, directory, tuple(mismatched))


def _write_chain(
    read_side: ReadSide, wanted: set[int], first: int, head: int, events: IO[str], links: IO[str]
) -> list[int]:
    """Walk the seals from ``first`` to ``head``: an events line for each wanted position,
    the digests of the others in the links; returns where the store differs from a seal."""
    mismatched = []
    with read_side.readers.transaction() as sql:
        previous = hash_at(sql, first - 1)
    after, between = first, bytearray()
    for seal in seals_between(read_side.readers, first - 1, head, PAGE):
        if seal.position not in wanted:
            between += seal.digest
            previous = seal.hash
            continue
        if seal.position != first:
            _link(links, after, between)
            after, between = seal.position, bytearray()
        stored = _stored(read_side, seal.position)
        if stored is None or event_digest(seal.position, stored) != seal.digest:
            mismatched.append(seal.position)
        if stored is not None:
            _event(events, seal.position, stored, previous, seal.hash)
        previous = seal.hash
    _link(links, after, between)
    return mismatched


def _stored(read_side: ReadSide, position: int) -> Notification | None:
    found = read_side.ledger.recorder.select_notifications(position, 1, stop=position)
    return found[0] if found else None


def _event(
    out: IO[str], position: int, stored: Notification, previous: bytes, chain_hash: bytes
) -> None:
    line = {
        "position": position,
        "aggregate_id": str(stored.originator_id),
        "aggregate_version": stored.originator_version,
        "topic": stored.topic,
        "state": base64.b64encode(stored.state).decode("ascii"),
        "previous_hash": previous.hex(),
        "hash": chain_hash.hex(),
    }
    out.write(json.dumps(line) + "\n")


def _link(out: IO[str], after: int, digests: bytearray) -> None:
    line = {"after": after, "digests": base64.b64encode(bytes(digests)).decode("ascii")}
    out.write(json.dumps(line) + "\n")
