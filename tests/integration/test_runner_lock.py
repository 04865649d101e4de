"""``RunnerLock.still_held`` on PostgreSQL: a round trip only when the lock's connection
has something to say or ``confirm_every`` has passed, never before every wait."""

from __future__ import annotations

import time

import psycopg
import pytest

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings


def counting_selects(lock: RunnerLock, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    connection = lock._connection
    assert connection is not None
    execute = connection.execute

    def counted(query: str, *args: object, **kwargs: object) -> object:
        sent.append(query)
        return execute(query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "execute", counted)
    return sent


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_held_lock_is_confirmed_with_the_server_once_per_interval(
    store: StoreSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = RunnerLock(store, "still-held-test", confirm_every=0.5)
    assert lock.try_acquire()
    try:
        sent = counting_selects(lock, monkeypatch)
        assert all(lock.still_held() for _ in range(100))
        assert sent == []
        time.sleep(0.6)
        assert lock.still_held()
        assert sent == ["SELECT 1"]
    finally:
        lock.release()


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_lock_whose_session_ended_is_known_lost_at_the_next_check(
    store: StoreSettings,
) -> None:
    lock = RunnerLock(store, "still-held-test", confirm_every=3600)
    assert lock.try_acquire()
    try:
        assert lock._connection is not None
        pid = lock._connection.info.backend_pid
        assert lock.still_held()
        assert store.postgres is not None
        with psycopg.connect(store.postgres.conninfo(), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        while lock.still_held() and time.monotonic() < deadline:
            time.sleep(0.01)  # the server's word takes a moment to arrive
        assert not lock.still_held()
    finally:
        lock.release()
