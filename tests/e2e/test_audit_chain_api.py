"""The hash chain over HTTP: digests signed with the published key, proofs that extend a
kept digest, and verification that finds a tampered store (ADR 0012)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from adapters.store import StoreSettings
from tests.e2e.conftest import STAFF, Api
from tests.tamper import RawEventStore

ROUTES = ["/v1/audit/digest", "/v1/audit/public-key", "/v1/audit/proof", "/v1/audit/verify"]


@pytest.fixture(autouse=True)
def signing_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SUBLEDGER_SIGNING_KEY", str(tmp_path / "keys" / "signing-key.pem"))


def public_key(api: Api) -> Ed25519PublicKey:
    body = api.get("/v1/audit/public-key", "auditor").json()
    key = load_pem_public_key(body["pem"].encode())
    assert isinstance(key, Ed25519PublicKey)
    assert base64.b64decode(body["public_key"]) == key.public_bytes_raw()
    assert body["key_id"] == hashlib.sha256(key.public_bytes_raw()).hexdigest()
    return key


def check_signature(key: Ed25519PublicKey, digest: dict[str, Any]) -> None:
    """The documented check: the signature covers the canonical JSON of three members."""
    signed = {name: digest[name] for name in ("hash", "position", "time")}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    key.verify(base64.b64decode(digest["signature"]), message)


def chain(start_hash: str, entries: list[dict[str, Any]]) -> str:
    value = bytes.fromhex(start_hash)
    for entry in entries:
        value = hashlib.sha256(b"\x01" + value + bytes.fromhex(entry["digest"])).digest()
        assert value.hex() == entry["hash"]
    return value.hex()


def write_more(api: Api) -> None:
    for n in range(3):
        api.ledger.set_payment_method(STAFF, api.acme.account_id, f"pm_more_{n}")


def test_the_digest_covers_the_log_and_is_signed_with_the_published_key(api: Api) -> None:
    digest = api.get("/v1/audit/digest", "auditor").json()
    assert digest["position"] == api.head
    assert digest["algorithm"] == "Ed25519"
    key = public_key(api)
    check_signature(key, digest)
    assert digest["key_id"] == hashlib.sha256(key.public_bytes_raw()).hexdigest()

    forged = dict(digest, position=digest["position"] - 1)
    with pytest.raises(InvalidSignature):
        check_signature(key, forged)


def test_billing_staff_may_read_the_chain_and_no_one_else(api: Api) -> None:
    for route in ROUTES:
        assert api.get(route, "billing_staff").status_code == 200, route
        for who in ("admin", "user", "identity", "account_manager", "operator"):
            problem = api.refused(403, "GET", route, who)
            assert problem["type"] == "/problems/forbidden"
        api.refused(401, "GET", route)


def test_a_proof_chains_a_kept_digest_onto_the_current_one(api: Api) -> None:
    kept = api.get("/v1/audit/digest", "auditor").json()
    write_more(api)

    proof = api.get(f"/v1/audit/proof?from={kept['position']}", "auditor").json()

    assert proof["from"] == kept["position"] and proof["from_hash"] == kept["hash"]
    assert [e["position"] for e in proof["entries"]] == list(
        range(kept["position"] + 1, api.head + 1)
    )
    assert chain(kept["hash"], proof["entries"]) == proof["digest"]["hash"]
    assert proof["digest"]["position"] == api.head and proof["next_from"] is None
    check_signature(public_key(api), proof["digest"])


def test_a_long_proof_comes_in_pages_each_signed(api: Api) -> None:
    key = public_key(api)
    position, kept_hash = 0, "00" * 32
    pages = 0
    while True:
        page = api.get(f"/v1/audit/proof?from={position}&limit=7", "auditor").json()
        assert len(page["entries"]) <= 7
        assert chain(kept_hash, page["entries"]) == page["digest"]["hash"]
        check_signature(key, page["digest"])
        position, kept_hash = page["digest"]["position"], page["digest"]["hash"]
        pages += 1
        if page["next_from"] is None:
            break
        assert page["next_from"] == position
    assert position == api.head
    assert pages == -(-api.head // 7)


def test_a_proof_or_a_check_from_beyond_the_sealed_head_is_refused(api: Api) -> None:
    beyond = api.head + 5
    for route in ("/v1/audit/proof", "/v1/audit/verify"):
        problem = api.refused(422, "GET", f"{route}?from={beyond}", "auditor")
        assert "sealed head" in problem["detail"]


@pytest.fixture
def raw(store: StoreSettings) -> Iterator[RawEventStore]:
    found = RawEventStore(store)
    yield found
    found.close()


def test_verification_finds_a_changed_event(api: Api, raw: RawEventStore) -> None:
    intact = api.get("/v1/audit/verify", "auditor").json()
    assert intact["ok"] and intact["checked"] == intact["to"] == api.head
    assert intact["first_break"] is None

    at = raw.find(b"pm_card_visa")
    raw.change(at, b"pm_card_visa", b"pm_card_evil")
    found = api.get("/v1/audit/verify", "auditor").json()

    assert not found["ok"]
    assert found["first_break"]["position"] == at
    assert found["first_break"]["kind"] == "changed"
    assert found["checked"] == at - 1
    assert api.get(f"/v1/audit/verify?from={at}", "auditor").json()["ok"]
