"""``subledger audit``: verify the hash chain, print a signed digest, export and replay an
account (ADR 0012, docs/audit.md)."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import click

from adapters.private_files import ExportRefused
from projections.hash_chain import anchored_on, tip
from service.audit.digests import current_digest
from service.audit.export import export_account
from service.audit.parallel_verification import MAX_JOBS, verify_in_parallel
from service.audit.replay import NO_SNAPSHOTS, replay_account
from service.audit.verification import ChainVerifier
from service.bootstrap import Service
from service.cli.progress import ProgressBar
from service.cli.runner import fail, with_service
from service.reads.history import catch_up

AS_OF_HELP = "recorded time, ISO 8601 (default: now; a bare date means its end, UTC)"
EFFECTIVE_HELP = "business date YYYY-MM-DD (default: as-of's day)"


@click.group(help="tamper-evident history: verify, digest, export")
def audit() -> None:
    pass


@audit.command(help="recompute the hash chain from the event store; name the first break")
@click.option("--from", "start", type=int, default=0, help="start after this sealed position")
@click.option(
    "--jobs",
    type=click.IntRange(1, MAX_JOBS),
    default=None,
    help="processes to verify a long chain in (default: one per core)",
)
@with_service(reading=True)
def verify(svc: Service, start: int, jobs: int | None) -> int:
    """Verification only reads: it checks what is sealed, and seals nothing itself."""
    read_side = svc.read_side
    with read_side.readers.transaction() as sql:
        head, _ = tip(sql)
        anchored = anchored_on(sql)
    verifier = ChainVerifier(read_side.ledger.recorder, read_side.readers)
    with ProgressBar("verifying the hash chain", head - start) as bar:
        found = verify_in_parallel(svc.store, verifier, start, jobs, bar.advance)
    print(found.summary())
    if anchored is not None:  # a migrated store's chain (ADR 0023)
        print(
            f"anchored on the chain of the store it was migrated from: its head at position"
            f" {anchored.aggregate_version}, hash {anchored.hash.hex()}"
        )
    return 0 if found.ok else 1


@audit.command(help="print the chain's digest, signed now (JSON)")
@with_service(reading=True)
def digest(svc: Service) -> int:
    print(json.dumps(current_digest(svc.read_side, svc.signing_key).as_json(), indent=2))
    return 0


@audit.command(help="an account's history with its hashes, a signed digest and the key")
@click.argument("account_id", type=click.UUID)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="directory to write")
@with_service(reading=True)
def export(svc: Service, account_id: UUID, out: Path) -> int:
    read_side = svc.read_side
    catch_up(read_side)
    try:
        exported = export_account(read_side, svc.signing_key, account_id, out)
    except ExportRefused as error:
        fail(str(error))
        return 1
    print("\n".join(exported.lines()))
    return 1 if exported.mismatched else 0


@audit.command(help="an account at an instant, from its events, checked against the chain")
@click.argument("account_id", type=click.UUID)
@click.option("--as-of", default=None, help=AS_OF_HELP)
@click.option("--effective", default=None, help=EFFECTIVE_HELP)
@with_service(reading=True, env=NO_SNAPSHOTS)
def replay(svc: Service, account_id: UUID, as_of: str | None, effective: str | None) -> int:
    return replay_account(svc.read_side, account_id, as_of, effective)
