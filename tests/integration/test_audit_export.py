"""An account's export checks with the script docs/audit.md shows, and nothing else: the
script is taken from the document and run on real exports, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from adapters.private_files import ExportRefused
from adapters.signing import SigningKey
from adapters.store import StoreSettings
from service.audit.export import Exported, export_account
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.tamper import RawEventStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
START, END = "<!-- verify-export:start -->", "<!-- verify-export:end -->"


def documented_script(directory: Path) -> Path:
    """The verification script, exactly as docs/audit.md prints it, saved in ``directory``."""
    text = DOC.read_text()
    block = text[text.index(START) + len(START) : text.index(END)].strip()
    assert block.startswith("```python\n") and block.endswith("\n```")
    path = directory / "verify_export.py"
    path.write_text(block.removeprefix("```python\n").removesuffix("```"))
    return path


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return documented_script(tmp_path_factory.mktemp("doc"))


def run(script: Path, directory: Path, *python_flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *python_flags, str(script), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger) -> Iterator[ReadSide]:
    side = ReadSide(store, ledger)
    yield side
    side.stop()


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return SigningKey.load_or_create(tmp_path / "signing-key.pem")


@pytest.fixture
def acme(ledger: Ledger, staff, admin) -> UUID:
    """Acme's events interleaved with another account's, and more of theirs at the end."""
    acme_id, other_id = open_account(ledger, staff), open_account(ledger, staff)
    acme_sub = ledger.start_subscription(admin, acme_id, {"sales-cloud": 5}).aggregate_id
    ledger.start_subscription(admin, other_id, {"sales-cloud": 3})
    ledger.add_licenses(admin, acme_sub, "sales-cloud", 2)
    ledger.set_payment_method(admin, other_id, "pm_other")
    ledger.set_payment_method(admin, acme_id, "pm_card_visa")
    ledger.set_payment_method(admin, other_id, "pm_other_2")
    return acme_id


def export(read_side: ReadSide, key: SigningKey, account_id: UUID, out: Path) -> Exported:
    read_side.runner.catch_up()
    return export_account(read_side, key, account_id, out)


def test_the_documented_script_checks_a_real_export(read_side, key, acme, tmp_path, script):
    exported = export(read_side, key, acme, tmp_path / "acme")

    events = [json.loads(line) for line in (tmp_path / "acme" / "events.jsonl").open()]
    links = [json.loads(line) for line in (tmp_path / "acme" / "links.jsonl").open()]
    assert exported.events == len(events) == len(links) and not exported.mismatched
    assert exported.position == read_side.ledger.head_position()
    gaps = [len(base64.b64decode(link["digests"])) // 32 for link in links]
    assert sum(gaps) + len(events) == exported.position - events[0]["position"] + 1
    assert any(gaps[:-1]) and gaps[-1] == 1  # the other account's events are in the links

    checked = run(script, tmp_path / "acme")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"OK: {len(events)} events")
    assert key.key_id in checked.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_the_script_checks_the_signature_with_openssl_when_cryptography_is_absent(
    read_side, key, acme, tmp_path, script
):
    export(read_side, key, acme, tmp_path / "acme")
    probe = run(script, tmp_path / "acme", "-S")  # -S: no site-packages, no cryptography
    assert probe.returncode == 0, probe.stderr

    rewrite(tmp_path / "acme" / "digest.json", backdated)
    refused = run(script, tmp_path / "acme", "-S")
    assert refused.returncode != 0
    assert "signature is not valid" in refused.stderr


def rewrite(path: Path, change) -> None:
    """Apply ``change`` to a JSON file's object, or to a JSON Lines file's list of rows."""
    if path.suffix == ".json":
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
        return
    rows = change([json.loads(line) for line in path.read_text().splitlines()])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def changed_state(rows):
    # The first event that names a product: the contract's (after its invoice's number).
    n = next(i for i, row in enumerate(rows) if b"sales-cloud" in base64.b64decode(row["state"]))
    assert n > 0
    state = base64.b64decode(rows[n]["state"])
    forged = base64.b64encode(state.replace(b"sales-cloud", b"service-cloud")).decode()
    return [*rows[:n], dict(rows[n], state=forged), *rows[n + 1 :]]


def dropped_link_digest(rows):
    last = base64.b64decode(rows[-1]["digests"])[:-32]
    return [*rows[:-1], dict(rows[-1], digests=base64.b64encode(last).decode())]


def backdated(digest):
    return dict(digest, time="2020-01-01T00:00:00.000000Z")


@pytest.mark.parametrize(
    ("file", "change", "complaint"),
    [
        ("events.jsonl", changed_state, "is not the event that was sealed"),
        ("events.jsonl", lambda rows: [rows[0], *rows[2:]], "events are missing before it"),
        ("links.jsonl", dropped_link_digest, "does not lead to the signed digest"),
        ("digest.json", backdated, "signature is not valid"),
    ],
    ids=["changed-event", "dropped-event", "changed-link", "changed-digest"],
)
def test_the_script_refuses_an_altered_export(
    read_side, key, acme, tmp_path, script, file, change, complaint
):
    export(read_side, key, acme, tmp_path / "acme")
    rewrite(tmp_path / "acme" / file, change)

    refused = run(script, tmp_path / "acme")

    assert refused.returncode != 0
    assert complaint in refused.stderr


def test_an_export_of_a_tampered_store_says_so_and_does_not_check(
    read_side, key, acme, store, tmp_path, script
):
    read_side.runner.catch_up()
    raw = RawEventStore(store)
    try:
        at = raw.find(b"pm_card_visa")
        raw.change(at, b"pm_card_visa", b"pm_card_evil")
    finally:
        raw.close()

    exported = export(read_side, key, acme, tmp_path / "acme")

    assert exported.mismatched == (at,)
    assert "WARNING" in "\n".join(exported.lines())
    refused = run(script, tmp_path / "acme")
    assert f"position {at}: this is not the event that was sealed" in refused.stderr


def test_an_export_is_private_and_never_written_over_a_file_or_through_a_link(
    read_side, key, acme, tmp_path
):
    out = tmp_path / "acme"
    export(read_side, key, acme, out)
    assert out.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {
        name: 0o600 for name in ("events.jsonl", "links.jsonl", "digest.json", "public-key.pem")
    }

    before = (out / "digest.json").read_bytes()
    with pytest.raises(ExportRefused):
        export(read_side, key, acme, out)  # every file is already there
    assert (out / "digest.json").read_bytes() == before

    planted = tmp_path / "planted"
    planted.mkdir()
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours")
    (planted / "events.jsonl").symlink_to(target)
    with pytest.raises(ExportRefused):
        export(read_side, key, acme, planted)
    assert target.read_text() == "not yours"

    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "somewhere", target_is_directory=True)
    with pytest.raises(ExportRefused):
        export(read_side, key, acme, linked)
    assert not (tmp_path / "somewhere").exists()
