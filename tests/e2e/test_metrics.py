"""``/metrics`` over HTTP: request latency by route template and status, commands by outcome
(409 and 412 among them), the relays' lag; all parsed with prometheus-client's parser.

Counters are the process's, shared by every app a test process builds: each test reads
them before and after what it does."""

from __future__ import annotations

from adapters.store import StoreSettings
from service.reads.read_side import read_store
from service.relay.nats import Cursor, _cursor, _save_cursor, relay_cursors
from tests.e2e.conftest import Api
from tests.metrics import metric

ACCOUNT = "/v1/accounts/{account_id}"
PAYMENT_METHOD = "/v1/accounts/{account_id}/payment-method"
RENEWAL = "/v1/subscriptions/{subscription_id}/renewal"


def scraped(api: Api) -> str:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    try:
        return metric(text, name, **labels)
    except KeyError:
        return 0.0  # not observed yet in this process


def requests(text: str, method: str, route: str, status: int) -> float:
    name = "subledger_http_request_duration_seconds_count"
    return value(text, name, method=method, route=route, status=str(status))


def commands(text: str, route: str, outcome: str) -> float:
    return value(text, "subledger_commands_total", route=route, outcome=outcome)


def test_requests_are_timed_by_route_template_and_status(api: Api) -> None:
    before = scraped(api)
    account = f"/v1/accounts/{api.acme.account_id}"
    for _ in range(3):
        assert api.get(account, "admin").status_code == 200
    assert api.get(account).status_code == 401  # no token
    assert api.get("/v1/no-such-thing", "admin").status_code == 404
    page = api.client.get("/app/", follow_redirects=False)  # the web app, mounted at /app
    after = scraped(api)

    def delta(method: str, route: str, status: int) -> float:
        return requests(after, method, route, status) - requests(before, method, route, status)

    assert delta("GET", ACCOUNT, 200) == 3  # the template, never the account's id
    assert delta("GET", ACCOUNT, 401) == 1
    assert delta("GET", "unmatched", 404) == 1  # an unknown path is no label of its own
    assert delta("GET", "/app/", page.status_code) == 1  # a mounted route with its prefix
    assert account not in after
    seconds = value(
        after,
        "subledger_http_request_duration_seconds_sum",
        method="GET",
        route=ACCOUNT,
        status="200",
    )
    assert seconds > value(
        before,
        "subledger_http_request_duration_seconds_sum",
        method="GET",
        route=ACCOUNT,
        status="200",
    )


def test_commands_are_counted_by_outcome_with_conflicts_and_stale_preconditions(
    api: Api,
) -> None:
    before = scraped(api)
    account = f"/v1/accounts/{api.acme.account_id}"
    etag = api.get(account, "admin").headers["ETag"]
    api.wrote(api.put(f"{account}/payment-method", "admin", json={"reference": "pm_one"}))
    stale = {"If-Match": etag}
    api.refused(
        412,
        "PUT",
        f"{account}/payment-method",
        "admin",
        json={"reference": "pm_two"},
        headers=stale,
    )
    renewal = f"/v1/subscriptions/{api.acme.subscription_id}/renewal"
    api.wrote(api.request("DELETE", renewal, "admin"))
    api.refused(409, "DELETE", renewal, "admin")  # already in that state
    api.refused(422, "PUT", f"{account}/payment-method", "admin", json={})
    after = scraped(api)

    def delta(route: str, outcome: str) -> float:
        return commands(after, route, outcome) - commands(before, route, outcome)

    assert delta(PAYMENT_METHOD, "done") == 1
    assert delta(PAYMENT_METHOD, "precondition_failed") == 1
    assert delta(PAYMENT_METHOD, "refused") == 1
    assert (delta(RENEWAL, "done"), delta(RENEWAL, "conflict")) == (1, 1)
    assert commands(after, ACCOUNT, "done") == commands(before, ACCOUNT, "done")  # reads


def test_each_relay_s_lag_is_read_from_its_cursor_in_the_store(
    api: Api, store: StoreSettings
) -> None:
    readers = api.client.app.state.read_side.readers  # type: ignore[attr-defined]
    assert relay_cursors(readers) == {}  # no relay ever ran: no table, no lag
    assert "subledger_relay_lag{" not in scraped(api)
    relay = read_store(store)  # a relay's own connection, as in its process
    try:
        with relay.transaction() as sql:
            _cursor(sql, "nats-test")  # creates the table, as the relay does
            _save_cursor(sql, "nats-test", Cursor(position=api.head - 3, sequence=7))
    finally:
        relay.close()
    text = scraped(api)
    assert metric(text, "subledger_relay_lag", relay="nats-test") == 3
    assert metric(text, "subledger_log_head_position") == api.head
