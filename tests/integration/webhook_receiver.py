"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 (a random port), in a thread.

For its first ``chaos_requests`` requests it misbehaves with probability ``chaos``: it
answers 500, sleeps past the sender's timeout, or drops the connection without an
answer (chosen at random, from a seeded generator); after that it recovers and answers
200. Every request it reads is recorded, whatever it then does with it.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.webhooks.signing import LEGACY_HEADER, verify_legacy

MISBEHAVIOURS = ("500", "timeout", "drop")


@dataclass(frozen=True)
class Received:
    position: int
    event_id: str
    body: bytes
    headers: dict[str, str]  # as received, names in lower case
    at: float  # unix time of arrival
    answer: str  # "ok", or one of MISBEHAVIOURS


def signed_by(secret: str, received: Received) -> bool:
    """Both signatures hold: the Standard Webhooks one, as the ``standardwebhooks`` package
    checks it with the secret as issued (its id the event's), and the legacy header."""
    try:
        Webhook(secret).verify(received.body, received.headers)
    except WebhookVerificationError:
        return False
    legacy = received.headers.get(LEGACY_HEADER.lower(), "")
    return received.headers["webhook-id"] == received.event_id and verify_legacy(
        secret, legacy, received.body, now=received.at
    )


class Receiver:
    def __init__(
        self,
        chaos: float = 0.0,
        chaos_requests: int = 0,
        sleep: float = 1.0,
        seed: int = 0,
        misbehaviours: tuple[str, ...] = MISBEHAVIOURS,
    ) -> None:
        self.chaos = chaos
        self.chaos_requests = chaos_requests
        self.sleep = sleep
        self.misbehaviours = misbehaviours
        self.received: list[Received] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def recover(self) -> None:
        with self._lock:
            self.chaos_requests = 0

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def acknowledged(self) -> list[Received]:
        return [r for r in self.snapshot() if r.answer == "ok"]

    def _take(self, body: bytes, headers: dict[str, str]) -> str:
        envelope: dict[str, Any] = json.loads(body)
        with self._lock:
            answer = "ok"
            if len(self.received) < self.chaos_requests and self._rng.random() < self.chaos:
                answer = self._rng.choice(self.misbehaviours)
            self.received.append(
                Received(
                    int(envelope["sequence"]), envelope["id"], body, headers, time.time(), answer
                )
            )
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = receiver._take(body, headers)
                if answer == "drop":
                    self.close_connection = True
                    return  # closed with no answer at all
                if answer == "timeout":
                    time.sleep(receiver.sleep)
                try:
                    self.send_response(500 if answer == "500" else 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
