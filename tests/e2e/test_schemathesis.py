"""Schemathesis against the app's own OpenAPI document: no 5xx, and every response
conforms to the schema (body, status code, content type).

It runs on one seeded SQLite store (the checks are about the HTTP contract, not the store),
for three callers (billing staff, a customer administrator, an operator), with a few
examples per operation so that the whole file stays well under a minute;
SUBLEDGER_SCHEMATHESIS_EXAMPLES=100 runs a deeper search. Path parameters that name an
account, contract, invoice or token mostly get the seeded ids, so that the generated
requests reach the ledger instead of stopping at 404.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.http.app import create_app
from service.http.event_stream import StreamSettings
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.conftest import T0
from tests.destinations import REGISTRATION_ONLY
from tests.e2e.conftest import seed_ledger

# 503s that are documented answers, not server errors: the read models are behind (the
# API's back-pressure while schemathesis writes faster than they project), and readiness
# saying no runner runs (each test's end stops the app's lifespan, and the runner with it).
DOCUMENTED_503 = ("/problems/read-models-behind", "/problems/no-projection-runner")


def not_a_server_error_but_back_pressure(ctx: Any, response: Any, case: Any) -> bool | None:
    """A documented 503 (with Retry-After) is not a server error."""
    if response.status_code == 503:
        problem = response.json()
        if problem.get("type") in DOCUMENTED_503:
            return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_back_pressure,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]

_store = tempfile.TemporaryDirectory(prefix="subledger-schemathesis-")  # removed at exit
LEDGER = Ledger(
    env=StoreSettings(sqlite_path=str(Path(_store.name) / "ledger.db")).eventsourcing_env(),
    clock=ControllableClock(T0),
    payment_provider=FakePaymentProvider(),
)
SEED = seed_ledger(LEDGER)
READ_SIDE = ReadSide(StoreSettings(sqlite_path=str(Path(_store.name) / "ledger.db")), LEDGER)
READ_SIDE.read_wait_seconds = 0.2  # answer 503 sooner: schemathesis writes faster than it reads
READ_SIDE.start()  # the runner keeps the read models current while schemathesis writes
# no worker runs; generated URLs are never resolved for real (tests/destinations.py)
APP = create_app(READ_SIDE, run_projections=False, webhook_destinations=REGISTRATION_ONLY)
APP.state.event_stream = StreamSettings(max_seconds=0.2)  # the event stream ends, and is checked
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

KNOWN_IDS = {
    "account_id": [SEED.acme.account_id, SEED.other.account_id],
    "subscription_id": [SEED.acme.subscription_id, SEED.other.subscription_id],
    "invoice_id": [SEED.acme.invoice_id, SEED.other.invoice_id],
    "token_id": [SEED.token_ids["spare"]],
}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Mostly the seeded ids, sometimes the generated ones (which then answer 404)."""
    if not path_parameters:
        return st.just(path_parameters)
    choices = {
        name: st.sampled_from([str(i) for i in KNOWN_IDS[name]]) | st.just(value)
        for name, value in path_parameters.items()
        if name in KNOWN_IDS
    }
    return st.fixed_dictionaries(choices).map(lambda chosen: {**path_parameters, **chosen})


@pytest.fixture(scope="module", autouse=True)
def _close_the_store() -> Iterator[None]:
    yield
    LEDGER.close()
    _store.cleanup()


@pytest.fixture(params=["billing_staff", "admin", "operator"])
def token(request: pytest.FixtureRequest) -> str:
    return SEED.tokens[request.param]


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SUBLEDGER_SCHEMATHESIS_EXAMPLES", "6")),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_honours_its_own_openapi(case: schemathesis.Case, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
