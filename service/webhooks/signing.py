"""Webhook signatures in the Standard Webhooks format, and the legacy header for one release.

Every delivery carries ``webhook-id`` (the CloudEvent's id, the same on every retry),
``webhook-timestamp`` (unix seconds) and ``webhook-signature: v1,<base64>``: the
HMAC-SHA256 of ``id.timestamp.body``, keyed with the bytes that the secret's base64 part
(after ``whsec_``) encodes. Any Standard Webhooks library verifies it; the signing itself
is the ``standardwebhooks`` package's, not ours (ADR 0021).

Secrets issued before that release were ``whsec_`` + *URL-safe* base64. Their key is
the same bytes, read in that alphabet; a receiver hands such a secret to a standard
library with ``-`` written as ``+`` and ``_`` as ``/`` (``standard_secret``).

For one release every delivery also carries the old header,
``Subledger-Signature: t=<unix seconds>,v1=<hex>``, HMAC-SHA256 over ``timestamp.body``
keyed with the whole secret string as UTF-8 (``legacy_header``, ``verify_legacy``); the
next release drops it. docs/consuming-events.md shows the receiver's side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
KEY_BYTES = 32
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
LEGACY_HEADER = "Subledger-Signature"
LEGACY_SCHEME = "v1"
DEFAULT_TOLERANCE = 300  # seconds


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def fingerprint(secret: str) -> str:
    """Names a secret without revealing it (recorded on the endpoint's events)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def standard_secret(secret: str) -> str:
    """The secret in the standard base64 alphabet: itself for a secret issued now, the
    legacy URL-safe ones translated (what a receiver gives a Standard Webhooks library)."""
    encoded = secret.removeprefix(SECRET_PREFIX).translate(str.maketrans("-_", "+/"))
    return SECRET_PREFIX + encoded + "=" * (-len(encoded) % 4)


def signing_key(secret: str) -> bytes:
    encoded = standard_secret(secret).removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded, validate=True)


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that sign one delivery: the standard three, and the legacy one."""
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: Webhook(signing_key(secret)).sign(message_id, signed_at, body),
        LEGACY_HEADER: legacy_header(secret, timestamp, body),
    }


# -- the legacy header (sent until the next release) ----------------------------------------


def legacy_digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def legacy_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},{LEGACY_SCHEME}={legacy_digest(secret, timestamp, body)}"


def verify_legacy(
    secret: str, header: str, body: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and its time is within tolerance."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == LEGACY_SCHEME:
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = legacy_digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)
