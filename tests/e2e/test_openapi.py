"""The OpenAPI document: committed as docs/openapi.json and equal to the app's; short
operation ids; refusals typed as problem+json; the event stream described as a stream.
A client generated from it with openapi-python-client (offline) compiles and calls the API
of a live server."""

from __future__ import annotations

import compileall
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.store import StoreSettings
from service.http.openapi import document
from service.ledger.application import Ledger
from tests.e2e.conftest import seed_ledger
from tests.e2e.live_server import LiveServer

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(document())


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_docs_openapi_json_is_the_app_s_document() -> None:
    assert COMMITTED.read_text() == document(), (
        "docs/openapi.json differs from the app's: python -m service.http.openapi > "
        "docs/openapi.json"
    )


def test_operation_ids_are_the_route_names(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids)) > 50
    assert all(i.isidentifier() and "v1" not in i for i in ids), ids
    assert {"get_account", "stream", "healthz", "set_payment_method"} <= set(ids)


def test_every_refusal_is_a_problem_json_with_the_problem_schema(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (
                    method,
                    path,
                    status,
                )
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status"} <= set(problem["properties"])


def test_the_event_stream_is_described_as_a_stream_of_events(spec: dict[str, Any]) -> None:
    ok = spec["paths"]["/v1/events/stream"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]
    event = ok["content"]["text/event-stream"]["schema"]
    assert set(event["properties"]) == {"id", "event", "data", "retry"}
    assert "Server-Sent Events" in ok["description"]


def test_a_generated_client_compiles_and_calls_a_live_server(
    store: StoreSettings, ledger: Ledger, tmp_path: Path
) -> None:
    seed = seed_ledger(ledger)
    config = tmp_path / "config.yaml"
    config.write_text("package_name_override: subledger_client\npost_hooks: []\n")
    package = tmp_path / "generated" / "subledger_client"
    generator = Path(sys.executable).with_name("openapi-python-client")
    arguments = ["--path", str(COMMITTED), "--meta", "none", "--config", str(config)]
    generated = subprocess.run(
        [str(generator), "generate", *arguments, "--output-path", str(package)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert compileall.compile_dir(package, quiet=1)

    sys.path.insert(0, str(package.parent))
    try:
        client_module = importlib.import_module("subledger_client")
        get_account = importlib.import_module("subledger_client.api.accounts.get_account")
        server = LiveServer(store, tmp_path / "server.log")
        try:
            server.wait_for_projections()
            client = client_module.AuthenticatedClient(server.url, token=seed.tokens["admin"])
            account = get_account.sync(seed.acme.account_id, client=client)
            stranger = client_module.AuthenticatedClient(server.url, token="not-a-token")
            refused = get_account.sync_detailed(seed.acme.account_id, client=stranger)
        finally:
            server.stop()
    finally:
        sys.path.remove(str(package.parent))
        for name in [m for m in sys.modules if m.split(".")[0] == "subledger_client"]:
            del sys.modules[name]
    assert type(account).__name__ == "AccountOut"
    assert (account.id, account.name) == (seed.acme.account_id, "Acme")
    assert refused.status_code == 401
    assert type(refused.parsed).__name__ == "Problem" and refused.parsed.status == 401
