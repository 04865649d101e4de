"""The cost of sealing personal data (ADR 0023): commands that record it, and rebuilds.

    .venv/bin/python bench/personal_data.py                      # SQLite, 300 accounts
    .venv/bin/python bench/personal_data.py --accounts 2000
    .venv/bin/python bench/personal_data.py --database-url postgresql://postgres@127.0.0.1/test

The same work runs twice in one run, each on a fresh store: *plain* (the mapper stores
every field as it is, as before sealing existed) and *sealed* (personal fields encrypted
under their subject's key, the ledger's default). Per account: it is opened (an
administrator and a billing identity), gets two contacts and a user, and a support case
with a reply: 6 commands, each recording personal data (of 6 subjects: 6 keys made).
Then, over the log written:

- decode: the log read in pages of 500 and every event decoded by the mapper (what every
  reader pays: feed, webhooks, projections);
- rebuild: every rebuildable read model and the hash chain from position 0, by one
  projection runner, as on a fresh read store.

It prints events per second for each, and sealed against plain.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from _stores import add_store_arguments, fresh_store
from _timing import throughput

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from domain.account import BillingDetails, Contact, ContactRole, User
from domain.catalog import Edition
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide

STAFF = CommandContext("staff-1", "billing_staff")


def write(ledger: Ledger, accounts: int) -> int:
    for n in range(accounts):
        billing = BillingDetails(
            f"Customer {n} SARL", f"{n} rue de la Paix", "Paris", "75002", "FR", f"ap{n}@c.example"
        )
        admin = User(f"admin-{n}", f"Admin Number {n}", f"admin{n}@c.example", True)
        account_id = ledger.open_account(
            STAFF, f"Customer {n}", Edition.ESSENTIALS, "EUR", billing, admin
        ).aggregate_id
        for role in (ContactRole.BILLING, ContactRole.TECHNICAL):
            contact = Contact(role, f"Contact {role.value} {n}", f"{role.value}{n}@c.example")
            ledger.add_contact(STAFF, account_id, contact)
        ledger.add_user(STAFF, account_id, User(f"user-{n}", f"User {n}", f"user{n}@c.example"))
        case_id = ledger.open_support_case(
            STAFF, account_id, "Invoice address", f"Please send invoices to ap{n}@c.example"
        ).aggregate_id
        ledger.reply_to_support_case(STAFF, case_id, "Done, from the next invoice on.")
    return ledger.head_position()


def decode_all(ledger: Ledger) -> int:
    decoded, start = 0, 1
    while page := ledger.recorder.select_notifications(start, 500):
        for notification in page:
            ledger.mapper.to_domain_event(notification)
        decoded += len(page)
        start = page[-1].id + 1
    return decoded


def run(mode: str, args: argparse.Namespace) -> dict[str, float]:
    with fresh_store(args.database_url, args.dir) as settings:
        settings.prepare()
        clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        if mode == "plain":
            ledger.mapper.keys = None  # type: ignore[attr-defined]
        try:
            rates = {"write": throughput(f"{mode} write", lambda: write(ledger, args.accounts))}
            events = ledger.head_position()
            rates["decode"] = throughput(f"{mode} decode", lambda: decode_all(ledger), events)
            read_side = ReadSide(settings, ledger)
            try:
                rates["rebuild"] = throughput(
                    f"{mode} rebuild", lambda: read_side.runner.catch_up() and events, events
                )
            finally:
                read_side.stop()
        finally:
            ledger.close()
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    plain, sealed = run("plain", args), run("sealed", args)
    for step in ("write", "decode", "rebuild"):
        print(f"sealed/plain {step:8} {sealed[step] / plain[step]:6.2f}x the throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
