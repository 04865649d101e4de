"""The hash chain's canonical encoding is unambiguous, and the signing key is made once."""

from __future__ import annotations

import struct
import threading
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from adapters.signing import SigningKey, SigningKeyUnusable
from projections.hash_chain import canonical_bytes


def decode(data: bytes) -> tuple[int, UUID, int, str, bytes]:
    """The reverse of ``canonical_bytes``, as a reader of docs/audit.md would write it."""
    position, aggregate_id, version, topic_length = struct.unpack_from(">Q16sQI", data)
    at = 36
    topic = data[at : at + topic_length].decode("utf-8")
    at += topic_length
    (state_length,) = struct.unpack_from(">Q", data, at)
    at += 8
    state = data[at : at + state_length]
    assert at + state_length == len(data), "trailing bytes"
    return position, UUID(bytes=aggregate_id), version, topic, state


@given(
    position=st.integers(1, 2**63 - 1),
    aggregate_id=st.uuids(),
    version=st.integers(1, 2**63 - 1),
    topic=st.text(),
    state=st.binary(),
)
def test_canonical_bytes_decode_to_exactly_the_event(position, aggregate_id, version, topic, state):
    event = StoredEvent(aggregate_id, version, topic, state)
    assert decode(canonical_bytes(position, event)) == (
        position,
        aggregate_id,
        version,
        topic,
        state,
    )


def test_moving_bytes_between_topic_and_state_changes_the_encoding():
    aggregate_id = UUID(int=1)
    one = canonical_bytes(1, StoredEvent(aggregate_id, 1, "a:B", b"{}"))
    other = canonical_bytes(1, StoredEvent(aggregate_id, 1, "a:B{", b"}"))
    assert one != other


def test_the_key_is_made_once_private_and_loaded_after(tmp_path: Path):
    path = tmp_path / "var" / "signing-key.pem"
    keys: list[SigningKey] = []
    threads = [
        threading.Thread(target=lambda: keys.append(SigningKey.load_or_create(path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({key.key_id for key in keys}) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing-key.pem"]  # no leftovers
    assert SigningKey.load_or_create(path).key_id == keys[0].key_id


def test_a_file_without_an_ed25519_key_is_refused(tmp_path: Path):
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    path = tmp_path / "signing-key.pem"
    other = generate_private_key(SECP256R1())
    path.write_bytes(other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(SigningKeyUnusable):
        SigningKey.load_or_create(path)


def test_a_key_that_others_may_read_is_refused_not_warned_about(tmp_path: Path):
    path = tmp_path / "var" / "signing-key.pem"
    made = SigningKey.load_or_create(path)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    for mode in (0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(SigningKeyUnusable, match="chmod 600"):
            SigningKey.load_or_create(path)
    path.chmod(0o600)
    assert SigningKey.load_or_create(path).key_id == made.key_id
