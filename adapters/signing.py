"""The ledger's signing key: Ed25519, in a PEM file made on first use (mode 0600).

The key signs the hash chain's digests (ADR 0012) and nothing else. It is created
atomically: written to a private temporary file, then hard-linked into place, so two
processes starting at once end up with the same key and nobody reads half a file. A key
file that other users can read (or write) is refused: whoever read it could sign a
forged digest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from adapters.private_files import private_directory

DEFAULT_SIGNING_KEY_PATH = "var/signing-key.pem"

log = logging.getLogger("subledger.signing")


class SigningKeyUnusable(Exception):
    """The key file exists but holds no Ed25519 private key, or others may read it."""


class SigningKey:
    algorithm = "Ed25519"

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        public = private.public_key()
        self.public_raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_pem = public.public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        # Names the key in digests, so that a digest says which key to check it with.
        self.key_id = hashlib.sha256(self.public_raw).hexdigest()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    @classmethod
    def load_or_create(cls, path: str | Path) -> SigningKey:
        path = Path(path)
        if not path.exists():
            _create(path)
        mode = path.stat().st_mode
        if mode & 0o077:
            raise SigningKeyUnusable(
                f"the signing key {path} is open to other users (mode {mode & 0o777:o}): "
                "chmod 600 it, and make a new key if someone else may have read it"
            )
        private = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningKeyUnusable(f"{path} does not hold an Ed25519 private key")
        return cls(private)


def _create(path: Path) -> None:
    private_directory(path.parent)
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")  # 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            log.warning("created a new signing key %s (keep it, and back it up)", path)
    finally:
        os.unlink(temporary)
