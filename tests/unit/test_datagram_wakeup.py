"""A SQLite store's runner in another process is woken by the writers' datagrams: the one
for its store and its name only; with nobody listening, announcing costs nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from adapters.wakeup import DatagramWakeup, Pulse

pytestmark = pytest.mark.skipif(not DatagramWakeup.supported, reason="Linux only")


def waited(receiver: DatagramWakeup, announce: DatagramWakeup, timeout: float) -> float:
    """How long ``receiver.wait(timeout)`` took while ``announce`` announced once."""
    receiver.wait(0.01)  # listening from here on
    sender = threading.Timer(0.2, announce.announce)
    began = time.monotonic()
    sender.start()
    receiver.wait(timeout)
    sender.join()
    return time.monotonic() - began


def test_an_announcement_wakes_the_runner_of_that_store(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    runner = DatagramWakeup(db, "projection runner")
    try:
        assert waited(runner, DatagramWakeup(db, "projection runner"), 20) < 10
        # another store's, or another worker's, is not heard: the wait runs out
        other_store = DatagramWakeup(str(tmp_path / "other.db"), "projection runner")
        assert waited(runner, other_store, 1) >= 1
        assert waited(runner, DatagramWakeup(db, "webhook worker"), 1) >= 1
    finally:
        runner.close()


def test_a_second_listener_falls_back_to_its_pulse_and_nobody_listening_is_fine(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "ledger.db")
    DatagramWakeup(db, "projection runner").announce()  # nobody listens: dropped
    first = DatagramWakeup(db, "projection runner")
    local = Pulse()
    second = DatagramWakeup(db, "projection runner", local)
    try:
        first.wait(0.01)
        threading.Timer(0.2, local.pulse).start()
        began = time.monotonic()
        second.wait(20)  # cannot bind the name the first holds: waits on its pulse
        assert time.monotonic() - began < 10
    finally:
        first.close()
        second.close()
