"""``subledger projections``: run, rebuild and inspect the read models."""

from __future__ import annotations

import contextlib
import signal

import click

from adapters.runner_lock import RunnerLock
from projections.projection import is_permanent
from projections.runner import ProjectionRunner
from service.bootstrap import Service
from service.cli.progress import ProgressBar
from service.cli.runner import fail, with_service
from service.config.collector import freeze_what_started, tune_for_long_running


@click.group(help="run, rebuild and inspect read models")
def projections() -> None:
    pass


@projections.command(help="keep the read models current (a worker)")
@click.option(
    "--exit-if-running",
    is_flag=True,
    help="exit at once if another runner holds the lock (default: wait for it)",
)
@with_service(reading=True)
def run(svc: Service, exit_if_running: bool) -> int:
    read_side = svc.read_side
    if exit_if_running:
        lock = RunnerLock(read_side.settings)
        if not lock.try_acquire():
            fail("another projection runner is active on this store")
            return 1
        lock.release()
    print(f"projections: {', '.join(read_side.names)}; waiting to be the runner", flush=True)
    tune_for_long_running()
    freeze_what_started()
    signal.signal(signal.SIGTERM, lambda *_: read_side.stop_soon())
    with contextlib.suppress(KeyboardInterrupt):
        read_side.run()
    return 0


@projections.command(help="rebuild one read model from 0")
@click.argument("name")
@with_service(reading=True)
def rebuild(svc: Service, name: str) -> int:
    read_side = svc.read_side
    try:
        projection = read_side.projection(name)
    except KeyError as error:
        fail(error.args[0])
        return 1
    if is_permanent(projection):
        fail(
            f"{name} is permanent: sealed once, never rebuilt "
            "(check it with `subledger audit verify`)"
        )
        return 1
    lock = RunnerLock(read_side.settings)
    if not lock.try_acquire():
        fail("a projection runner is active on this store; stop it, then rebuild")
        return 1
    tune_for_long_running()
    try:
        runner = ProjectionRunner(
            read_side.store, read_side.read_log, read_side.ledger.head_position, [projection]
        )
        runner.prepare()
        runner.reset(projection)
        with ProgressBar(f"rebuilding {name}", read_side.ledger.head_position()) as bar:
            runner.catch_up(progress=bar.advance)
        if failed := runner.failures().get(name):
            fail(failed.describe())
            return 1
    finally:
        lock.release()
    return 0


@projections.command(help="each read model's position, lag and failure; exit 1 if one is stopped")
@with_service(reading=True)
def status(svc: Service) -> int:
    read_side = svc.read_side
    positions, failing = read_side.positions(), read_side.failures()
    for name, lag in read_side.lag().items():
        print(f"{name:20} position {positions[name]:>10}  lag {lag}")
    for failure in failing.values():
        print(f"FAILING: {failure.describe()}")
    running = read_side.runner_running()
    print("runner: " + ("a process runs the projections" if running else "none running"))
    return 1 if failing or not running else 0
