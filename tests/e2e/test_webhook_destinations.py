"""Registering or changing a webhook endpoint to an address the service does not send to
is refused with 422 and writes nothing, unless the operator allows its network. No
worker runs here, and no name is resolved for real (tests/destinations.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from adapters.store import StoreSettings
from adapters.webhook_destinations import Destinations
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.destinations import offline_resolver
from tests.e2e.conftest import Api, seed_ledger

BASE = "/v1/webhook-endpoints"


@pytest.fixture
def strict_api(store: StoreSettings, ledger: Ledger) -> Iterator[Api]:
    """The API as an operator runs it by default: no network allowed beyond public ones."""
    seed = seed_ledger(ledger)
    destinations = Destinations((), offline_resolver)
    app = create_app(ReadSide(store, ledger), webhook_destinations=destinations)
    with TestClient(app) as client:
        yield Api(client, ledger, seed)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hooks",
        "http://2130706433/hooks",
        "http://0x7f.1/hooks",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
        "https://10.0.0.5/hooks",
        "http://localhost:8000/hooks",
        "https://crm.example.com/hooks",  # resolves to documentation space here
        "https://unknown.invalid/hooks",  # does not resolve
    ],
)
def test_an_internal_destination_is_refused(strict_api: Api, url: str) -> None:
    problem = strict_api.refused(422, "POST", BASE, "operator", json={"url": url})
    assert problem["type"] == "/problems/webhook-destination-refused"
    assert strict_api.get(BASE, "operator").json() == []


def test_a_change_to_an_internal_destination_is_refused(strict_api: Api) -> None:
    created = strict_api.post(BASE, "operator", json={"url": "https://93.184.215.14/hooks"})
    endpoint = strict_api.wrote(created, 201)
    path = f"{BASE}/{endpoint['id']}"
    problem = strict_api.refused(
        422, "PATCH", path, "operator", json={"url": "http://169.254.169.254/"}
    )
    assert problem["type"] == "/problems/webhook-destination-refused"
    assert strict_api.get(path, "operator").json()["url"] == "https://93.184.215.14/hooks"
