"""``subledger audit``: verify the hash chain, print a signed digest, export and replay an
account (ADR 0012, docs/audit.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from uuid import UUID

from adapters.private_files import ExportRefused
from projections.hash_chain import tip
from service.audit.digests import current_digest
from service.audit.export import export_account
from service.audit.replay import replay_account
from service.audit.verification import ChainVerifier
from service.bootstrap import Service
from service.cli.progress import ProgressBar
from service.reads.history import catch_up
from service.reads.read_side import ReadSide


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``audit`` group, added to the CLI's subcommands."""
    audit = commands.add_parser("audit", help="tamper-evident history: verify, digest, export")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="recompute the hash chain from the event store; name the first break"
    )
    verify.add_argument(
        "--from", dest="start", type=int, default=0, help="start after this sealed position"
    )
    audit_commands.add_parser("digest", help="print the chain's digest, signed now (JSON)")
    export = audit_commands.add_parser(
        "export", help="an account's history with its hashes, a signed digest and the key"
    )
    export.add_argument("account_id", type=UUID)
    export.add_argument("--out", type=Path, required=True, help="directory to write")
    replay = audit_commands.add_parser(
        "replay", help="an account at an instant, from its events, checked against the chain"
    )
    replay.add_argument("account_id", type=UUID)
    replay.add_argument(
        "--as-of", help="recorded time, ISO 8601 (default: now; a bare date means its end, UTC)"
    )
    replay.add_argument("--effective", help="business date YYYY-MM-DD (default: as-of's day)")


def run_audit(svc: Service, args: argparse.Namespace) -> int:
    read_side = svc.read_side
    if args.audit_command == "replay":
        return replay_account(read_side, args.account_id, args.as_of, args.effective)
    if args.audit_command == "verify":
        return _verify(read_side, args.start)
    if args.audit_command == "digest":
        print(json.dumps(current_digest(read_side, svc.signing_key).as_json(), indent=2))
        return 0
    catch_up(read_side)
    try:
        exported = export_account(read_side, svc.signing_key, args.account_id, args.out)
    except ExportRefused as error:
        print(f"subledger: {error}", file=sys.stderr)
        return 1
    print("\n".join(exported.lines()))
    return 1 if exported.mismatched else 0


def _verify(read_side: ReadSide, start: int) -> int:
    """Verification only reads: it checks what is sealed, and seals nothing itself."""
    with read_side.readers.transaction() as sql:
        head, _ = tip(sql)
    bar = ProgressBar("verifying the hash chain", head - start)
    found = ChainVerifier(read_side.ledger.recorder, read_side.readers).verify(
        start, progress=bar.advance
    )
    bar.finish()
    print(found.summary())
    return 0 if found.ok else 1
