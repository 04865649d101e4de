"""What the service hands out is built from its configured public URL, never from the Host
a request names: share links (a forged Host would send the link's secret elsewhere), and
the absolute schema URIs of the event contract (CloudEvents ``dataschema``, JSON Schema
``$id``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from adapters.store import StoreSettings
from service.config.public_url import (
    DEFAULT_PUBLIC_URL,
)
from service.config.settings import SettingsInvalid, load_settings
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.e2e.conftest import Api, seed_ledger

PUBLIC = "https://billing.example.com/ledger"
FORGED = {"Host": "attacker.example"}


@pytest.fixture
def public_api(store: StoreSettings, ledger: Ledger) -> Iterator[Api]:
    seed = seed_ledger(ledger)
    app = create_app(ReadSide(store, ledger), public_url=PUBLIC + "/")
    with TestClient(app) as client:
        yield Api(client, ledger, seed)


def test_a_share_link_is_built_from_the_public_url_whatever_the_host(public_api: Api) -> None:
    path = f"/v1/invoices/{public_api.acme.invoice_id}/share-links"
    link = public_api.wrote(public_api.post(path, "admin", json={}, headers=FORGED), 201)
    assert link["url"].startswith(PUBLIC + "/v1/shared/invoices/sh_")
    assert "attacker" not in link["url"]


def test_by_default_links_name_the_local_service_not_the_host_sent(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/share-links"
    link = api.wrote(api.post(path, "admin", json={}, headers=FORGED), 201)
    assert link["url"].startswith("http://127.0.0.1:8000/v1/shared/invoices/sh_")
    assert api.client.get(link["url"]).status_code == 200


def test_schema_uris_are_absolute_under_the_public_url(public_api: Api) -> None:
    events = public_api.get("/v1/events", "integration", headers=FORGED).json()["events"]
    assert events
    index = public_api.get("/v1/events/schemas", headers=FORGED).json()["types"]
    ids = {entry["type"]: entry["schema"] for entry in index}
    for event in events:
        assert event["dataschema"] == f"{PUBLIC}/v1/events/schemas/{event['type']}"
        assert ids[event["type"]] == event["dataschema"]
    schema = public_api.get(f"/v1/events/schemas/{events[0]['type']}").json()
    assert schema["$id"] == events[0]["dataschema"]


def test_the_setting_is_checked() -> None:
    assert load_settings({}).public_url == DEFAULT_PUBLIC_URL
    assert load_settings({"SUBLEDGER_PUBLIC_URL": PUBLIC + "/"}).public_url == PUBLIC
    for wrong in ("billing.example.com", "ftp://x", "https://u:p@x", "https://x/?a=1", "https://"):
        with pytest.raises(SettingsInvalid, match="SUBLEDGER_PUBLIC_URL: "):
            load_settings({"SUBLEDGER_PUBLIC_URL": wrong})
