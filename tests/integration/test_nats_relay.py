"""The NATS relay against the real NATS server, on both stores.

The stream must hold every public event of the log exactly once, in log order, each as
its CloudEvent with ``Nats-Msg-Id`` = the CloudEvent id: after a plain run, after the
relay's cursor is lost, and after ``subledger relay nats`` is killed with SIGKILL in
the middle of a few thousand events and started again. Each test has a stream (and a
subject prefix) of its own, deleted at the end. Without a reachable NATS server the
tests are skipped with a loud warning, unless SUBLEDGER_TEST_NATS=required (as in CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import pytest
from nats.js.errors import NotFoundError

from adapters.clock import ControllableClock
from adapters.jetstream import BrokerError, BrokerMisconfigured, JetStream
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from projections.cloudevents import is_public
from service.access.tokens import Role, Tokens
from service.config.public_url import DEFAULT_PUBLIC_URL
from service.demo.history import load_demo
from service.ledger.application import Ledger
from service.reads.read_side import read_log, read_store
from service.relay.nats import Relay, StreamNotOurs, to_message
from tests.builders import open_account
from tests.e2e.test_consuming_events_doc import Consumer
from tests.integration.test_projection_faults import (
    ADMIN,
    STAFF,
    CliProcess,
    demo_and_more,
    wait_until,
)

NATS_URL = os.environ.get("SUBLEDGER_TEST_NATS_URL", "nats://127.0.0.1:4222")

# -- the NATS server ----------------------------------------------------------------------

_nats_state: dict[str, str | None] = {}


def nats_unavailable() -> str | None:
    """None when the NATS server answers with JetStream, else why not (checked once)."""
    if "reason" not in _nats_state:

        async def probe() -> None:
            client = await nats.connect(
                NATS_URL, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=2
            )
            try:
                await client.jetstream().account_info()
            finally:
                await client.close()

        try:
            asyncio.run(probe())
            _nats_state["reason"] = None
        except Exception as error:
            _nats_state["reason"] = str(error).strip() or type(error).__name__
    return _nats_state["reason"]


def require_nats() -> None:
    reason = nats_unavailable()
    if reason is None:
        return
    message = f"NATS JetStream at {NATS_URL} is unreachable: {reason}"
    if os.environ.get("SUBLEDGER_TEST_NATS") == "required":
        pytest.fail(message + " (SUBLEDGER_TEST_NATS=required)", pytrace=False)
    warnings.warn(f"SKIPPING NATS relay tests: {message}", stacklevel=2)
    pytest.skip(message)


@dataclass(frozen=True)
class Stored:
    sequence: int
    subject: str
    msg_id: str
    data: bytes


@dataclass(frozen=True)
class Stream:
    """A stream and a subject prefix of this test's own."""

    name: str
    prefix: str

    @property
    def subjects(self) -> str:
        return f"{self.prefix}.>"

    def jetstream(self) -> JetStream:
        return JetStream(NATS_URL, self.name, self.subjects)

    def _call(self, action: Any) -> Any:
        async def run() -> Any:
            client = await nats.connect(NATS_URL, allow_reconnect=False)
            try:
                return await action(client.jetstream())
            finally:
                await client.close()

        return asyncio.run(run())

    def info(self) -> Any:
        return self._call(lambda js: js.stream_info(self.name))

    def last_sequence(self) -> int:
        try:
            return int(self.info().state.last_seq)
        except NotFoundError:
            return 0

    def messages(self) -> list[Stored]:
        """Every message of the stream, by direct get, in stream order."""

        async def read(js: Any) -> list[Stored]:
            info = await js.stream_info(self.name)
            stored = []
            for sequence in range(info.state.first_seq, info.state.last_seq + 1):
                message = await js.get_msg(self.name, sequence, direct=True)
                headers = message.headers or {}
                stored.append(
                    Stored(sequence, message.subject, headers["Nats-Msg-Id"], message.data)
                )
            return stored

        return list(self._call(read))

    def publish(self, subject: str, data: bytes, msg_id: str) -> Any:
        headers = {"Nats-Msg-Id": msg_id}
        return self._call(lambda js: js.publish(subject, data, headers=headers, stream=self.name))

    def delete(self) -> None:
        with suppress(NotFoundError):
            self._call(lambda js: js.delete_stream(self.name))


def new_stream() -> Stream:
    token = uuid4().hex[:12]
    return Stream(f"SUBLEDGER_T_{token.upper()}", f"t{token}.events")


@pytest.fixture
def stream() -> Iterator[Stream]:
    require_nats()
    made = new_stream()
    try:
        yield made
    finally:
        made.delete()


# -- what the stream must hold -------------------------------------------------------------


def expected(ledger: Ledger, stream: Stream) -> list[tuple[str, str, Any]]:
    """(subject, msg id, CloudEvent) of every public event of the log, in log order."""
    messages = [
        to_message(stream.prefix, logged, DEFAULT_PUBLIC_URL)
        for logged in read_log(ledger, 0, ledger.head_position())
        if is_public(logged.event)
    ]
    return [(m.subject, m.msg_id, json.loads(m.data)) for m in messages]


def assert_holds_the_log_once_in_order(stream: Stream, ledger: Ledger) -> None:
    stored = stream.messages()
    assert [m.sequence for m in stored] == list(range(1, len(stored) + 1))
    ids = [m.msg_id for m in stored]
    assert len(ids) == len(set(ids)), "an event is in the stream twice"
    assert [(m.subject, m.msg_id, json.loads(m.data)) for m in stored] == expected(ledger, stream)


def relay_for(store: StoreSettings, ledger: Ledger, stream: Stream, batch_size: int = 50) -> Relay:
    return Relay(
        read_store(store),
        lambda after, limit: read_log(ledger, after, limit),
        stream.jetstream(),
        f"nats:{stream.name}",
        stream.prefix,
        DEFAULT_PUBLIC_URL,
        batch_size,
    )


def close(relay: Relay) -> None:
    assert isinstance(relay.publisher, JetStream)
    relay.publisher.close()
    relay.store.close()


def demo_ledger(store: StoreSettings) -> Ledger:
    env = store.eventsourcing_env()
    ledger, _ = load_demo(
        lambda clock: Ledger(env=env, clock=clock, payment_provider=FakePaymentProvider())
    )
    return ledger


# -- in process ----------------------------------------------------------------------------


def test_the_relay_publishes_every_public_event_once_in_order(
    store: StoreSettings, stream: Stream
) -> None:
    ledger = demo_ledger(store)
    Tokens(ledger).issue(STAFF, Role.INTEGRATION, label="not public")
    relay = relay_for(store, ledger, stream)
    try:
        assert relay.open() == 0
        relay.catch_up()
        assert_holds_the_log_once_in_order(stream, ledger)
        assert relay.cursor().position == ledger.head_position()  # past the token too

        config = stream.info().config
        assert config.subjects == [stream.subjects]
        assert config.duplicate_window >= 120
        first = stream.messages()[0]
        assert first.subject == f"{stream.prefix}.account.AccountOpened.v1"
        assert json.loads(first.data)["type"] == "subledger.account.AccountOpened.v1"

        # Live: more events, published after the ones before.
        account_id = open_account(ledger, STAFF)
        ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
        assert relay.catch_up() == 2
        assert_holds_the_log_once_in_order(stream, ledger)

        # JetStream drops a second message with an id it has (the relay's crash window).
        last = stream.messages()[-1]
        again = stream.publish(last.subject, last.data, last.msg_id)
        assert again.duplicate and again.seq == last.sequence
    finally:
        close(relay)
        ledger.close()


def test_a_relay_that_lost_its_cursor_resumes_after_what_the_stream_holds(
    store: StoreSettings, stream: Stream
) -> None:
    ledger = demo_ledger(store)
    relay = relay_for(store, ledger, stream, batch_size=10)
    try:
        relay.open()
        relay.step()
        relay.step()
        published = stream.last_sequence()
        # Acked, but the cursor is lost (as if the process died before saving it).
        with relay.store.transaction() as sql:
            sql.execute("DELETE FROM relay_cursors")
        assert relay.open() > 0
        assert stream.last_sequence() == published
        relay.catch_up()
        assert_holds_the_log_once_in_order(stream, ledger)
    finally:
        close(relay)
        ledger.close()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_two_relays_at_once_never_double_or_reorder_the_stream(
    store: StoreSettings, stream: Stream
) -> None:
    """As after a lost lock: each batch must follow the stream's tail, or it is refused."""
    ledger = demo_ledger(store)
    relays = [relay_for(store, ledger, stream, batch_size=7) for _ in range(2)]
    refused = 0
    try:
        for relay in relays:
            relay.open()
        while any(relay.at.position < ledger.head_position() for relay in relays):
            for relay in relays:
                try:
                    relay.step()
                except BrokerError:
                    refused += 1
                    relay.open()
        assert refused > 0
        assert_holds_the_log_once_in_order(stream, ledger)
    finally:
        for relay in relays:
            close(relay)
        ledger.close()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_relay_refuses_a_stream_it_does_not_own(
    store: StoreSettings, stream: Stream, tmp_path: Path, clock: ControllableClock
) -> None:
    ledger = demo_ledger(store)
    relay = relay_for(store, ledger, stream)
    other_store = StoreSettings(sqlite_path=str(tmp_path / "other" / "ledger.db"))
    other_store.prepare()
    other = Ledger(
        env=other_store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    open_account(other, STAFF)
    other_relay = relay_for(other_store, other, stream)
    misfit = JetStream(NATS_URL, stream.name, "elsewhere.>")
    try:
        relay.open()
        relay.catch_up()
        # Another ledger's stream, or this ledger restored from an older backup.
        with pytest.raises(StreamNotOurs, match="not this ledger's event"):
            other_relay.open()
        with pytest.raises(BrokerMisconfigured, match="add that subject"):
            misfit.open()
        assert_holds_the_log_once_in_order(stream, ledger)
    finally:
        misfit.close()
        close(other_relay)
        close(relay)
        other.close()
        ledger.close()


# -- the command, killed ---------------------------------------------------------------------


class RelayProcess(CliProcess):
    """``subledger relay nats`` in a process of its own, its output in a file."""

    name = "the relay"
    stop_timeout = 30.0

    def __init__(self, store: StoreSettings, stream: Stream, log: Path, batch_size: int) -> None:
        args = ["--url", NATS_URL, "--stream", stream.name, "--subject-prefix", stream.prefix]
        super().__init__(store, log, "relay", "nats", *args, "--batch-size", str(batch_size))

    def elected(self) -> bool:
        self.assert_alive()
        return "elected" in self.output()


def stored_cursor(store: StoreSettings, stream: Stream) -> int:
    """The stream sequence the relay's stored cursor stands at."""
    reader = read_store(store)
    try:
        with reader.transaction() as sql:
            return int(
                sql.scalar(
                    "SELECT sequence FROM relay_cursors WHERE name = ?", (f"nats:{stream.name}",)
                )
            )
    finally:
        reader.close()


def test_a_relay_killed_mid_stream_resumes_and_the_stream_holds_every_event_once_in_order(
    store: StoreSettings, stream: Stream, tmp_path: Path, record_property: Any
) -> None:
    ledger = demo_and_more(store, accounts=40, per_account=100)  # ~4 000 events
    public = len(expected(ledger, stream))
    relays: list[RelayProcess] = []
    probe = stream.jetstream()  # a connection kept open: it sees each batch's acks at once
    try:
        relays.append(first := RelayProcess(store, stream, tmp_path / "relay-1.log", 20))
        wait_until(lambda: first.assert_alive() or probe.open().sequence > 200, 60, "batches")
        # Right after a batch's acks: the relay may not have saved its cursor yet.
        seen = probe.open().sequence
        wait_until(lambda: probe.open().sequence != seen, 30, "the next batch's acks", 0)
        first.kill()
        killed_at = probe.open().sequence
        assert killed_at < public, "the relay finished before the kill: write more events"
        # Often the kill lands after the acks and before the cursor: the stream is ahead.
        record_property("stream_ahead_of_cursor_by", killed_at - stored_cursor(store, stream))
        relays.append(second := RelayProcess(store, stream, tmp_path / "relay-2.log", 20))
        wait_until(second.elected, 30, "the second relay's election")
        # A standby for the same store and stream waits; it never publishes.
        relays.append(standby := RelayProcess(store, stream, tmp_path / "standby.log", 20))
        wait_until(lambda: "waiting to be the relay" in standby.output(), 30, "the standby")
        wait_until(
            lambda: second.assert_alive() or stream.last_sequence() >= public,
            120,
            f"the stream to reach {public} messages",
        )

        # Live after the catch-up: new events follow (the relay polls, or is woken).
        account_id = open_account(ledger, STAFF)
        ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
        wait_until(lambda: stream.last_sequence() >= public + 2, 30, "the new events")

        standby.stop()
        second.stop()
        assert "elected" not in standby.output()
        assert_holds_the_log_once_in_order(stream, ledger)
    finally:
        for relay in relays:
            relay.kill()
        probe.close()
        ledger.close()


# -- the documented consumer ------------------------------------------------------------------


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_documented_nats_consumer_gets_every_event_once_in_order(
    store: StoreSettings, stream: Stream, tmp_path: Path
) -> None:
    """docs/consuming-events.md's consumer, run as written; killed, it resumes."""
    ledger = demo_ledger(store)
    relay = relay_for(store, ledger, stream)
    cursor = tmp_path / "nats-cursor.txt"
    env = {
        "SUBLEDGER_NATS_URL": NATS_URL,
        "SUBLEDGER_NATS_STREAM": stream.name,
        "SUBLEDGER_NATS_SUBJECTS": stream.subjects,
        "SUBLEDGER_NATS_CURSOR_FILE": str(cursor),
    }

    def printed() -> list[str]:
        return [f"{e['sequence']} {e['type']} {e['subject']}" for *_, e in expected(ledger, stream)]

    def handled_all() -> bool:
        assert consumer is not None and consumer.process is not None
        assert consumer.process.poll() is None, consumer.log()
        return cursor.exists() and cursor.read_text() == str(stream.last_sequence())

    consumer: Consumer | None = None
    try:
        relay.open()
        relay.catch_up()
        consumer = Consumer("nats-consumer", tmp_path, env)
        wait_until(handled_all, 30, "the consumer to handle the stream")
        consumer.kill()
        account_id = open_account(ledger, STAFF)  # while the consumer is down
        ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
        relay.catch_up()
        consumer.start()
        wait_until(handled_all, 30, "the consumer to handle the new events")
        assert consumer.events() == printed(), consumer.log()
    finally:
        if consumer is not None and consumer.process is not None:
            consumer.kill()
        close(relay)
        ledger.close()
