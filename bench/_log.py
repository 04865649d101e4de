"""A realistic event log for the benchmarks: real commands of a seeded ledger, copied.

``seed_worlds`` runs real commands through a ``Ledger`` on a controllable clock: accounts
opened over a year, each with a contract (annual or monthly, most with a renewal
scheduled), its first invoice paid a week later, and for some, seats added, a seat
assigned, a product added or the renewal cancelled in the weeks after. It returns each
command's stored events.

``write_copies`` writes copies of those commands into the store with fresh aggregate ids
(every id a state names is replaced too, so a copied contract belongs to its copied
account): real topics, states and histories, at the cost of an INSERT. Copies keep their
template's recorded and effective times, so the book they make spreads over the same
year.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from adapters.clock import ControllableClock
from domain.account import BillingDetails, User
from domain.catalog import Edition
from domain.invoice import Invoice
from domain.period import BillingPeriod
from projections.runner import ProjectionRunner
from projections.store import CONNECTION_ERRORS
from service.ledger.application import Ledger
from service.ledger.context import CommandContext

PAGE = 5000
WORLDS = 50  # template customers, opened evenly over a year
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
STAFF = CommandContext("staff-1", "billing_staff")
ADMIN = CommandContext("ada", "admin")
BILLING = BillingDetails("Acme Corp", "1 Main St", "Springfield", "12345", "US", "ap@acme.example")
ADA = User("ada", "Ada Admin", "ada@acme.example", administrator=True)
EDITIONS = (Edition.ESSENTIALS, Edition.PROFESSIONAL, Edition.ENTERPRISE)

# One command's events, in log order (one transaction).
Command = tuple[StoredEvent, ...]


def catch_up(runner: ProjectionRunner) -> None:
    """``runner.catch_up()``, going on after a lost connection as the runner's own loop
    does (from the positions committed): the shared server may restart under a run."""
    while True:
        try:
            runner.catch_up()
            return
        except CONNECTION_ERRORS as error:
            print(f"  (lost the connection: {type(error).__name__}; going on)", flush=True)
            runner.store.reset()
            time.sleep(2)


@dataclass
class _World:
    """One customer's ids, filled in as its commands run."""

    number: int
    ids: dict[str, UUID] = field(default_factory=dict)


def _world_commands(
    ledger: Ledger, world: _World, opened: datetime
) -> list[tuple[datetime, Callable[[], Any]]]:
    """What one customer does, and when: a contract, a payment, and some changes."""
    n = world.number
    ids = world.ids

    def open_account() -> None:
        ids["account"] = ledger.open_account(
            STAFF, f"Customer {n}", EDITIONS[n % 3], "USD" if n % 4 else "EUR", BILLING, ADA
        ).aggregate_id

    def start() -> None:
        period = BillingPeriod.MONTHLY if n % 3 == 0 else BillingPeriod.ANNUAL
        receipt = ledger.start_subscription(
            ADMIN, ids["account"], {"sales-cloud": 5 + n % 20}, 12, period, auto_renew=n % 4 != 3
        )
        ids["contract"] = receipt.aggregate_id
        (ids["invoice"],) = (
            i for i in receipt.created if isinstance(ledger.repository.get(i), Invoice)
        )

    def pay() -> None:
        invoice = ledger.invoice(ids["invoice"])
        ledger.record_payment(ADMIN, invoice.id, invoice.balance)

    steps: list[tuple[timedelta, Callable[[], Any]]] = [
        (timedelta(0), open_account),
        (timedelta(minutes=5), lambda: ledger.set_payment_method(ADMIN, ids["account"], "pm_visa")),
        (timedelta(minutes=10), start),
        (timedelta(days=7), pay),
    ]
    if n % 2 == 0:
        steps.append(
            (
                timedelta(days=30),
                lambda: ledger.add_licenses(ADMIN, ids["contract"], "sales-cloud", 5),
            )
        )
    steps.append(
        (
            timedelta(days=31),
            lambda: ledger.assign_seat(ADMIN, ids["account"], "sales-cloud", "ada"),
        )
    )
    if n % 5 == 0:
        steps.append(
            (
                timedelta(days=45),
                lambda: ledger.add_product(ADMIN, ids["contract"], "service-cloud", 3),
            )
        )
    if n % 4 == 1:
        steps.append((timedelta(days=60), lambda: ledger.cancel_renewal(ADMIN, ids["contract"])))
    return [(opened + delay, step) for delay, step in steps]


def seed_worlds(
    ledger: Ledger, clock: ControllableClock, worlds: int, days: int = 360
) -> list[Command]:
    """Run ``worlds`` customers' commands in time order (accounts opened evenly over
    ``days``); returns each command's stored events, in log order."""
    schedule: list[tuple[datetime, int, Callable[[], Any]]] = []
    for n in range(worlds):
        opened = clock.now() + timedelta(days=days * n / worlds)
        for at, step in _world_commands(ledger, _World(n), opened):
            heapq.heappush(schedule, (at, len(schedule), step))
    bounds = [ledger.head_position()]
    while schedule:
        at, _, step = heapq.heappop(schedule)
        clock.set(max(at, clock.now()))
        step()
        bounds.append(ledger.head_position())
    logged = ledger.recorder.select_notifications(bounds[0] + 1, bounds[-1] - bounds[0])
    by_position = {
        n.id: StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in logged
    }
    return [
        tuple(by_position[p] for p in range(start + 1, end + 1))
        for start, end in pairwise(bounds)
        if end > start
    ]


class Copier:
    """Copies of template events with fresh ids: one id map per copy."""

    def __init__(self, commands: Sequence[Command]) -> None:
        ids = {_hex(event) for command in commands for event in command}
        # The ids each state names, as the transcoder writes them (``uuid_hex``).
        self._named: dict[tuple[bytes, int], list[bytes]] = {
            (_hex(event), event.originator_version): [i for i in ids if i in event.state]
            for command in commands
            for event in command
        }
        self._maps: dict[int, defaultdict[bytes, UUID]] = defaultdict(lambda: defaultdict(uuid4))

    def copy(self, event: StoredEvent, number: int) -> StoredEvent:
        fresh = self._maps[number]
        state = event.state
        old_id = _hex(event)
        for old in self._named[(old_id, event.originator_version)]:
            state = state.replace(old, fresh[old].hex.encode())
        return StoredEvent(fresh[old_id], event.originator_version, event.topic, state)

    def ids(self, number: int) -> Mapping[bytes, UUID]:
        """Copy ``number``'s ids so far: a template's id (``uuid_hex`` bytes) -> the copy's."""
        return self._maps[number]

    def drop(self, number: int) -> None:
        self._maps.pop(number, None)


def _hex(event: StoredEvent) -> bytes:
    return UUID(str(event.originator_id)).hex.encode()


def write_copies(
    recorder: ApplicationRecorder,
    commands: Sequence[Command],
    events: int,
    interleaved: bool,
    page: int = PAGE,
    copied: Callable[[int, Mapping[bytes, UUID]], None] | None = None,
) -> int:
    """Write at least ``events`` events (whole commands): copies of ``commands``.

    ``interleaved``: in time order, each template command followed by every copy of it,
    so that, as in a real log, an aggregate's next command comes thousands of events
    later. Otherwise one copy after another, each whole (a copy's events close together),
    and ``copied``, if given, is called with each copy's number and its ids (a template's
    id as ``uuid_hex`` bytes -> the copy's) once its commands are taken.
    """
    assert copied is None or not interleaved, "copied: one copy after another only"
    template_events = sum(len(command) for command in commands)
    copies = max(1, -(-events // template_events))
    copier = Copier(commands)
    if interleaved:
        order: Iterator[tuple[int, Command]] = (
            (c, command) for command in commands for c in range(copies)
        )
    else:
        order = ((c, command) for c in range(copies) for command in commands)
    written = 0
    batch: list[StoredEvent] = []
    last_copy = -1
    for number, command in order:
        if not interleaved and number != last_copy:
            if copied is not None and last_copy >= 0:
                copied(last_copy, copier.ids(last_copy))
            copier.drop(last_copy)  # a whole copy is written: its ids are done with
            last_copy = number
        batch += [copier.copy(event, number) for event in command]
        if len(batch) >= page:
            recorder.insert_events(batch)
            written += len(batch)
            batch = []
        if written + len(batch) >= events:
            break
    if batch:
        recorder.insert_events(batch)
        written += len(batch)
    if copied is not None and last_copy >= 0:
        copied(last_copy, copier.ids(last_copy))
    return written


def seed_book(ledger: Ledger, clock: ControllableClock, contracts: int) -> tuple[int, int, float]:
    """A book of about ``contracts`` contracts: the 50 worlds' real commands, then copies
    of them, each command's copies together (not interleaved). Returns the contracts, the
    events copied and the seconds the copying took."""
    commands = seed_worlds(ledger, clock, WORLDS)
    template_events = sum(map(len, commands))
    copies = -(-(contracts - WORLDS) // WORLDS)
    began = time.perf_counter()
    written = write_copies(ledger.recorder, commands, copies * template_events, interleaved=False)
    return WORLDS * (copies + 1), written, time.perf_counter() - began


def read_through(ledger: Ledger) -> int:
    """The whole log read once in pages of 500, nothing decoded: what a scan costs."""
    count, after = 0, 0
    while page := ledger.recorder.select_notifications(after + 1, 500):
        count += len(page)
        after = page[-1].id
    return count
