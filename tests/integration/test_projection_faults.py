"""Faults the projection runner must survive: a killed worker, a restarted server.

Real processes on a real store: the worker is ``subledger projections run``, killed
with SIGKILL in the middle of catching up; the server is restarted under a running
worker and a standby; a worker loses its lock while catching up and another is
elected. Each time the read models must end equal to a rebuild from position 0, with
every event applied exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from eventsourcing.persistence import PersistenceError

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.account import User
from projections.projection import is_permanent
from projections.runner import positions
from projections.store import ReaderPool, postgres_connector, sqlite_connector
from service.demo.history import load_demo
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide, build_projections
from tests.builders import open_account

SUBLEDGER = str(Path(sys.executable).with_name("subledger"))
ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff")


# -- the store, from outside the worker -------------------------------------------------


def cli_env(store: StoreSettings) -> dict[str, str]:
    """The environment that points the ``subledger`` command at ``store``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    environ["PYTHONUNBUFFERED"] = "1"
    if store.postgres is None:
        assert store.sqlite_path is not None
        return environ | {"SUBLEDGER_DB": store.sqlite_path}
    pg = store.postgres
    password = f":{quote(pg.password)}" if pg.password else ""
    url = f"postgresql://{quote(pg.user)}{password}@{pg.host}:{pg.port}/{pg.dbname}"
    return environ | {"SUBLEDGER_DATABASE_URL": f"{url}?schema={pg.schema}"}


def reader(store: StoreSettings) -> ReaderPool:
    """A fresh connection per read: it survives a server restart, and never takes a lock."""
    if store.postgres is not None:
        pg = store.postgres
        return ReaderPool(postgres_connector(pg.conninfo(), pg.schema), "postgres")
    assert store.sqlite_path is not None
    return ReaderPool(sqlite_connector(store.read_sqlite_path), "sqlite")


def prepare(store: StoreSettings, ledger: Ledger) -> None:
    """Create the read models' tables at position 0, as any process on the store would."""
    ReadSide(store, ledger).stop()


def position(store: StoreSettings, name: str = "audit_trail") -> int:
    with reader(store).transaction() as sql:
        return int(sql.scalar("SELECT position FROM projection_positions WHERE name = ?", (name,)))


def snapshot(store: StoreSettings, ledger: Ledger) -> dict[str, Counter[tuple[object, ...]]]:
    """Every row of every projection's tables, and every position."""
    projections = build_projections(ledger)
    with reader(store).transaction() as sql:
        rows = {
            table: Counter(tuple(row) for row in sql.execute(f"SELECT * FROM {table}").fetchall())
            for table in (t for p in projections for t in p.tables)
        }
        rows["positions"] = Counter(positions(sql, [p.name for p in projections]).items())
    return rows


def assert_audit_trail_is_whole(store: StoreSettings, upto: int) -> None:
    """One row per event of the log up to ``upto``: none missing, none twice, none beyond.

    Compared with the log's own positions, not with 1..upto: on PostgreSQL a write that
    aborts after taking its position (a stale version, or a server restart mid-write)
    leaves a hole, since sequences are not transactional. Order is kept; holes are never
    filled later, so a cursor never misses an event because of one."""
    with reader(store).transaction() as sql:
        projected = [
            row[0]
            for row in sql.execute("SELECT position FROM audit_events ORDER BY position").fetchall()
        ]
    ledger = Ledger(
        env=store.eventsourcing_env(), clock=SystemClock(), payment_provider=FakePaymentProvider()
    )
    try:
        logged = [n.id for n in ledger.recorder.select_notifications(1, upto, stop=upto)]
    finally:
        ledger.close()
    assert projected == logged


def assert_equals_a_rebuild(store: StoreSettings, ledger: Ledger) -> None:
    before = snapshot(store, ledger)
    for projection in build_projections(ledger):
        if is_permanent(projection):
            continue  # the hash chain is never rebuilt: the snapshot shows it unchanged
        rebuilt = run_cli(store, "projections", "rebuild", projection.name)
        assert rebuilt.returncode == 0, rebuilt.stderr
    assert snapshot(store, ledger) == before


def run_cli(store: StoreSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUBLEDGER, *args], env=cli_env(store), capture_output=True, text=True, timeout=120
    )


# -- workers and waiting ----------------------------------------------------------------


class CliProcess:
    """A ``subledger`` command in a process of its own, its output in a file."""

    name = "the command"
    stop_timeout = 20.0

    def __init__(self, store: StoreSettings, log: Path, *args: str) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [SUBLEDGER, *args], env=cli_env(store), stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def assert_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"{self.name} exited with {code}:\n{self.output()}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it: it finishes its batch and exits 0."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        assert code == 0, f"{self.name} exited with {code}:\n{self.output()}"
        assert "Traceback" not in self.output(), self.output()


class Worker(CliProcess):
    name = "the worker"

    def __init__(self, store: StoreSettings, log: Path) -> None:
        super().__init__(store, log, "projections", "run")

    def started(self) -> bool:
        self.assert_alive()
        return "waiting to be the runner" in self.output()


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def catching_up(store: StoreSettings, head: int) -> bool:
    """True once the worker is past its first batch; it must not have caught up yet."""
    reached = position(store)
    assert reached < head, "the worker caught up before the test could act: write more events"
    return reached > 0


def wait_for_head(store: StoreSettings, head: int, workers: list[Worker], timeout: float) -> None:
    def reached() -> bool:
        for worker in workers:
            worker.assert_alive()
        return position(store) >= head

    wait_until(reached, timeout, f"the projections to reach position {head}")


# -- writing ----------------------------------------------------------------------------


def demo_and_more(store: StoreSettings, accounts: int, per_account: int) -> Ledger:
    """The demo history, then ``accounts`` accounts with ``per_account`` events each.

    Each account's events are saved in one transaction, so ten thousand events take
    about a second to write, and several to project: time to catch a worker mid-way.
    """
    env = store.eventsourcing_env()
    ledger, _ = load_demo(
        lambda clock: Ledger(env=env, clock=clock, payment_provider=FakePaymentProvider())
    )
    for _ in range(accounts):
        account = ledger.account(open_account(ledger, STAFF))
        for n in range(per_account - 1):
            cause = ADMIN.cause(ledger.clock.now())
            if n % 2:
                account.set_payment_method(f"pm_{n}", cause)
            else:
                account.add_user(User(f"u{n}", f"User {n}", f"u{n}@acme.example"), cause)
        ledger.save(account)
    return ledger


def test_a_worker_killed_mid_batch_resumes_and_equals_a_rebuild(
    store: StoreSettings, tmp_path: Path
) -> None:
    ledger = demo_and_more(store, accounts=100, per_account=100)  # ~10 000 events
    head = ledger.head_position()
    workers: list[Worker] = []
    try:
        prepare(store, ledger)
        workers.append(first := Worker(store, tmp_path / "worker-1.log"))
        # Past its first batch and still catching up: right after a commit, it is
        # inside the next batch.
        wait_until(lambda: catching_up(store, head), 60, "the worker's first batch")
        seen = position(store)
        wait_until(lambda: position(store) != seen, 30, "the worker's next batch", 0.005)
        first.kill()
        killed_at = position(store)
        assert killed_at < head, "the worker finished before the kill: write more events"
        assert_audit_trail_is_whole(store, killed_at)  # no partial batch survived

        workers.append(second := Worker(store, tmp_path / "worker-2.log"))
        wait_for_head(store, head, [second], timeout=120)
        second.stop()
        assert_audit_trail_is_whole(store, head)
        assert_equals_a_rebuild(store, ledger)
    finally:
        for worker in workers:
            worker.kill()
        ledger.close()


# -- restarting PostgreSQL ----------------------------------------------------------------


def local_cluster(port: int) -> tuple[str, str] | None:
    """(version, name) of the Debian-managed cluster serving ``port``, if it is local."""
    if shutil.which("pg_lsclusters") is None:
        return None
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        version, name, cluster_port, *_ = line.split()
        if cluster_port == str(port):
            return version, name
    return None


def pg_ctlcluster(cluster: tuple[str, str], action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "-m", "fast", *cluster, action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def accepts_connections(store: StoreSettings) -> bool:
    assert store.postgres is not None
    try:
        with psycopg.connect(store.postgres.conninfo(), connect_timeout=1) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


@contextmanager
def server_running_afterwards(store: StoreSettings, cluster: tuple[str, str]) -> Iterator[None]:
    """Whatever happens inside, the server is up again at the end (others share it)."""
    try:
        yield
    finally:
        if not accepts_connections(store):
            with suppress(subprocess.CalledProcessError):  # 2: it is starting already
                pg_ctlcluster(cluster, "start")
            wait_until(lambda: accepts_connections(store), 60, "PostgreSQL to start", 0.2)


def lock_holders(store: StoreSettings) -> list[int]:
    """The server sessions holding the store's runner lock."""
    key = RunnerLock(store)._key() & 0xFFFF_FFFF_FFFF_FFFF
    with reader(store).transaction() as sql:
        rows = sql.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = ? AND objid = ? AND objsubid = 1",
            (key >> 32, key & 0xFFFF_FFFF),
        ).fetchall()
    return [int(row[0]) for row in rows]


def started_at(store: StoreSettings) -> object:
    with reader(store).transaction() as sql:
        return sql.scalar("SELECT pg_postmaster_start_time()")


class Writer(threading.Thread):
    """Keeps writing through the Ledger, retrying each write that fails."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(name="writer", daemon=True)
        self.ledger = ledger
        self.written = 0
        self.error: BaseException | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.wait(0.005):
                try:
                    account_id = open_account(self.ledger, STAFF)
                    self.ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
                    self.written += 2
                except PersistenceError:  # the server is away: write again shortly
                    self._stopping.wait(0.1)
        except BaseException as error:
            self.error = error

    def has_written(self, count: int) -> bool:
        if self.error is not None:
            raise AssertionError("the writer failed") from self.error
        return self.written >= count

    def stop(self) -> None:
        self._stopping.set()
        if self.ident is not None:
            self.join(timeout=30)
        assert not self.is_alive(), "the writer is stuck"
        if self.error is not None:
            raise AssertionError("the writer failed") from self.error


@pytest.mark.postgres
@pytest.mark.serial  # restarts the shared server: run alone, after the parallel run
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_the_runner_resumes_by_itself_after_postgres_restarts(
    store: StoreSettings, tmp_path: Path
) -> None:
    if os.environ.get("SUBLEDGER_TEST_RESTART_POSTGRES") != "yes":
        # Restarting the shared server breaks every other test run on this machine.
        pytest.skip(
            "restarts the shared PostgreSQL: `make test` runs it alone with "
            "SUBLEDGER_TEST_RESTART_POSTGRES=yes"
        )
    assert store.postgres is not None
    cluster = local_cluster(store.postgres.port)
    if cluster is None:
        pytest.skip(f"cannot restart the server on port {store.postgres.port}: not a local cluster")
    ledger = Ledger(
        env=store.eventsourcing_env(), clock=SystemClock(), payment_provider=FakePaymentProvider()
    )
    writer = Writer(ledger)
    workers: list[Worker] = []
    try:
        prepare(store, ledger)
        workers.append(Worker(store, tmp_path / "active.log"))
        writer.start()
        wait_until(lambda: writer.has_written(100), 60, "writes before the restart")
        wait_for_head(store, ledger.head_position(), workers, timeout=60)
        # A second worker waits for the lock: after the restart either may run, never both.
        workers.append(Worker(store, tmp_path / "standby.log"))
        wait_until(workers[-1].started, 30, "the standby worker to start")
        first_start, before = started_at(store), ledger.head_position()
        with server_running_afterwards(store, cluster):
            pg_ctlcluster(cluster, "stop")
            time.sleep(1)  # the writer's attempts meanwhile wait or fail, and are retried
            pg_ctlcluster(cluster, "start")
            wait_until(lambda: accepts_connections(store), 60, "PostgreSQL to start", 0.2)
        assert started_at(store) != first_start
        written = writer.written
        wait_until(lambda: writer.has_written(written + 100), 60, "writes after the restart")
        writer.stop()
        head = ledger.head_position()
        assert head > before

        wait_for_head(store, head, workers, timeout=60)
        assert_audit_trail_is_whole(store, head)
        for worker in workers:
            worker.stop()
        assert_equals_a_rebuild(store, ledger)
    finally:
        for worker in workers:  # they hold locks that would block dropping the schema
            worker.kill()
        with suppress(AssertionError):
            writer.stop()
        ledger.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_runner_that_lost_its_lock_mid_catch_up_never_applies_an_event_twice(
    store: StoreSettings, tmp_path: Path
) -> None:
    ledger = demo_and_more(store, accounts=100, per_account=100)
    head = ledger.head_position()
    workers: list[Worker] = []
    try:
        prepare(store, ledger)
        workers.append(first := Worker(store, tmp_path / "first.log"))
        wait_until(lambda: catching_up(store, head), 60, "the first worker's first batch")
        (holder,) = lock_holders(store)
        with reader(store).transaction() as sql:  # its lock's session dies, nothing else
            sql.execute("SELECT pg_terminate_backend(?)", (holder,))
        workers.append(Worker(store, tmp_path / "second.log"))
        wait_until(lambda: len(lock_holders(store)) == 1, 30, "the second worker's election")
        # The first notices only at its next wait, after catching up: both run at once.
        assert "lost the projection lock" not in first.output(), "catch-up too short"
        wait_for_head(store, head, workers, timeout=120)
        assert_audit_trail_is_whole(store, head)
        for worker in workers:
            worker.stop()
        assert_equals_a_rebuild(store, ledger)
    finally:
        for worker in workers:
            worker.kill()
        ledger.close()
