"""``subledger privacy erase SUBJECT``: an operator erases a data subject (ADR 0023)."""

from __future__ import annotations

import os

import click

from service.bootstrap import Service
from service.cli.runner import with_service
from service.ledger.context import CommandContext
from service.privacy.erasure import Erasures


@click.group(help="personal data: erase a data subject")
def privacy() -> None:
    pass


@privacy.command(
    help="destroy a subject's keys and record PersonalDataErased\n\n"
    "SUBJECT: contact:ACCOUNT:ID, user:ACCOUNT:ID, support-case:CASE or share-link-visitor:LINK"
)
@click.argument("subject")
@click.option("--reason", required=True, help="why (recorded with the erasure)")
@click.option(
    "--by", default=os.environ.get("USER", "operator"), help="who asks (recorded as the actor)"
)
@with_service()
def erase(svc: Service, subject: str, reason: str, by: str) -> int:
    """On the configured clock: a test clock's store keeps its time."""
    ctx = CommandContext(f"cli:{by}", "operator", reason=reason)
    erasure = Erasures(svc.ledger).erase_subject(ctx, subject)
    print(
        f"erased {erasure.subject}: {erasure.keys_destroyed} key(s) destroyed,"
        f" PersonalDataErased at position {erasure.receipt.position}"
    )
    if erasure.not_erasable:
        positions = ", ".join(map(str, erasure.not_erasable))
        print(f"NOT ERASABLE: stored in plaintext before sealing, at positions {positions}")
        return 1
    return 0
