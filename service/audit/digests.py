"""Signed digests of the hash chain, and proofs that the chain extends a kept digest.

A digest says "the ledger's history up to ``position`` hashes to ``hash``", signed with
the ledger's Ed25519 key at ``time``. The signed bytes are the canonical JSON of those
three members: keys sorted, no spaces, UTF-8 (docs/audit.md checks them with nothing but
the standard library and the public key). An auditor keeps digests outside the system;
a proof from a kept position carries the digest of every event after it, so the auditor
can chain them onto the hash they kept and reach a digest signed now.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapters.signing import SigningKey
from domain.errors import InvalidValue
from projections.audit_trail import recorded
from projections.hash_chain import Seal, hash_at, seals, tip
from service.reads.read_side import ReadSide

PROOF_PAGE = 1000
MAX_PROOF_PAGE = 10_000


def signing_key_at(path: Path) -> SigningKey:
    """The key at ``path`` (``SUBLEDGER_SIGNING_KEY``), made if absent."""
    return SigningKey.load_or_create(path)


def digest_message(position: int, chain_hash: str, time: str) -> bytes:
    """The bytes a digest's signature covers."""
    members = {"hash": chain_hash, "position": position, "time": time}
    return json.dumps(members, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class SignedDigest:
    position: int
    hash: str  # hex
    time: str  # when it was signed: UTC, ISO 8601, microseconds, Z
    signature: str  # base64 of the Ed25519 signature of digest_message(...)
    key_id: str  # SHA-256 of the raw public key, hex
    algorithm: str = SigningKey.algorithm

    def as_json(self) -> dict[str, object]:
        return {
            "position": self.position,
            "hash": self.hash,
            "time": self.time,
            "signature": self.signature,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
        }


def sign_digest(
    key: SigningKey, position: int, chain_hash: bytes, moment: datetime
) -> SignedDigest:
    time = recorded(moment)
    signature = key.sign(digest_message(position, chain_hash.hex(), time))
    return SignedDigest(
        position, chain_hash.hex(), time, base64.b64encode(signature).decode("ascii"), key.key_id
    )


def current_digest(read_side: ReadSide, key: SigningKey) -> SignedDigest:
    """The digest of everything sealed so far, signed now."""
    with read_side.readers.transaction() as sql:
        position, chain_hash = tip(sql)
    return sign_digest(key, position, chain_hash, read_side.ledger.clock.now())


@dataclass(frozen=True)
class Proof:
    """The seals after ``start`` (one page of them), and a digest signed at the last."""

    start: int
    start_hash: bytes  # the chain's hash at ``start``, as the ledger has it now
    seals: list[Seal]
    digest: SignedDigest
    next_start: int | None  # where the next page starts; None: this one reached the head


def proof(read_side: ReadSide, key: SigningKey, start: int, limit: int = PROOF_PAGE) -> Proof:
    """What an auditor who kept the digest at ``start`` needs to check that the current
    history extends it, a page at a time: chain each seal's digest onto the kept hash and
    compare the result with the signed digest."""
    if not 1 <= limit <= MAX_PROOF_PAGE:
        raise InvalidValue(f"limit must be between 1 and {MAX_PROOF_PAGE}, got {limit}")
    with read_side.readers.transaction() as sql:
        head, _ = tip(sql)
        if start > head:
            raise InvalidValue(f"position {start} is beyond the sealed head of the chain ({head})")
        start_hash = hash_at(sql, start)
        page = [seal for seal in seals(sql, start, limit) if seal.position <= head]
    end, end_hash = (page[-1].position, page[-1].hash) if page else (start, start_hash)
    digest = sign_digest(key, end, end_hash, read_side.ledger.clock.now())
    return Proof(start, start_hash, page, digest, end if end < head else None)
