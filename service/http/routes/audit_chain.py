"""The hash chain over HTTP: signed digests, the public key, proofs and verification
(ADR 0012, docs/audit.md)."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from adapters.signing import SigningKey
from service.audit.digests import (
    MAX_PROOF_PAGE,
    PROOF_PAGE,
    SignedDigest,
    current_digest,
    proof,
    signing_key_at,
)
from service.audit.verification import ChainVerifier
from service.http.access import Access, access_extra
from service.http.deps import PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.reads import FreshReads

router = APIRouter(tags=["audit"], responses=PROBLEM_RESPONSES)
AUDIT = access_extra(Access.AUDIT)
MAX_POSITION = 2**63 - 1


def get_signing_key(request: Request) -> SigningKey:
    """The key named by SUBLEDGER_SIGNING_KEY, loaded (or made) on first use."""
    state = request.app.state
    if getattr(state, "signing_key", None) is None:
        state.signing_key = signing_key_at(state.settings.path(state.settings.signing_key))
    key: SigningKey = state.signing_key
    return key


SigningKeyDep = Annotated[SigningKey, Depends(get_signing_key)]


class DigestOut(BaseModel):
    """The signature covers the canonical JSON of position, hash and time (keys sorted,
    no spaces, UTF-8): ``{"hash":"...","position":N,"time":"..."}``."""

    position: int = Field(description="The last sealed position of the global log")
    hash: str = Field(description="The chain's hash at that position, hex")
    time: str = Field(description="When it was signed: UTC, ISO 8601")
    signature: str = Field(description="Ed25519 signature, base64")
    key_id: str = Field(description="SHA-256 of the raw public key, hex")
    algorithm: str

    @classmethod
    def of(cls, digest: SignedDigest) -> DigestOut:
        return cls.model_validate(digest.as_json())


class PublicKeyOut(BaseModel):
    algorithm: str
    key_id: str = Field(description="SHA-256 of the raw public key, hex")
    public_key: str = Field(description="The raw 32-byte Ed25519 public key, base64")
    pem: str = Field(description="The public key as PEM (SubjectPublicKeyInfo)")


class ProofEntry(BaseModel):
    position: int
    digest: str = Field(description="The event's digest, hex")
    hash: str = Field(description="The chain's hash after it, hex")


class ProofOut(BaseModel):
    """Chain each entry's digest onto the hash you kept for ``from``:
    ``hash = SHA-256(0x01 || hash || digest)``; the last must equal ``digest.hash``."""

    from_: int = Field(alias="from", description="The position of the digest you kept")
    from_hash: str = Field(description="The chain's hash at ``from``, as the ledger has it now")
    entries: list[ProofEntry]
    digest: DigestOut = Field(description="Signed at the last entry's position")
    next_from: int | None = Field(
        description="Ask again from here for the next page; null: this page reached the head"
    )


class BreakOut(BaseModel):
    position: int
    kind: str = Field(description="changed, deleted, inserted, reordered or seal-altered")
    detail: str


class VerificationOut(BaseModel):
    ok: bool
    from_: int = Field(alias="from")
    to: int = Field(description="The last position checked (the sealed head)")
    store_head: int = Field(description="The event store's last position")
    checked: int = Field(description="Events recomputed and found as sealed")
    first_break: BreakOut | None
    summary: str


From = Annotated[
    int,
    Query(alias="from", ge=0, le=MAX_POSITION, description="A sealed position (0: the start)"),
]


@router.get(
    "/v1/audit/digest",
    openapi_extra=AUDIT,
    summary="The hash chain's digest at its sealed head, signed now: keep it",
)
def digest(principal: PrincipalDep, reads: FreshReads, key: SigningKeyDep) -> DigestOut:
    return DigestOut.of(current_digest(reads.side, key))


@router.get(
    "/v1/audit/public-key",
    openapi_extra=AUDIT,
    summary="The Ed25519 public key that signs the digests",
)
def public_key(principal: PrincipalDep, key: SigningKeyDep) -> PublicKeyOut:
    return PublicKeyOut(
        algorithm=key.algorithm,
        key_id=key.key_id,
        public_key=base64.b64encode(key.public_raw).decode("ascii"),
        pem=key.public_pem,
    )


@router.get(
    "/v1/audit/proof",
    openapi_extra=AUDIT,
    summary="That the current history extends a digest you kept: the digests since, signed",
)
def chain_proof(
    principal: PrincipalDep,
    reads: FreshReads,
    key: SigningKeyDep,
    start: From = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PROOF_PAGE)] = PROOF_PAGE,
) -> ProofOut:
    found = proof(reads.side, key, start, limit)
    return ProofOut.model_validate(
        {
            "from": found.start,
            "from_hash": found.start_hash.hex(),
            "entries": [
                ProofEntry(position=s.position, digest=s.digest.hex(), hash=s.hash.hex())
                for s in found.seals
            ],
            "digest": DigestOut.of(found.digest),
            "next_from": found.next_start,
        }
    )


@router.get(
    "/v1/audit/verify",
    openapi_extra=AUDIT,
    summary="Recompute the hash chain from the event store: the first break, and why",
)
def verify(principal: PrincipalDep, reads: FreshReads, start: From = 0) -> VerificationOut:
    side = reads.side
    found = ChainVerifier(side.ledger.recorder, side.readers).verify(start)
    first = found.first_break
    return VerificationOut.model_validate(
        {
            "ok": found.ok,
            "from": found.start,
            "to": found.end,
            "store_head": found.store_head,
            "checked": found.checked,
            "first_break": None
            if first is None
            else BreakOut(position=first.position, kind=first.kind.value, detail=first.detail),
            "summary": found.summary(),
        }
    )
