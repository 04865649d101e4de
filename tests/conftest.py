"""Shared fixtures: the store under test (SQLite and PostgreSQL), a test clock, a Ledger.

Behavioural tests take the ``ledger`` fixture and so run once per store. PostgreSQL
tests each get a fresh schema, dropped afterwards. Without a reachable PostgreSQL they
are skipped with a loud warning, unless SUBLEDGER_TEST_POSTGRES=required (as in CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import PostgresSettings, StoreSettings, parse_postgres_url
from service.ledger.application import Ledger
from service.ledger.context import CommandContext

settings.register_profile(
    "ci",
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

POSTGRES_URL = os.environ.get(
    "SUBLEDGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _postgres_base() -> PostgresSettings:
    return parse_postgres_url(POSTGRES_URL)


_postgres_state: dict[str, str | None] = {}


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers, else why not (checked once per run)."""
    if "reason" not in _postgres_state:
        try:
            with psycopg.connect(_postgres_base().conninfo()) as conn:
                conn.execute("SELECT 1")
            _postgres_state["reason"] = None
        except psycopg.Error as error:
            _postgres_state["reason"] = str(error).strip().splitlines()[0]
    return _postgres_state["reason"]


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason is None:
        return
    message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {reason}"
    if os.environ.get("SUBLEDGER_TEST_POSTGRES") == "required":
        pytest.fail(message + " (SUBLEDGER_TEST_POSTGRES=required)", pytrace=False)
    warnings.warn(f"SKIPPING PostgreSQL tests: {message}", stacklevel=2)
    pytest.skip(message)


class FreshSchema:
    """A PostgreSQL schema of its own for one test, dropped at the end."""

    def __init__(self) -> None:
        base = _postgres_base()
        self.name = f"t_{uuid.uuid4().hex[:16]}"
        self.settings = StoreSettings(
            postgres=PostgresSettings(
                base.host, base.port, base.dbname, base.user, base.password, self.name
            )
        )

    def drop(self) -> None:
        assert self.settings.postgres is not None
        with psycopg.connect(self.settings.postgres.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreSettings]:
    """The settings of an empty store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "ledger.db"
        yield StoreSettings(sqlite_path=str(path))
        return
    require_postgres()
    schema = FreshSchema()
    schema.settings.prepare()
    try:
        yield schema.settings
    finally:
        schema.drop()


@pytest.fixture
def clock() -> ControllableClock:
    return ControllableClock(T0)


@pytest.fixture
def make_ledger(store: StoreSettings, clock: ControllableClock) -> Iterator[Callable[[], Ledger]]:
    """Open (another) Ledger on the store under test; all are closed at the end."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger = Ledger(
            env=store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    return make_ledger()


@pytest.fixture
def staff() -> CommandContext:
    return CommandContext("staff-1", "billing_staff")


@pytest.fixture
def admin() -> CommandContext:
    return CommandContext("ada", "admin")
