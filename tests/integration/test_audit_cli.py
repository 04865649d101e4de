"""``subledger audit``: verify, digest, export and replay from the command line, on SQLite;
and ``projections rebuild hash_chain`` refused."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.integration.test_audit_export import documented_script
from tests.tamper import RawEventStore

SUBLEDGER = str(Path(sys.executable).with_name("subledger"))
ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff")


def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    key = db.with_name("keys") / "signing-key.pem"
    return subprocess.run(
        [SUBLEDGER, *args],
        env=environ | {"SUBLEDGER_DB": str(db), "SUBLEDGER_SIGNING_KEY": str(key)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, UUID]:
    """An account with a contract from 2 March and five seats more on 20 March, and another
    account between; everything sealed."""
    db = tmp_path_factory.mktemp("audit") / "ledger.db"
    settings = StoreSettings(sqlite_path=str(db))
    clock = ControllableClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ledger = Ledger(
        env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    try:
        account_id = open_account(ledger, STAFF)
        ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
        sub_id = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id
        open_account(ledger, STAFF)
        clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
        ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 5, date(2026, 4, 1))
        read_side = ReadSide(settings, ledger)
        read_side.runner.catch_up()
        read_side.stop()
    finally:
        ledger.close()
    return db, account_id


@pytest.fixture
def book(template: tuple[Path, UUID], tmp_path: Path) -> tuple[Path, UUID]:
    """A copy of the template, free to tamper with."""
    source, account_id = template
    db = tmp_path / "ledger.db"
    for name in (source.name, source.name.replace(".db", "-read.db")):
        shutil.copyfile(source.with_name(name), db.with_name(name))
    return db, account_id


def tamper(db: Path) -> int:
    raw = RawEventStore(StoreSettings(sqlite_path=str(db)))
    try:
        at = raw.find(b"pm_card_visa")
        raw.change(at, b"pm_card_visa", b"pm_card_evil")
    finally:
        raw.close()
    return at


def test_verify_reports_an_intact_chain_with_a_progress_bar(book) -> None:
    db, _ = book
    result = cli(db, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("intact: ")
    assert "match their seals" in result.stdout
    assert "verifying the hash chain " in result.stderr and "\r" not in result.stderr


def test_verify_names_the_first_broken_position_and_from_skips_it(book) -> None:
    db, _ = book
    at = tamper(db)
    broken = cli(db, "audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"BROKEN at position {at} (changed): ")

    later = cli(db, "audit", "verify", "--from", str(at))
    assert later.returncode == 0, later.stdout
    beyond = cli(db, "audit", "verify", "--from", "9999")
    assert beyond.returncode == 1
    assert "sealed head" in beyond.stderr


def test_digest_is_signed_by_the_key_file_it_creates_private(book) -> None:
    db, _ = book
    result = cli(db, "audit", "digest")
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    key_file = db.with_name("keys") / "signing-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key(key_file.read_bytes(), password=None)
    public = private.public_key()
    assert isinstance(public, Ed25519PublicKey)
    signed = {name: digest[name] for name in ("hash", "position", "time")}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    public.verify(base64.b64decode(digest["signature"]), message)
    assert cli(db, "audit", "digest").returncode == 0  # the same key, loaded again
    assert json.loads(cli(db, "audit", "digest").stdout)["key_id"] == digest["key_id"]


def test_export_writes_what_the_documented_script_checks(book, tmp_path) -> None:
    db, account_id = book
    out = tmp_path / "export"
    result = cli(db, "audit", "export", str(account_id), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stdout
    key = load_pem_public_key((out / "public-key.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)

    script = documented_script(tmp_path)
    checked = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK: ")

    unknown = cli(db, "audit", "export", "00000000-0000-0000-0000-000000000000", "--out", "x")
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines()[-1].startswith("subledger: no account")


def section(output: str, title: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index(title) + 3  # the title, the headers, the rule
    end = next((i for i in range(start, len(lines)) if not lines[i][:1].isdigit()), len(lines))
    return lines[start:end]


def test_replay_shows_the_account_then_with_each_event_checked(book) -> None:
    db, account_id = book
    result = cli(db, "audit", "replay", str(account_id), "--as-of", "2026-03-10")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("As known at 2026-03-10 23:59:59 UTC, in force on 2026-03-10")
    rows = section(out, "Hash chain")
    assert rows and all(row.endswith("as sealed") for row in rows)
    assert "LineQuantityIncreased" not in out  # recorded on 20 March
    assert f"all {len(rows)} events are stored as the hash chain sealed them" in out

    later = cli(db, "audit", "replay", str(account_id), "--as-of", "2026-03-21")
    assert len(section(later.stdout, "Hash chain")) > len(rows)


def test_replay_of_a_tampered_account_flags_the_event(book) -> None:
    db, account_id = book
    at = tamper(db)
    result = cli(db, "audit", "replay", str(account_id))
    assert result.returncode == 1
    (row,) = [r for r in section(result.stdout, "Hash chain") if r.startswith(f"{at} ")]
    assert row.endswith("BROKEN: changed")
    assert "payment method  pm_card_evil" in result.stdout  # what the store says now
    assert "differ from the hash chain" in result.stdout


def test_the_chain_cannot_be_rebuilt(book) -> None:
    db, _ = book
    result = cli(db, "projections", "rebuild", "hash_chain")
    assert result.returncode == 1
    assert "hash_chain is permanent" in result.stderr
    assert cli(db, "audit", "verify").returncode == 0
