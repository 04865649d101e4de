"""The public event contract: every event the demo writes, as a CloudEvent, validates."""

import re

import jsonschema
import pytest

from adapters.payments import FakePaymentProvider
from projections.cloudevents import is_public, to_cloudevent, type_name
from projections.event_schemas import all_schemas, public_event_classes
from service.demo.history import load_demo
from service.ledger.application import Ledger

PUBLIC_URL = "https://billing.example.com/ledger"
TYPE = re.compile(r"^subledger\.[a-z_]+\.[A-Z][A-Za-z]+\.v\d+$")


@pytest.fixture
def demo_events(store):
    env = store.eventsourcing_env()
    ledger, _ = load_demo(
        lambda clock: Ledger(env=env, clock=clock, payment_provider=FakePaymentProvider())
    )
    try:
        yield [
            (n.id, ledger.mapper.to_domain_event(n))
            for n in ledger.recorder.select_notifications(1, 100_000)
        ]
    finally:
        ledger.close()


def test_every_public_event_of_the_demo_validates_against_its_schema(demo_events):
    schemas = all_schemas(PUBLIC_URL)
    checked = set()
    for position, event in demo_events:
        if not is_public(event):
            continue
        cloud_event = to_cloudevent(position, event, PUBLIC_URL)
        schema = schemas[cloud_event["type"]]
        jsonschema.validate(
            cloud_event["data"],
            schema,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        checked.add(cloud_event["type"])
    assert len(checked) >= 15, checked


def test_cloudevents_carry_a_stable_unique_id_and_the_log_position(demo_events):
    schemas = all_schemas(PUBLIC_URL)
    envelopes = [to_cloudevent(p, e, PUBLIC_URL) for p, e in demo_events if is_public(e)]
    assert len({e["id"] for e in envelopes}) == len(envelopes)
    assert [int(e["sequence"]) for e in envelopes] == sorted(int(e["sequence"]) for e in envelopes)
    assert [e["sequence"] for e in envelopes] == sorted(e["sequence"] for e in envelopes)  # as text
    for envelope in envelopes:
        assert envelope["specversion"] == "1.0"
        assert TYPE.match(envelope["type"]), envelope["type"]
        # an absolute URI (CloudEvents), the very $id of the type's schema
        assert envelope["dataschema"] == f"{PUBLIC_URL}/v1/events/schemas/{envelope['type']}"
        assert envelope["dataschema"] == schemas[envelope["type"]]["$id"]
    renewal = next(e for e in envelopes if "RenewalScheduled" in e["type"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", renewal["effectiveat"])


def test_every_schema_is_a_valid_json_schema_and_every_event_class_has_one():
    schemas = all_schemas(PUBLIC_URL)
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schemas) == {type_name(c) for c in public_event_classes()}
    assert "subledger.account.UpgradeRequested.v2" in schemas


def test_a_schema_rejects_data_of_the_wrong_shape():
    schema = all_schemas(PUBLIC_URL)["subledger.invoice.PaymentRecorded.v1"]
    good = {
        "payment_id": "p1",
        "amount": {"amount": "10.00", "currency": "USD"},
        "method_reference": "pm_card_visa",
        "effective_at": "2026-01-05",
    }
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(good | {"amount": 10.0}, schema)
