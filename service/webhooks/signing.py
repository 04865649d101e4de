"""Webhook signatures: HMAC-SHA256 over ``timestamp + "." + body``.

Every delivery carries ``Subledger-Signature: t=<unix seconds>,v1=<hex digest>``. The
receiver recomputes the digest with the endpoint's secret over the exact bytes it
received, compares in constant time, and refuses a timestamp outside its tolerance, so
that a captured delivery cannot be replayed later. The key is the whole secret string
(``whsec_...``) as UTF-8. docs/consuming-events.md shows the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Subledger-Signature"
SECRET_PREFIX = "whsec_"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300  # seconds


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def fingerprint(secret: str) -> str:
    """Names a secret without revealing it (recorded on the endpoint's events)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},{SCHEME}={digest(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and its time is within tolerance."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME:
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)
