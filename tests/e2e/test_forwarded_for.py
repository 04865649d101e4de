"""Against a real server, on both stores: the address a share link's opening records (and
the limits per address count) is the peer's unless the peer is a proxy the operator named
in SUBLEDGER_FORWARDED_ALLOW_IPS; by default X-Forwarded-For is believed from nobody, not
even from loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.share_link import ShareLink
from service.ledger.application import Ledger
from service.sharing.links import ShareLinks
from tests.e2e.conftest import STAFF, seed_ledger
from tests.e2e.live_server import LiveServer

CLAIMED = "198.51.100.7"


@pytest.mark.parametrize(
    ("allowed", "recorded"),
    [(None, "127.0.0.1"), ("127.0.0.1", CLAIMED)],
    ids=["by-default", "from-a-named-proxy"],
)
def test_x_forwarded_for_is_believed_only_from_the_proxies_named(
    store: StoreSettings, ledger: Ledger, tmp_path: Path, allowed: str | None, recorded: str
) -> None:
    seed = seed_ledger(ledger)
    now = Ledger(
        env=store.eventsourcing_env(), clock=SystemClock(), payment_provider=FakePaymentProvider()
    )  # the server's clock: the system's
    try:
        link = ShareLinks(now).create(STAFF, seed.acme.invoice_id)
    finally:
        now.close()
    env = {"SUBLEDGER_FORWARDED_ALLOW_IPS": allowed} if allowed else {}
    server = LiveServer(store, tmp_path / "server.log", **env)
    try:
        opened = httpx.get(
            f"{server.url}/v1/shared/invoices/{link.token}",
            headers={"X-Forwarded-For": CLAIMED},
            timeout=30,  # the first request, while the runner process starts: a loaded machine
        )
        assert opened.status_code == 200, opened.text
    finally:
        server.stop()
    shared = ledger.repository.get(link.link_id)
    assert isinstance(shared, ShareLink)
    ((_, address, document, count),) = shared.accesses
    assert (address, document, count) == (recorded, "summary", 1)
