"""Prometheus metrics: the HTTP instruments, and ``/metrics``' exposition (prometheus-client).

Counters and histograms live in the process's default registry, each defined by the
module that updates it (requests and commands here, webhook attempts in
``service.webhooks.worker``, billing steps in ``service.billing.run``, group-commit
batches in ``adapters.group_commit``), with the process collectors the library adds.
The state of the store (log head, read models' positions and failures, the relays'
cursors) is read when scraped, from whichever process runs those workers, by a collector
made for the request: several apps may share a process (tests), each with its store.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from service.relay.nats import relay_cursors

disable_created_metrics()  # no ``_created`` series beside each counter and histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNMATCHED = "unmatched"  # a path no route serves: not a label value of its own

REQUEST_SECONDS = Histogram(
    "subledger_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
COMMANDS = Counter(
    "subledger_commands",
    "Commands (POST, PUT, PATCH, DELETE) by route template and outcome.",
    ["route", "outcome"],
)


def outcome(status: int) -> str:
    """A command's outcome, in words, from its status; 409 and 412 are the concurrency
    refusals (another write won, or the caller's If-Match is stale)."""
    if status < 400:
        return "done"
    return {
        409: "conflict",
        412: "precondition_failed",
        428: "precondition_required",
        429: "throttled",
    }.get(status, "refused" if status < 500 else "error")


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    template = route or UNMATCHED
    REQUEST_SECONDS.labels(method, template, str(status)).observe(seconds)
    if method in COMMAND_METHODS:
        COMMANDS.labels(template, outcome(status)).inc()


class StoreCollector(Collector):
    """The store's state at scrape time: how far the log, each read model and each relay
    have come, and which read model fails where."""

    def __init__(self, ledger: Ledger, read_side: ReadSide) -> None:
        self.ledger = ledger
        self.read_side = read_side

    def collect(self) -> Iterator[Metric]:
        head = self.ledger.head_position()
        positions = self.read_side.positions()
        failing = self.read_side.failures()
        yield gauge("log_head_position", "Position of the newest event in the global log.", head)

        def per_projection(name: str, text: str, values: dict[str, int]) -> GaugeMetricFamily:
            family = GaugeMetricFamily(f"subledger_{name}", text, labels=["projection"])
            for projection, value in values.items():
                family.add_metric([projection], value)
            return family

        yield per_projection(
            "projection_position", "Last log position applied by each read model.", positions
        )
        yield per_projection(
            "projection_lag",
            "Events in the log not yet applied by each read model.",
            {name: max(head - position, 0) for name, position in positions.items()},
        )
        yield per_projection(
            "projection_failing",
            "1 while a read model fails on an event.",
            {name: int(name in failing) for name in positions},
        )
        yield per_projection(
            "projection_failed_position",
            "The log position a read model fails at.",
            {name: failure.position for name, failure in failing.items()},
        )
        yield per_projection(
            "projection_failed_attempts",
            "Attempts at the event a read model fails at.",
            {name: failure.attempts for name, failure in failing.items()},
        )
        yield gauge(
            "projection_runner_here",
            "1 if this process runs the projections.",
            int(self.read_side.running_here),
        )
        yield gauge(
            "projection_runner_present",
            "1 if a process runs the projections.",
            int(self.read_side.runner_present()),
        )
        relays = relay_cursors(self.read_side.readers)
        lag = GaugeMetricFamily(
            "subledger_relay_lag",
            "Events in the log not yet published by each relay.",
            labels=["relay"],
        )
        for name, position in relays.items():
            lag.add_metric([name], max(head - position, 0))
        yield lag


def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"subledger_{name}", text, value=value)


def exposition(ledger: Ledger, read_side: ReadSide) -> bytes:
    """The process's instruments, then the store's state, in Prometheus' text format."""
    store = CollectorRegistry(auto_describe=False)
    store.register(StoreCollector(ledger, read_side))
    return generate_latest(REGISTRY) + generate_latest(store)
