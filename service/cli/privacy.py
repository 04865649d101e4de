"""``subledger privacy erase SUBJECT``: an operator erases a data subject (ADR 0023)."""

from __future__ import annotations

import argparse
import os

from service.bootstrap import Service
from service.ledger.context import CommandContext
from service.privacy.erasure import Erasures


def add_privacy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    privacy = commands.add_parser("privacy", help="personal data: erase a data subject")
    privacy_commands = privacy.add_subparsers(dest="privacy_command", required=True)
    erase = privacy_commands.add_parser(
        "erase", help="destroy a subject's keys and record PersonalDataErased"
    )
    erase.add_argument(
        "subject",
        help="contact:ACCOUNT:ID, user:ACCOUNT:ID, support-case:CASE or share-link-visitor:LINK",
    )
    erase.add_argument("--reason", required=True, help="why (recorded with the erasure)")
    erase.add_argument(
        "--by", default=os.environ.get("USER", "operator"), help="who asks (recorded as the actor)"
    )


def run_privacy(svc: Service, args: argparse.Namespace) -> int:
    """On the configured clock: a test clock's store keeps its time."""
    ctx = CommandContext(f"cli:{args.by}", "operator", reason=args.reason)
    erasure = Erasures(svc.ledger).erase_subject(ctx, args.subject)
    print(
        f"erased {erasure.subject}: {erasure.keys_destroyed} key(s) destroyed,"
        f" PersonalDataErased at position {erasure.receipt.position}"
    )
    if erasure.not_erasable:
        positions = ", ".join(map(str, erasure.not_erasable))
        print(f"NOT ERASABLE: stored in plaintext before sealing, at positions {positions}")
        return 1
    return 0
