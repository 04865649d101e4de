"""``subledger privacy``: an operator erases a data subject, or copies a store written
before sealing into a new one with its plaintext sealed (ADR 0023, docs/privacy.md)."""

from __future__ import annotations

import os
import sys

import click

from adapters.store import store_at
from service.bootstrap import Service, ledger_on
from service.cli.progress import ProgressBar
from service.cli.runner import fail, with_service
from service.ledger.context import CommandContext
from service.privacy.erasure import Erasures
from service.privacy.migration import MigrationRefused, migrate
from service.privacy.retention import RetentionRun
from service.webhooks.store import WebhookStore


@click.group(help="personal data: erase a data subject, seal an old store's plaintext")
def privacy() -> None:
    pass


@privacy.command(
    "retention",
    help="destroy the buyer keys whose retention has ended (as `serve` does on its billing"
    " interval), recording PersonalDataErased for each",
)
@with_service()
def retention(svc: Service) -> int:
    """On the configured clock: a test clock moved past a retention end destroys its key."""
    report = RetentionRun(svc.ledger).run()
    print("\n".join(report.lines()))
    return 0


@privacy.command(
    help="destroy a subject's keys and record PersonalDataErased\n\n"
    "SUBJECT: contact:ACCOUNT:ID, user:ACCOUNT:ID, support-case:CASE, share-link-visitor:LINK"
    " or buyer:ACCOUNT (what the retention of its invoices keeps is held: the day each part"
    " goes is printed)"
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
        f" recorded at position {erasure.receipt.position}"
    )
    for subject in erasure.erased:
        print(f"erased now: {subject}")
    for hold in erasure.held:
        print(
            f"held until {hold.until} (legal retention of {', '.join(hold.invoices)}):"
            f" {hold.subject}, destroyed then by the retention run"
        )
    if erasure.not_erasable:
        positions = ", ".join(map(str, erasure.not_erasable))
        print(f"NOT ERASABLE: stored in plaintext before sealing, at positions {positions}")
        print("(a copy with them sealed: `subledger privacy migrate --to STORE`, docs/privacy.md)")
        return 1
    return 0


@privacy.command(
    "migrate",
    help="copy the whole log into a new, empty store, sealing every personal field stored"
    " in plaintext; the new store's hash chain is anchored on this one's head\n\n"
    "Stop every process writing to this store first. It is only read.",
)
@click.option(
    "--to",
    "target",
    required=True,
    help="the new store: a SQLite file's path, or postgresql://USER@HOST:PORT/DB?schema=NAME",
)
@with_service(reading=True)
def migrate_store(svc: Service, target: str) -> int:
    store = store_at(target)
    print(f"target: {store.describe()}", file=sys.stderr)
    new = ledger_on(svc.settings, store)
    copying = ProgressBar("copying and sealing", svc.ledger.head_position())
    sealing: ProgressBar | None = None

    def sealed(count: int) -> None:
        nonlocal sealing
        if sealing is None:
            copying.finish()
            sealing = ProgressBar("sealing the new chain", new.head_position())
        sealing.advance(count)

    hooks = WebhookStore(svc.store)
    try:
        cursors = [cursor.position for cursor in hooks.cursors().values()]
        done = migrate(svc.ledger, svc.store, new, store, copying.advance, sealed, cursors)
        target_hooks = WebhookStore(store)
        try:
            endpoints = hooks.copy_into(target_hooks, done.position)
        finally:
            target_hooks.close()
    except MigrationRefused as refused:
        (sealing or copying).finish()  # its line first, the refusal last
        fail(str(refused))
        return 1
    finally:
        hooks.close()
        new.close()
        (sealing or copying).finish()  # whatever ends it: a terminal gets its cursor back
    print("\n".join(done.lines()))
    print(f"webhook endpoints: {endpoints} secrets and cursors copied")
    return 0
