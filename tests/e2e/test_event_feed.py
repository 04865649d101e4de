"""The public event feed over HTTP, on both stores: the pull feed is the log, the stream is
the pull feed, filters and tenant confinement hold, and every type's schema is served."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import jsonschema
import pytest

from projections.audit_trail import account_of
from projections.cloudevents import is_public, to_cloudevent
from projections.event_schemas import all_schemas
from service.config.public_url import DEFAULT_PUBLIC_URL
from service.http.event_stream import StreamSettings
from service.ledger.application import Ledger
from tests.e2e.conftest import Api
from tests.e2e.live_server import sse_messages

FEED = "/v1/events"
STREAM = "/v1/events/stream"


def public_log(ledger: Ledger, account: UUID | None = None) -> list[dict[str, Any]]:
    """What the feed must say: every public event of the log (of one account), as JSON."""
    found = []
    for notification in ledger.recorder.select_notifications(1, 1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        if not is_public(event):
            continue
        if account is not None and account_of(ledger.repository.get(event.originator_id)) != (
            account
        ):
            continue
        found.append(
            json.loads(json.dumps(to_cloudevent(notification.id, event, DEFAULT_PUBLIC_URL)))
        )
    return found


def pull_all(api: Api, who: str, limit: int = 7, **params: Any) -> tuple[list[dict], int]:
    """Page from 0 until caught up; returns the events and the last cursor."""
    events: list[dict] = []
    after = 0
    while True:
        response = api.get(FEED, who, params={"after": after, "limit": limit, **params})
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["events"]) <= limit
        assert page["next_after"] >= after
        assert all(after < int(e["sequence"]) <= page["next_after"] for e in page["events"])
        events += page["events"]
        after = page["next_after"]
        if page["caught_up"]:
            return events, after


def write_a_little(api: Api, n: int, who: str = "admin") -> None:
    for i in range(n):
        api.wrote(
            api.post(
                f"/v1/accounts/{api.acme.account_id}/contacts",
                who,
                json={"role": "technical", "name": f"Tess {i}", "email": f"t{i}@acme.example"},
            ),
            201,
        )


def stream(api: Api, who: str, seconds: float = 0.6, **kwargs: Any) -> list[dict[str, str]]:
    """Read a whole stream, which the settings end after ``seconds``."""
    api.client.app.state.event_stream = StreamSettings(
        heartbeat=0.2, poll=0.05, max_seconds=seconds
    )
    response = api.client.get(
        STREAM,
        headers={"Authorization": f"Bearer {api.seed.tokens[who]}", **kwargs.pop("headers", {})},
        **kwargs,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return list(sse_messages(iter(response.text.splitlines())))


def events_of(messages: list[dict[str, str]]) -> list[dict]:
    found = []
    for message in messages:
        if "data" in message:
            event = json.loads(message["data"])
            assert message["id"] == str(int(event["sequence"]))
            assert message["event"] == event["type"]
            found.append(event)
    return found


# -- pull ---------------------------------------------------------------------------------


def test_paging_through_the_feed_yields_every_public_event_once_in_log_order(api: Api) -> None:
    write_a_little(api, 3)
    events, last = pull_all(api, "integration")
    assert events == public_log(api.ledger)
    assert len({e["id"] for e in events}) == len(events)
    assert set(e["type"] for e in events) <= set(
        all_schemas(DEFAULT_PUBLIC_URL)
    )  # nothing internal
    assert last == api.head


def test_a_consumer_paging_while_events_are_written_misses_nothing(api: Api) -> None:
    events: list[dict] = []
    after = 0
    for _ in range(30):
        page = api.get(FEED, "integration", params={"after": after, "limit": 4}).json()
        events += page["events"]
        after = page["next_after"]
        if len(events) < 25:
            write_a_little(api, 1, "billing_staff")
        elif page["caught_up"]:
            break
    assert events == public_log(api.ledger)


def test_the_type_filter_takes_types_and_prefixes_of_whole_segments(api: Api) -> None:
    everything = public_log(api.ledger)
    invoices, _ = pull_all(api, "integration", type="subledger.invoice")
    assert invoices == [e for e in everything if e["type"].startswith("subledger.invoice.")]
    assert invoices
    opened, _ = pull_all(
        api, "integration", type=["subledger.account.AccountOpened.v1", "subledger.license"]
    )
    assert opened == [
        e
        for e in everything
        if e["type"] == "subledger.account.AccountOpened.v1"
        or e["type"].startswith("subledger.license.")
    ]
    problem = api.refused(422, "GET", FEED, "integration", params={"type": "subledger.inv"})
    assert "subledger.inv" in problem["detail"]


def test_a_filtered_page_moves_the_cursor_past_what_it_skipped(api: Api) -> None:
    page = api.get(FEED, "integration", params={"type": "subledger.support_case"}).json()
    assert page["events"] == []
    assert page["caught_up"] is True
    assert page["next_after"] == api.head


def test_staff_can_ask_for_one_account_and_a_customer_sees_only_its_own(api: Api) -> None:
    acme = public_log(api.ledger, api.acme.account_id)
    assert acme and len(acme) < len(public_log(api.ledger))
    by_staff, _ = pull_all(api, "billing_staff", account=str(api.acme.account_id))
    by_admin, _ = pull_all(api, "admin")
    by_identity, _ = pull_all(api, "identity", account=str(api.acme.account_id))
    assert by_staff == by_admin == by_identity == acme
    by_other, _ = pull_all(api, "other_admin")
    assert by_other == public_log(api.ledger, api.other.account_id)


def test_tenant_confinement_and_roles(api: Api) -> None:
    other = {"account": str(api.other.account_id)}
    problem = api.refused(404, "GET", FEED, "admin", params=other)
    assert problem["detail"] == "no account"
    api.refused(404, "GET", STREAM, "admin", params=other)
    assert api.refused(403, "GET", FEED, "user")["permission"] == "manage_billing"
    api.refused(403, "GET", FEED, "operator")
    api.refused(401, "GET", FEED)
    missing = {"account": "00000000-0000-4000-8000-000000000000"}
    api.refused(404, "GET", FEED, "billing_staff", params=missing)


def test_a_cursor_beyond_the_log_and_a_bad_limit_are_refused(api: Api) -> None:
    api.refused(422, "GET", FEED, "integration", params={"after": api.head + 1})
    api.refused(422, "GET", STREAM, "integration", headers={"Last-Event-ID": str(api.head + 1)})
    api.refused(422, "GET", FEED, "integration", params={"limit": 0})
    api.refused(422, "GET", FEED, "integration", params={"limit": 1001})


# -- schemas ------------------------------------------------------------------------------


def test_every_type_has_its_schema_served_without_a_token(api: Api) -> None:
    index = api.get("/v1/events/schemas").json()["types"]
    schemas = all_schemas(DEFAULT_PUBLIC_URL)
    assert [t["type"] for t in index] == sorted(schemas)
    for entry in index:
        response = api.get(entry["schema"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/schema+json")
        assert response.json() == json.loads(json.dumps(schemas[entry["type"]]))
    api.refused(404, "GET", "/v1/events/schemas/subledger.account.Nothing.v1")


def test_the_dataschema_of_every_event_is_served_and_validates_its_data(api: Api) -> None:
    events, _ = pull_all(api, "integration", limit=100)
    served: dict[str, dict] = {}
    for event in events:
        if event["dataschema"] not in served:
            served[event["dataschema"]] = api.get(event["dataschema"]).json()
        jsonschema.validate(
            event["data"],
            served[event["dataschema"]],
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )


# -- stream (in process: each stream ends after a moment) ---------------------------------


def test_the_stream_says_what_the_pull_feed_says_and_resumes_after_last_event_id(
    api: Api,
) -> None:
    pulled, _ = pull_all(api, "integration")
    whole = events_of(stream(api, "integration"))
    assert whole == pulled
    middle = whole[len(whole) // 2]["sequence"]
    rest = events_of(stream(api, "integration", headers={"Last-Event-ID": str(int(middle))}))
    assert rest == [e for e in pulled if e["sequence"] > middle]
    assert events_of(stream(api, "integration", params={"after": int(middle)})) == rest


def test_the_stream_is_filtered_and_confined_like_the_pull_feed(api: Api) -> None:
    mine, _ = pull_all(api, "admin", type="subledger.subscription")
    assert mine
    assert events_of(stream(api, "admin", params={"type": "subledger.subscription"})) == mine


def test_an_idle_stream_sends_heartbeats_and_a_retry_hint(api: Api) -> None:
    messages = stream(api, "integration", seconds=0.7, params={"after": api.head})
    assert messages[0] == {"retry": "2000"}
    assert sum(1 for m in messages if m.get("comment") == "heartbeat") >= 2
    assert events_of(messages) == []


@pytest.mark.parametrize("who", ["admin", "integration"])
def test_the_stream_uses_the_same_cursor_as_the_feed(api: Api, who: str) -> None:
    _, last = pull_all(api, who)
    assert events_of(stream(api, who, params={"after": last})) == []
